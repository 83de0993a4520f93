//go:build linux

package location

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawFile appends to a journal file and syncs it with raw system calls:
// syscall.RawSyscall, inside the file's RawConn, where the Go runtime
// neither marks the goroutine as in a system call nor wakes its
// scheduler monitor (sysmon) to watch it. sysmon sleeps while every P is
// idle; each system call made through the runtime's usual path wakes it,
// and it then polls every 20 µs for a millisecond or more. With a group
// commit every few milliseconds that polling cost more CPU than the
// commits (docs/PERFORMANCE.md).
//
// The price: while pwrite or fdatasync runs, the goroutine keeps its P,
// so the other goroutines have one P fewer for that long (a fdatasync
// takes a few hundred microseconds on a local disk) and a stop-the-world
// pause waits for it to return.
type rawFile struct {
	rc syscall.RawConn
}

func newRawFile(f *os.File) (rawFile, error) {
	rc, err := f.SyscallConn()
	return rawFile{rc}, err
}

// writeAt writes all of b at offset off.
func (r rawFile) writeAt(b []byte, off int64) error {
	var werr error
	err := r.rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd,
				uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				werr = e
				return true
			case n == 0:
				werr = io.ErrShortWrite
				return true
			}
			b = b[n:]
			off += int64(n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// sync flushes the file's data, and its size when that changed, to the
// disk (fdatasync(2)).
func (r rawFile) sync() error {
	var serr error
	err := r.rc.Write(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				serr = e
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	return serr
}
