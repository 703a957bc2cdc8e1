//go:build !linux

package proxy

// initPeek has nothing to prepare where no non-blocking peek is available.
func (pc *pconn) initPeek() {}

// alive cannot peek without blocking here; a stale connection is found on
// use and replaced then.
func (pc *pconn) alive() bool { return true }
