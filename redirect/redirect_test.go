package redirect

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// TestRedirect: 302 with every current contact, its q-value and the time
// its binding has left; 480 for a user with an account and no binding, 404
// for one without an account.
func TestRedirect(t *testing.T) {
	loc := location.NewMemory()
	now := time.Now()
	_, err := loc.Update(context.Background(), "sip:bob@example.com", now, func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{
			{Contact: "sip:bob@192.0.2.1:5060", Q: 700, Expires: now.Add(100 * time.Second), CallID: "c", CSeq: 1},
			{Contact: "sip:bob@192.0.2.2:5060;transport=tcp", Q: -1, Expires: now.Add(50 * time.Second), CallID: "c", CSeq: 1},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &stack.Server{Handler: &Server{Locations: loc,
		Exists: func(_ context.Context, user, _ string) (bool, error) { return user == "carol", nil }}}
	addr, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(user string) *sip.Message {
		t.Helper()
		req := "INVITE sip:" + user + "@example.com SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";rport;branch=" + sip.NewBranch() +
			"\r\nMax-Forwards: 70\r\nFrom: <sip:a@elsewhere.example>;tag=1\r\nTo: <sip:" + user + "@example.com>\r\nCall-ID: " + sip.NewCallID() +
			"\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			m, err := sip.Parse(append([]byte(nil), buf[:n]...))
			if err == nil && m.StatusCode >= 200 {
				return m
			}
		}
	}
	res := ask("bob")
	if res.StatusCode != 302 {
		t.Fatalf("bob: %d, want 302", res.StatusCode)
	}
	var contacts []string
	for _, h := range res.Headers {
		if h.Is("Contact") {
			contacts = append(contacts, h.Value)
		}
	}
	if len(contacts) != 2 {
		t.Fatalf("302 lists %d contacts, want 2: %q", len(contacts), contacts)
	}
	all := strings.Join(contacts, " | ")
	for _, want := range []string{"<sip:bob@192.0.2.1:5060>;q=0.7;expires=", "<sip:bob@192.0.2.2:5060;transport=tcp>;expires="} {
		if !strings.Contains(all, want) {
			t.Errorf("302 contacts %q lack %q", all, want)
		}
	}
	for code, user := range map[int]string{480: "carol", 404: "dave"} {
		if got := ask(user).StatusCode; got != code {
			t.Errorf("%s: %d, want %d", user, got, code)
		}
	}
}
