//go:build linux

package main

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// Reload storm settings.
const (
	stormReloads    = 100
	stormBrokenEach = 10 // every 10th file is broken
	stormGap        = 50 * time.Millisecond
	stormClients    = 32
	// stormCountWait bounds the wait for one reload to show in the
	// metrics before the next SIGHUP; ferrum reads one signal at a time
	// and a second SIGHUP sent during a reload could be merged into it.
	stormCountWait = 3 * time.Second
)

// reloadMeasure is what reload_storm saw.
type reloadMeasure struct {
	// sent is the SIGHUPs sent, broken how many of them came with a broken
	// file; planned is what the storm meant to send.
	planned, sent, broken int
	// uncounted is the SIGHUPs whose reload never showed in the metrics.
	uncounted int
	// alive is whether ferrum ran to the end; exit says how it ended if
	// not, and diedAt is the number of SIGHUPs sent when it was found
	// dead, lastKind what the last file was.
	alive    bool
	exit     string
	diedAt   int
	lastKind string
	// success and failure are the reloads counted in
	// ferrum_proxy_config_reloads_total during the storm; scraped is false
	// when the final scrape failed.
	success, failure float64
	scraped          bool
	// load is the traffic on the route present in both configs.
	load tally
}

func judgeReload(m reloadMeasure) verdict {
	j := newJudge("reload_storm")
	j.note("sighups", m.sent)
	j.note("broken", m.broken)
	j.note("reloads_ok", m.success)
	j.note("reloads_failed", m.failure)
	j.note("requests", m.load.requests)
	j.note("errors", m.load.failures())
	j.need(m.alive, "ferrum died after SIGHUP %d (last file %s): %s", m.diedAt, m.lastKind, m.exit)
	j.need(m.sent == m.planned, "sent %d of %d SIGHUPs", m.sent, m.planned)
	j.need(m.load.requests > 0, "no request completed during the storm")
	j.need(m.load.failures() == 0, "%d requests failed on the stable route (%v)", m.load.failures(), m.load.samples)
	if m.scraped {
		j.need(m.failure == float64(m.broken), "reloads_total{result=\"failure\"} grew by %v, want %d", m.failure, m.broken)
		j.need(m.success == float64(m.sent-m.broken), "reloads_total{result=\"success\"} grew by %v, want %d", m.success, m.sent-m.broken)
	} else if m.alive {
		j.need(false, "could not read the reload counters at the end")
	}
	j.need(m.uncounted == 0, "%d SIGHUPs never showed in the reload counters within %v", m.uncounted, stormCountWait)
	return j.verdict()
}

// stormConfigs are the two valid configs the storm alternates between:
// both have /stable on a and b; one adds backend c to it and the route
// /new on c, the other has the route /gone on a instead.
func stormConfigs(a, b, c string) [2]conf {
	mk := func(extra routeConf, stable ...string) conf {
		k := baseConf("reload_storm: SIGHUPs under load")
		k.health = []kv{{"interval", "2s"}, {"timeout", "1s"}}
		k.routes = []routeConf{{prefix: "/stable", backends: stable}, extra}
		return k
	}
	return [2]conf{
		mk(routeConf{prefix: "/gone", backends: []string{a}}, a, b),
		mk(routeConf{prefix: "/new", backends: []string{c}}, a, b, c),
	}
}

// reloadCount reads ferrum_proxy_config_reloads_total by result; ok is
// false when the scrape failed.
func reloadCount(ctx context.Context, base string) (success, failure float64, ok bool) {
	m, err := scrape(ctx, base)
	if err != nil {
		return 0, 0, false
	}
	return m.sum("ferrum_proxy_config_reloads_total", "result", "success"),
		m.sum("ferrum_proxy_config_reloads_total", "result", "failure"), true
}

func reloadStorm(r *run) verdict {
	var urls [3]string
	for i, name := range []string{"a", "b", "c"} {
		b, err := r.localBackend(name, nil, nil)
		if err != nil {
			return failed("reload_storm", err)
		}
		urls[i] = b.url
	}
	configs := stormConfigs(urls[0], urls[1], urls[2])
	f, err := r.startFerrum(configs[0], wrapper{})
	if err != nil {
		return failed("reload_storm", err)
	}
	okBefore, failBefore, ok := reloadCount(r.ctx, f.base)
	if !ok {
		return failed("reload_storm", errors.New("ferrum's /metrics could not be read before the storm"))
	}
	load, err := r.startLoader(f.base+"/stable/x", stormClients)
	if err != nil {
		return failed("reload_storm", err)
	}
	sleep(r.ctx, r.dur(time.Second, 500*time.Millisecond))

	m := reloadMeasure{planned: stormReloads}
	current, valid := configs[0], 0
	for i := 1; i <= stormReloads && r.ctx.Err() == nil; i++ {
		if !f.Alive() {
			break
		}
		var text string
		if i%stormBrokenEach == 0 {
			kind := brokenKind((i/stormBrokenEach - 1) % int(brokenKinds))
			text, m.lastKind = broken(current, kind), kind.String()
			m.broken++
		} else {
			valid++
			current = configs[valid%2]
			text, m.lastKind = current.toml(), "valid"
		}
		if err := writeFileAtomic(f.confPath, text); err != nil {
			return failed("reload_storm", err)
		}
		sentAt := time.Now()
		if f.Signal(syscall.SIGHUP) != nil {
			break
		}
		m.sent++
		before := okBefore + failBefore + float64(m.sent-1)
		if !pollFor(r.ctx, stormCountWait, 5*time.Millisecond, func() bool {
			s, fl, ok := reloadCount(r.ctx, f.base)
			return !f.Alive() || ok && s+fl > before
		}) {
			m.uncounted++
		}
		if !f.Alive() {
			m.uncounted = 0 // the death, not the counters, is the finding
			break
		}
		sleep(r.ctx, time.Until(sentAt.Add(stormGap)))
	}
	sleep(r.ctx, 500*time.Millisecond)
	m.load = load.stop()
	m.alive = f.Alive()
	if !m.alive {
		m.exit, m.diedAt = f.Status(), m.sent
	}
	if s, fl, ok := reloadCount(r.ctx, f.base); ok {
		m.success, m.failure, m.scraped = s-okBefore, fl-failBefore, true
	}
	r.logf("%d SIGHUPs, %d broken; ferrum alive: %v", m.sent, m.broken, m.alive)
	return judgeReload(m)
}
