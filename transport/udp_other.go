//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// rawUDP is, outside Linux, the UDP socket's own methods.
type rawUDP struct{ pc *net.UDPConn }

func newRawUDP(pc *net.UDPConn) (*rawUDP, error) { return &rawUDP{pc: pc}, nil }

// udpReader reads datagrams into buf for one goroutine.
type udpReader struct {
	raw *rawUDP
	buf []byte
}

func (r *rawUDP) reader(buf []byte) *udpReader { return &udpReader{raw: r, buf: buf} }

func (u *udpReader) read() (int, netip.AddrPort, error) {
	return u.raw.pc.ReadFromUDPAddrPort(u.buf)
}

func (r *rawUDP) send(b []byte, to netip.AddrPort) error {
	_, err := r.pc.WriteToUDPAddrPort(b, to)
	return err
}
