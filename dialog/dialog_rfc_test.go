package dialog

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-sip/switchboard/sip"
)

func parse(t *testing.T, raw string) *sip.Message {
	t.Helper()
	m, err := sip.Parse([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const invite = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1
To: <sip:bob@example.com>
From: <sip:alice@example.com>;tag=a1
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:alice@192.0.2.1>
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>
Max-Forwards: 70
Content-Length: 0

`

const ok200 = `SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1
To: <sip:bob@example.com>;tag=b1
From: <sip:alice@example.com>;tag=a1
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:bob@192.0.2.9:5070>
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>
Content-Length: 0

`

func routes(m *sip.Message) []string {
	var out []string
	for r, err := range m.Routes() {
		if err == nil {
			out = append(out, r.URI.String())
		}
	}
	return out
}

// RFC 3261 §12.1.2: the UAC's route set is the 2xx's Record-Route
// reversed, the remote target its Contact; requests go to the target
// with the route set as Route, CSeq counting on from the INVITE's.
func TestUAC(t *testing.T) {
	d, err := NewUAC(parse(t, invite), parse(t, ok200))
	if err != nil {
		t.Fatal(err)
	}
	if id := d.ID(); id != (ID{CallID: "c1", LocalTag: "a1", RemoteTag: "b1"}) {
		t.Errorf("ID %+v", id)
	}
	bye := d.Request("BYE")
	if got := bye.RequestURI.String(); got != "sip:bob@192.0.2.9:5070" {
		t.Errorf("Request-URI %s", got)
	}
	if got := strings.Join(routes(bye), " "); got != "sip:p1.example.com;lr sip:p2.example.com;lr" {
		t.Errorf("Route %s", got)
	}
	if cs, _ := bye.CSeq(); cs.Seq != 11 || cs.Method != "BYE" {
		t.Errorf("CSeq %v", cs)
	}
	if to, _ := bye.To(); to.Tag() != "b1" {
		t.Errorf("To tag %q", to.Tag())
	}
	// A challenged request went out again as 13: the next one is 14.
	d.Sent(13)
	if cs, _ := d.Request("INFO").CSeq(); cs.Seq != 14 {
		t.Errorf("after Sent(13) CSeq %d, want 14", cs.Seq)
	}
	if cs, _ := d.ACK(10).CSeq(); cs.Seq != 10 || cs.Method != "ACK" {
		t.Errorf("ACK CSeq %v", cs)
	}
}

// RFC 3261 §12.1.1, §12.2.2: the UAS keeps the Record-Route order, and a
// request with a lower CSeq than the last is refused; a re-INVITE with a
// Contact moves the remote target.
func TestUAS(t *testing.T) {
	req := parse(t, invite)
	d, err := NewUAS(req, "b1")
	if err != nil {
		t.Fatal(err)
	}
	bye := d.Request("BYE")
	if got := strings.Join(routes(bye), " "); got != "sip:p2.example.com;lr sip:p1.example.com;lr" {
		t.Errorf("Route %s", got)
	}
	if from, _ := bye.From(); from.Tag() != "b1" {
		t.Errorf("From tag %q", from.Tag())
	}
	re := parse(t, strings.Replace(strings.Replace(invite, "CSeq: 10", "CSeq: 11", 1), "<sip:alice@192.0.2.1>", "<sip:alice@198.51.100.7>", 1))
	if err := d.Receive(re); err != nil {
		t.Fatal(err)
	}
	if got := d.Target(); got.Host != "198.51.100.7" {
		t.Errorf("target after re-INVITE %s", got.String())
	}
	old := parse(t, strings.Replace(invite, "INVITE sip", "INFO sip", 1))
	old.Set("CSeq", "9 INFO")
	if err := d.Receive(old); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Receive(CSeq 9) = %v, want ErrOutOfOrder", err)
	}
}

// RFC 3261 §12.2.1.1: a strict router first in the route set becomes the
// Request-URI and the remote target goes last in Route.
func TestStrictRoute(t *testing.T) {
	res := parse(t, strings.ReplaceAll(ok200, "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>", "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com>"))
	d, err := NewUAC(parse(t, invite), res)
	if err != nil {
		t.Fatal(err)
	}
	bye := d.Request("BYE")
	if got := bye.RequestURI.String(); got != "sip:p1.example.com" {
		t.Errorf("Request-URI %s, want the strict router", got)
	}
	if got := strings.Join(routes(bye), " "); got != "sip:p2.example.com;lr sip:bob@192.0.2.9:5070" {
		t.Errorf("Route %s", got)
	}
}
