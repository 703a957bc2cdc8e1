// Package sockio reads and writes ferrum's TCP connections with system calls
// that do not hand the goroutine's processor back to the Go scheduler.
//
// Every socket here is non-blocking, so a read or a write returns at once:
// with data, with what fitted, or with EAGAIN, after which the goroutine waits
// on the netpoller as usual. Made the ordinary way, each such call also enters
// and leaves the scheduler's system-call state, and a call that takes longer
// than the scheduler's monitor tick (20 µs, common for a loopback write that
// delivers to its peer in the same call) gets its processor taken away and
// handed to another thread, which then has to be woken. Measured under load,
// that bookkeeping and those wake-ups cost ferrum more CPU than parsing and
// routing together. A non-blocking call cannot stall the processor it holds,
// so sockio makes it directly.
//
// Deadlines, closing and waiting stay the netpoller's, through the
// connection's syscall.RawConn. Where no raw connection is available (other
// systems, net.Pipe in tests), a Conn passes calls to the connection itself.
package sockio
