package proxy

import "sync"

// idleStack holds a backend's idle connections, the most recently used on
// top. Taking from the top keeps the busy set as small as the load needs:
// the connections at the bottom stay idle until idle_conn_timeout closes
// them, so a pool shrinks after a burst, and the backend keeps serving the
// same few connections (and their buffers) while they stay warm.
type idleStack struct {
	mu    sync.Mutex
	conns []*pconn // bottom first; cap is max_idle_conns_per_backend
}

// push puts pc on top; false when the stack is full.
func (s *idleStack) push(pc *pconn) bool {
	s.mu.Lock()
	ok := len(s.conns) < cap(s.conns)
	if ok {
		s.conns = append(s.conns, pc)
	}
	s.mu.Unlock()
	return ok
}

// pop takes the top connection; nil when there is none.
func (s *idleStack) pop() *pconn {
	s.mu.Lock()
	n := len(s.conns)
	if n == 0 {
		s.mu.Unlock()
		return nil
	}
	pc := s.conns[n-1]
	s.conns[n-1] = nil
	s.conns = s.conns[:n-1]
	s.mu.Unlock()
	return pc
}

// len is how many connections are idle.
func (s *idleStack) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// takeAll empties the stack and returns what it held.
func (s *idleStack) takeAll() []*pconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]*pconn, len(s.conns))
	copy(all, s.conns)
	clear(s.conns)
	s.conns = s.conns[:0]
	return all
}

// keepIf keeps the connections for which keep reports true, in their order,
// and returns the others, which the caller closes. keep runs under the
// stack's lock, so it owns each connection it is given.
func (s *idleStack) keepIf(keep func(*pconn) bool) (dropped []*pconn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.conns[:0]
	for _, pc := range s.conns {
		if keep(pc) {
			kept = append(kept, pc)
		} else {
			dropped = append(dropped, pc)
		}
	}
	clear(s.conns[len(kept):])
	s.conns = kept
	return dropped
}
