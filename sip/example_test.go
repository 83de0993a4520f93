package sip_test

import (
	"fmt"
	"strings"

	"github.com/switchboard-sip/switchboard/sip"
)

// Parse a request, check it as a proxy would, and answer it.
func Example() {
	req, err := sip.Parse([]byte("OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n" +
		"Max-Forwards: 0\r\n" +
		"To: <sip:carol@chicago.example.com>\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710\r\n" +
		"CSeq: 63104 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	via, _ := req.Via()
	from, _ := req.From()
	fmt.Println(req.Method, req.RequestURI.Host, via.Branch(), from.Display, from.Tag())

	proxy := sip.Policy{Role: sip.RoleProxy}
	v := proxy.Check(req)
	fmt.Println("verdict:", v)

	// Shown with LF line ends (on the wire every line ends in CRLF), and
	// with the To tag, which is random per process, masked.
	res := v.Response(req)
	to, _ := res.To()
	out := strings.ReplaceAll(res.String(), "\r\n", "\n")
	fmt.Print(strings.Replace(out, to.Tag(), "<16 hex digits>", 1))
	// Output:
	// OPTIONS chicago.example.com z9hG4bKhjhs8ass877 Alice 1928301774
	// verdict: 483 Too Many Hops
	// SIP/2.0 483 Too Many Hops
	// Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877
	// To: <sip:carol@chicago.example.com>;tag=<16 hex digits>
	// From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
	// Call-ID: a84b4c76e66710
	// CSeq: 63104 OPTIONS
	// Content-Length: 0
}

// Build a request and serialize it.
func ExampleNewRequest() {
	target, _ := sip.ParseURI("sip:bob@biloxi.example.com")
	from := sip.Address{Display: "Alice", URI: sip.URI{Scheme: "sip", User: "alice", Host: "atlanta.example.com"}, Params: "tag=9fxced76sl"}
	to := sip.Address{Display: "Bob", URI: target}
	req := sip.NewRequest("MESSAGE", target, from, to, "3848276298220188511@atlanta.example.com", 1)
	req.Prepend("Via", "SIP/2.0/TCP pc33.atlanta.example.com;branch="+sip.BranchMagic+"776asdhds")
	req.Add("Content-Type", "text/plain")
	req.Body = []byte("Watson, come here.")
	fmt.Print(strings.ReplaceAll(req.String(), "\r\n", "\n"))
	// Output:
	// MESSAGE sip:bob@biloxi.example.com SIP/2.0
	// Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
	// To: Bob <sip:bob@biloxi.example.com>
	// From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
	// Call-ID: 3848276298220188511@atlanta.example.com
	// CSeq: 1 MESSAGE
	// Max-Forwards: 70
	// Content-Type: text/plain
	// Content-Length: 18
	//
	// Watson, come here.
}
