package main

import (
	"fmt"
	"strconv"
	"strings"
)

// backendSpec is one backend process a scenario starts, before its address
// is known.
type backendSpec struct {
	name string
	// args are flags for loadtest/backend beyond -listen and -name.
	args []string
}

// scenario is one workload, run the same way through every target.
type scenario struct {
	name  string
	about string
	// backends are started once per scenario and shared by every target,
	// so each target meets the same backends in the same state.
	backends []backendSpec
	// routes is the number of routes. 1 is a catch-all "/" over every
	// backend; more are "/r0" ... "/r<routes-1>", each over every backend.
	routes int
	// scriptRoutes, when above routes, makes the wrk script cycle over the
	// paths of that many routes (/r0/item ...) while the proxies have
	// routes routes: many_routes_baseline sends many_routes' very requests
	// to a single catch-all route, so the two differ in routing alone.
	scriptRoutes int
	// retrying marks a scenario where retries are the point: passive
	// ejection is off in every proxy and ferrum's retry budget is lifted,
	// so every request that meets the failing backend pays a retry.
	retrying bool
	// path is the request path when the scenario has no request-picking
	// script.
	path string
	// uploadBytes > 0 makes every request a POST with a body this long.
	uploadBytes int
	// direct is the index of the backend the `direct` target talks to:
	// a healthy one.
	direct int
	// drill, when set, makes the scenario a restart drill (drill.go): one
	// run of its own setup under wrk, judged PASS or FAIL, instead of a
	// benchmark pass per target.
	drill drillKind
}

// kib is a KiB, for body sizes.
const kib = 1024

// manyRoutes is the route count of the many_routes scenario.
const manyRoutes = 500

// allScenarios are the scenarios in the order they run.
var allScenarios = []scenario{
	{
		name:     "healthy_get",
		about:    "GET through two healthy backends, 1 KiB bodies",
		backends: twins("get", "-body-bytes", strconv.Itoa(kib)),
		routes:   1,
		path:     "/bench",
	},
	{
		name:     "large_response",
		about:    "GET through two healthy backends, 256 KiB bodies",
		backends: twins("large", "-body-bytes", strconv.Itoa(256*kib)),
		routes:   1,
		path:     "/bench",
	},
	{
		name:  "retry_get",
		about: "GET over one backend that always answers 503 and one healthy; retries on 503, no passive ejection",
		backends: []backendSpec{
			{name: "retry-503", args: []string{"-status", "503", "-health-status", "200"}},
			{name: "retry-ok", args: []string{"-body-bytes", strconv.Itoa(kib)}},
		},
		routes:   1,
		retrying: true,
		path:     "/bench",
		direct:   1,
	},
	{
		name:        "upload_post",
		about:       "POST of 64 KiB bodies through two healthy backends",
		backends:    twins("upload", "-body-bytes", strconv.Itoa(kib)),
		routes:      1,
		path:        "/bench",
		uploadBytes: 64 * kib,
	},
	{
		name:  "many_routes",
		about: "GET spread over 500 routes, each over the same 4 backends, 1 KiB bodies",
		backends: []backendSpec{
			{name: "routes-a", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-b", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-c", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-d", args: []string{"-body-bytes", strconv.Itoa(kib)}},
		},
		routes: manyRoutes,
		path:   "/r0/item",
	},
	{
		name:  "many_routes_baseline",
		about: "many_routes' requests (the same 500 paths, the same wrk script) to one catch-all route over the same 4 backends",
		backends: []backendSpec{
			{name: "routes-a", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-b", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-c", args: []string{"-body-bytes", strconv.Itoa(kib)}},
			{name: "routes-d", args: []string{"-body-bytes", strconv.Itoa(kib)}},
		},
		routes:       1,
		scriptRoutes: manyRoutes,
		path:         "/r0/item",
	},
}

// twins is two backends named prefix-a and prefix-b with the same flags.
func twins(prefix string, args ...string) []backendSpec {
	return []backendSpec{{name: prefix + "-a", args: args}, {name: prefix + "-b", args: args}}
}

// scenarioByName finds a scenario in allScenarios or drillScenarios.
func scenarioByName(name string) (scenario, bool) {
	for _, list := range [][]scenario{allScenarios, drillScenarios} {
		for _, s := range list {
			if s.name == name {
				return s, true
			}
		}
	}
	return scenario{}, false
}

// routePrefix is the path_prefix of route i.
func (s scenario) routePrefix(i int) string {
	if s.routes == 1 {
		return "/"
	}
	return "/r" + strconv.Itoa(i)
}

// hasScript reports whether wrk needs a Lua script for this scenario.
func (s scenario) hasScript() bool {
	return s.uploadBytes > 0 || s.pathCount() > 1
}

// pathCount is the number of route paths the wrk script cycles over.
func (s scenario) pathCount() int { return max(s.routes, s.scriptRoutes) }

// luaScript is the wrk script for the scenario, or "" when plain GETs of
// path do. Scripts build their requests once in init, so wrk's per-request
// cost stays close to that of a scriptless run.
func (s scenario) luaScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- wrk script for ferrum's %s load-test scenario: %s.\n", s.name, s.about)
	switch {
	case s.uploadBytes > 0:
		fmt.Fprintf(&b, `wrk.method = "POST"
wrk.body = string.rep("u", %d)
wrk.headers["Content-Type"] = "application/octet-stream"
`, s.uploadBytes)
	case s.pathCount() > 1:
		// setup runs once per thread in wrk's main Lua state and hands each
		// thread its own starting point, so the threads do not walk the
		// routes in step.
		fmt.Fprintf(&b, `local threads = 0
function setup(thread)
  thread:set("offset", threads * 137)
  threads = threads + 1
end

local requests = {}
local n = 0
function init(args)
  for i = 0, %d do
    requests[#requests + 1] = wrk.format("GET", "/r" .. i .. "/item")
  end
  n = (offset or 0) %% #requests
end

function request()
  n = n %% #requests + 1
  return requests[n]
end
`, s.pathCount()-1)
	default:
		return ""
	}
	return b.String()
}
