package registrar

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// LocalDomains decides which domains a registrar serves. With Fixed set,
// exactly those; otherwise this host's names and addresses (HostNames)
// plus whatever Dynamic returns (the domains that have subscriber
// accounts), which is asked again at most once per Refresh, and at once
// when a host is not found (at most once a second), so that a domain added
// with `switchboard user add` is served without a restart.
type LocalDomains struct {
	Fixed   []string
	Dynamic func(ctx context.Context) ([]string, error)
	// Refresh is how long Dynamic's answer is kept; zero means 30 s.
	Refresh time.Duration

	once    sync.Once
	hosts   map[string]bool // the host's names and addresses
	mu      sync.Mutex
	dynamic map[string]bool // guarded by mu
	asked   time.Time       // when Dynamic last answered; guarded by mu
}

// normHost lower-cases a host and removes the brackets of an IPv6
// reference.
func normHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

// HostNames returns this machine's host name, "localhost", and the
// addresses of its interfaces.
func HostNames() []string {
	out := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		out = append(out, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				out = append(out, ipn.IP.String())
			}
		}
	}
	return out
}

func (d *LocalDomains) init() {
	d.once.Do(func() {
		d.hosts = make(map[string]bool)
		list := d.Fixed
		if len(list) == 0 {
			list = HostNames()
		}
		for _, h := range list {
			d.hosts[normHost(h)] = true
		}
	})
}

// IsLocal reports whether host is one of the domains. A failing Dynamic
// leaves the last answer in place.
func (d *LocalDomains) IsLocal(ctx context.Context, host string) bool {
	d.init()
	host = normHost(host)
	if d.hosts[host] {
		return true
	}
	if len(d.Fixed) > 0 || d.Dynamic == nil {
		return false
	}
	refresh := d.Refresh
	if refresh <= 0 {
		refresh = 30 * time.Second
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	age := time.Since(d.asked)
	if d.dynamic[host] && age < refresh {
		return true
	}
	if age >= time.Second {
		if list, err := d.Dynamic(ctx); err == nil {
			d.dynamic = make(map[string]bool, len(list))
			for _, h := range list {
				d.dynamic[normHost(h)] = true
			}
			d.asked = time.Now()
		}
	}
	return d.dynamic[host]
}
