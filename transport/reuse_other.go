//go:build !linux

package transport

import "syscall"

// canSharePort: elsewhere connections leave from ephemeral ports
// (Layer.ConnectFromListener has no effect), since not every system lets
// a connection share a listening socket's port.
const canSharePort = false

// reusePort is not used outside Linux.
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
