package proxy

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"ferrum/loadtest/fakebackend"
)

func TestConsistentHashRoutesByKey(t *testing.T) {
	var urls []string
	for i := 0; i < 4; i++ {
		urls = append(urls, backend(t, fakebackend.Options{Name: fmt.Sprintf("b%d", i)}))
	}
	cases := []struct {
		key  string
		send func(req *http.Request, v string)
	}{
		{"header:X-User", func(req *http.Request, v string) { req.Header.Set("X-User", v) }},
		{"cookie:session", func(req *http.Request, v string) { req.Header.Set("Cookie", "a=1; session="+v+"; z=2") }},
		{"query:user", func(req *http.Request, v string) { req.URL.RawQuery = "x=1&user=" + v }},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			h := startProxy(t, routeConf("/", urls...)+fmt.Sprintf("balancing = \"consistent_hash\"\nhash_key = %q\n", c.key))
			owners := map[string]bool{}
			for u := 0; u < 20; u++ {
				v := fmt.Sprintf("user-%d", u)
				first := ""
				for k := 0; k < 5; k++ {
					req, _ := http.NewRequest(http.MethodGet, h.url+"/x", nil)
					c.send(req, v)
					resp, _ := do(t, req)
					got := resp.Header.Get("X-Backend")
					if first == "" {
						first = got
					} else if got != first {
						t.Fatalf("key %s went to %s then %s", v, first, got)
					}
				}
				owners[first] = true
			}
			if len(owners) < 3 {
				t.Errorf("20 keys landed on only %d of 4 backends", len(owners))
			}
		})
	}
}

func TestWeightsSpreadTraffic(t *testing.T) {
	heavy := backend(t, fakebackend.Options{Name: "heavy"})
	light := backend(t, fakebackend.Options{Name: "light"})
	conf := fmt.Sprintf("[[route]]\npath_prefix = \"/\"\nbackends = [{ url = %q, weight = 3 }, %q]\n", heavy, light)
	h := startProxy(t, conf)
	counts := map[string]int{}
	for i := 0; i < 40; i++ {
		resp, _ := h.get("/x")
		counts[resp.Header.Get("X-Backend")]++
	}
	if counts["heavy"] != 30 || counts["light"] != 10 {
		t.Fatalf("weights 3:1 over 40 requests gave %v, want 30/10", counts)
	}
}

// TestRetryBudgetBoundsRetries: a pool that answers 503 to everything, hit
// by 200 clients at once, gets retries only within the route's budget, and
// no retry is skipped at budget_percent = 100.
func TestRetryBudgetBoundsRetries(t *testing.T) {
	a := backend(t, fakebackend.Options{Name: "a", Status: 503})
	b := backend(t, fakebackend.Options{Name: "b", Status: 503})
	for _, budget := range []int{20, 100} {
		t.Run(fmt.Sprintf("budget_percent=%d", budget), func(t *testing.T) {
			conf := fmt.Sprintf("[health]\nmax_ejected_percent = 0\n[retry]\nmax_attempts = 2\nbudget_percent = %d\nmin_retry_concurrency = 3\n", budget) +
				routeConf("/", a, b)
			h := startProxy(t, conf)
			const clients, each = 200, 5
			c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			defer c.CloseIdleConnections()
			var wg sync.WaitGroup
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := 0; k < each; k++ {
						resp, err := c.Get(h.url + "/x")
						if err != nil {
							t.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != 503 {
							t.Errorf("status %d, want the backends' 503", resp.StatusCode)
						}
					}
				}()
			}
			wg.Wait()
			mfs := h.scrape()
			requests := value(mfs, "ferrum_proxy_requests_total", "route=/")
			attempts := value(mfs, "ferrum_proxy_backend_requests_total", "route=/")
			retries := value(mfs, "ferrum_proxy_retries_total", "route=/")
			skipped := value(mfs, "ferrum_proxy_retries_skipped_total", "route=/")
			t.Logf("requests %v, attempts %v (%.2fx), retries %v, skipped %v", requests, attempts, attempts/requests, retries, skipped)
			if requests != clients*each {
				t.Fatalf("requests_total = %v, want %d", requests, clients*each)
			}
			if retries+skipped != requests {
				t.Errorf("retries %v + skipped %v != requests %v: every request wanted one retry", retries, skipped, requests)
			}
			switch budget {
			case 20:
				if skipped == 0 {
					t.Errorf("no retry was skipped: the budget did not bind")
				}
				// Retries in flight stay within 20% of the requests in
				// flight, retrying ones included: at most 25% of first
				// attempts, plus min_retry_concurrency's floor as the
				// run tails off. Unbudgeted, this would be 2x.
				if attempts > 1.3*requests {
					t.Errorf("upstream attempts %v exceed 1.3 x %v client requests", attempts, requests)
				}
			case 100:
				if skipped != 0 {
					t.Errorf("%v retries skipped at budget_percent = 100", skipped)
				}
			}
		})
	}
}
