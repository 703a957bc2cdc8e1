//go:build !linux

package proxy

import "net"

// alive cannot peek without blocking here; a stale connection is found on
// use and replaced then.
func alive(net.Conn) bool { return true }
