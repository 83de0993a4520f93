//go:build !linux

package transport

import "syscall"

// reusePort does nothing outside Linux: a connection that cannot leave
// from the listener's port leaves from another (Layer.open retries).
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
