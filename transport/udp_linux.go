package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"
)

// On Linux the UDP sockets are read and written with recvfrom and sendto
// issued as raw system calls on the non-blocking descriptor, inside
// syscall.RawConn's Read and Write, which wait on the network poller when
// the call would block, as net.UDPConn does. What differs is that a
// non-blocking socket call does not go through the runtime's syscall
// entry and exit: that entry wakes the runtime's monitor thread (sysmon)
// whenever the process was idle and sets it polling every 20 µs for the
// next millisecond, so a server idle between datagrams, at a few thousand
// datagrams per second, kept it polling all the time, at about a tenth of
// its CPU. The calls never block, so nothing is lost by keeping the
// processor across them.

// rawUDP is the raw side of a UDP socket.
type rawUDP struct {
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket: IPv4 destinations go as v4-mapped
	// senders recycles the state of sendto calls, so that a send
	// allocates nothing.
	senders sync.Pool
}

// sockaddr is room for a struct sockaddr_in or sockaddr_in6.
type sockaddr [syscall.SizeofSockaddrInet6]byte

func newRawUDP(pc *net.UDPConn) (*rawUDP, error) {
	rc, err := pc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var sa syscall.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = syscall.Getsockname(int(fd)) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	_, v6 := sa.(*syscall.SockaddrInet6)
	return &rawUDP{rc: rc, v6: v6}, nil
}

// udpReader reads datagrams for one goroutine. Its read function is made
// once, so that a read allocates nothing.
type udpReader struct {
	raw  *rawUDP
	buf  []byte
	sa   sockaddr
	n    int
	from netip.AddrPort
	err  error
	fn   func(fd uintptr) bool
}

func (r *rawUDP) reader(buf []byte) *udpReader {
	u := &udpReader{raw: r, buf: buf}
	u.fn = u.recvfrom
	return u
}

// recvfrom is called by RawConn.Read with the descriptor: false asks it
// to wait until the socket is readable and call again.
func (u *udpReader) recvfrom(fd uintptr) bool {
	for {
		salen := uint32(len(u.sa))
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(&u.buf[0])), uintptr(len(u.buf)), 0,
			uintptr(unsafe.Pointer(&u.sa[0])), uintptr(unsafe.Pointer(&salen)))
		switch e {
		case 0:
			u.n, u.err = int(n), nil
			u.from = decodeSockaddr(u.sa[:min(int(salen), len(u.sa))])
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		u.n, u.err = 0, e
		return true
	}
}

// read returns the next datagram in u.buf[:n] and its source.
func (u *udpReader) read() (int, netip.AddrPort, error) {
	if err := u.raw.rc.Read(u.fn); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if u.err != nil {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: u.err}
	}
	return u.n, u.from, nil
}

// decodeSockaddr reads a sockaddr_in or sockaddr_in6 (host-order family,
// network-order port).
func decodeSockaddr(b []byte) netip.AddrPort {
	if len(b) < 2 {
		return netip.AddrPort{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case syscall.AF_INET:
		if len(b) >= 8 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4]))
		}
	case syscall.AF_INET6:
		if len(b) >= 24 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:4]))
		}
	}
	return netip.AddrPort{}
}

// udpSender is the state of one sendto.
type udpSender struct {
	sa    sockaddr
	salen uint32
	b     []byte
	err   error
	fn    func(fd uintptr) bool
}

func (s *udpSender) sendto(fd uintptr) bool {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(s.b))), uintptr(len(s.b)), 0,
			uintptr(unsafe.Pointer(&s.sa[0])), uintptr(s.salen))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // the send buffer is full: wait until writable
		case 0:
			s.err = nil
		default:
			s.err = e
		}
		return true
	}
}

// errFamily is returned for an IPv6 destination on an IPv4 socket.
var errFamily = errors.New("address family not supported by the socket")

// send sends b to to.
func (r *rawUDP) send(b []byte, to netip.AddrPort) error {
	s, _ := r.senders.Get().(*udpSender)
	if s == nil {
		s = new(udpSender)
		s.fn = s.sendto
	}
	defer func() { s.b = nil; r.senders.Put(s) }()
	s.sa = sockaddr{}
	a := to.Addr()
	switch {
	case r.v6:
		binary.NativeEndian.PutUint16(s.sa[0:2], syscall.AF_INET6)
		binary.BigEndian.PutUint16(s.sa[2:4], to.Port())
		a16 := a.As16()
		copy(s.sa[8:24], a16[:])
		if z := a.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				binary.NativeEndian.PutUint32(s.sa[24:28], uint32(ifi.Index))
			}
		}
		s.salen = syscall.SizeofSockaddrInet6
	case a.Is4() || a.Is4In6():
		binary.NativeEndian.PutUint16(s.sa[0:2], syscall.AF_INET)
		binary.BigEndian.PutUint16(s.sa[2:4], to.Port())
		a4 := a.Unmap().As4()
		copy(s.sa[4:8], a4[:])
		s.salen = syscall.SizeofSockaddrInet4
	default:
		return &net.OpError{Op: "write", Net: "udp", Err: fmt.Errorf("%s: %w", to, errFamily)}
	}
	s.b = b
	if err := r.rc.Write(s.fn); err != nil {
		return err
	}
	if s.err != nil {
		return &net.OpError{Op: "write", Net: "udp", Err: s.err}
	}
	return nil
}
