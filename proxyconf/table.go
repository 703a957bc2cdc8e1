package proxyconf

import (
	"fmt"
	"strings"
)

// RouteTable renders the configuration for `ferrum -check`: the listen
// address (and the debug one when set), then one block per route in file
// order with its prefix, balancing, strip_prefix, preserve_host and backends,
// each backend's weight shown when it is not 1. The text is plain, aligned
// and the same for the same Config; it ends with a newline.
func (c *Config) RouteTable() string {
	var b strings.Builder
	row := func(indent, label, value string) {
		fmt.Fprintf(&b, "%-17s%s\n", indent+label, value)
	}
	row("", "listen", c.Server.Listen)
	if c.Debug.Listen != "" {
		row("", "debug listen", c.Debug.Listen)
	}
	for _, r := range c.Routes {
		fmt.Fprintf(&b, "\nroute %s\n", r.PathPrefix)
		balancing := string(r.Balancing)
		if r.Balancing == ConsistentHash {
			balancing += " by " + hashKeyText(r.HashKey)
		}
		row("  ", "balancing", balancing)
		row("  ", "strip_prefix", fmt.Sprint(r.StripPrefix))
		row("  ", "preserve_host", fmt.Sprint(r.PreserveHost))
		width := 0
		for _, be := range r.Backends {
			width = max(width, len(be.URL))
		}
		for _, be := range r.Backends {
			if be.Weight == 1 {
				row("  ", "backend", be.URL)
			} else {
				row("  ", "backend", fmt.Sprintf("%-*s  weight %d", width, be.URL, be.Weight))
			}
		}
	}
	return b.String()
}

// hashKeyText writes a hash key back as hash_key spells it.
func hashKeyText(k HashKey) string {
	if k.Name == "" {
		return string(k.Source)
	}
	return string(k.Source) + ":" + k.Name
}
