package transport

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// canSharePort: connections can leave from a listener's port here.
const canSharePort = true

// reusePort lets a listener and the connections made from its port share
// the port (Layer.ConnectFromListener): Linux binds a second socket to a
// listening socket's port only when both set SO_REUSEPORT.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
