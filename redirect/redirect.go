// Package redirect is Switchboard's redirect server (RFC 3261 §8.3, §21.3):
// instead of forwarding a request to a local user, it tells the caller where
// the user can be reached, and the caller sends the request there itself.
package redirect

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// Server answers requests for local users from the location service:
// 302 Moved Temporarily listing every current contact of the
// address-of-record with its q-value and remaining expiry, 404 for a user
// without an account, 480 for a user with one but no binding. It is a
// stack.Handler; ACKs (for its 3xx and 4xx, absorbed by the transaction
// layer, or stray ones) are ignored.
type Server struct {
	// Locations is the location service the registrar writes.
	Locations location.Store
	// Exists reports whether a user has an account (see Server); nil
	// means every user exists.
	Exists func(ctx context.Context, user, domain string) (bool, error)
	// Logger receives errors of the stores; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ServeSIP answers req; the Server owns the response.
func (s *Server) ServeSIP(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	if tx == nil {
		return
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	u := &req.RequestURI
	if !u.IsSIP() {
		tx.Reply(416, "")
		return
	}
	aor := location.CanonicalAOR(u)
	bs, err := s.Locations.Lookup(ctx, aor, now)
	if err != nil {
		s.error("redirect: location lookup failed", "call-id", req.CallID(), "aor", aor, "err", err)
		tx.Reply(500, "")
		return
	}
	if len(bs) == 0 {
		code := 480
		if s.Exists != nil {
			ok, err := s.Exists(ctx, sip.Unescape(u.User), strings.ToLower(u.Host))
			if err != nil {
				s.error("redirect: account lookup failed", "call-id", req.CallID(), "aor", aor, "err", err)
				tx.Reply(500, "")
				return
			}
			if !ok {
				code = 404
			}
		}
		tx.Reply(code, "")
		return
	}
	hdrs := make([]sip.Header, 0, len(bs))
	for _, b := range bs {
		hdrs = append(hdrs, sip.NewHeader("Contact", contact(&b, now)))
	}
	tx.Reply(302, "", hdrs...)
}

// contact is one Contact value of the 302: the registered contact URI with
// its q-value (§20.10) and the seconds its binding has left (§20.19).
func contact(b *location.Binding, now time.Time) string {
	v := "<" + b.Contact + ">"
	if b.Q >= 0 {
		v += ";q=" + location.FormatQ(b.Q)
	}
	secs := int64(b.Expires.Sub(now) / time.Second)
	return v + ";expires=" + strconv.FormatInt(max(secs, 0), 10)
}

func (s *Server) error(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Error(msg, args...)
	}
}
