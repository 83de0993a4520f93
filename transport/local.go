package transport

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// LocalAddr returns the address a message sent toward dst (dst.Proto,
// dst.Remote) leaves from, as a Via sent-by or a proxy's Record-Route
// should name it (RFC 3261 §16.6 step 4, §18.1.1): the port of the listener
// for that protocol, and its address, or, for a listener on a wildcard
// address (0.0.0.0, [::]), the address of the interface the system routes
// toward dst.Remote. It fails when there is no listener for the protocol.
func (l *Layer) LocalAddr(dst Flow) (netip.AddrPort, error) {
	proto := strings.ToUpper(dst.Proto)
	var local netip.AddrPort
	switch proto {
	case UDP:
		s := l.udpFor(dst.Remote)
		if s == nil {
			return netip.AddrPort{}, fmt.Errorf("transport: no UDP listener")
		}
		local = s.local
	default:
		s := l.listenerFor(proto)
		if s == nil {
			return netip.AddrPort{}, fmt.Errorf("transport: no %s listener", proto)
		}
		local = s.local
	}
	if !local.Addr().IsUnspecified() {
		return unmap(local), nil
	}
	a, err := l.routes.source(dst.Remote.Addr())
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, local.Port()), nil
}

// routeCache remembers, per remote address, the local address the system
// sends from toward it (what a connected UDP socket is bound to; connecting
// one sends nothing).
type routeCache struct {
	mu sync.Mutex
	m  map[netip.Addr]netip.Addr // guarded by mu
}

// maxRoutes bounds the cache; when full it starts afresh, so a scan from
// many addresses costs lookups, not memory.
const maxRoutes = 4096

func (c *routeCache) source(remote netip.Addr) (netip.Addr, error) {
	remote = remote.Unmap()
	c.mu.Lock()
	a, ok := c.m[remote]
	c.mu.Unlock()
	if ok {
		return a, nil
	}
	if !remote.IsValid() || remote.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("transport: no route to %s", remote)
	}
	uc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(remote, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("transport: no route to %s: %w", remote, err)
	}
	a = uc.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	uc.Close()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxRoutes {
		c.m = make(map[netip.Addr]netip.Addr)
	}
	c.m[remote] = a
	c.mu.Unlock()
	return a, nil
}
