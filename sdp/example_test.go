package sdp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/switchboard-sip/switchboard/sdp"
)

func Example() {
	alice := &sdp.Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), DTMF: 101, SRTP: true}
	bob := &sdp.Endpoint{
		Addr:    netip.MustParseAddrPort("192.0.2.2:5000"),
		Formats: []sdp.Format{{PayloadType: 8, Name: "PCMA"}, {PayloadType: 0, Name: "PCMU"}},
		DTMF:    101,
		SRTP:    true,
	}

	offer, _ := alice.Offer(sdp.SendRecv) // INVITE
	answer, atBob, err := bob.Answer(offer, sdp.SendRecv)
	if errors.Is(err, sdp.ErrNotAcceptable) {
		return // 488 Not Acceptable Here
	}
	atAlice, _ := alice.Accept(answer) // 200 OK
	fmt.Println(mline(answer))
	fmt.Println("alice:", atAlice.Codec.Name, atAlice.Remote, atAlice.Direction, atAlice.DTMF)
	fmt.Println("bob:  ", atBob.Codec.Name, atBob.Remote, atBob.Direction, atBob.DTMF)
	fmt.Println("keys cross:", string(atAlice.SendKey) == string(atBob.RecvKey))

	// Alice puts Bob on hold with a re-INVITE.
	offer, _ = alice.Offer(sdp.SendOnly)
	answer, atBob, _ = bob.Answer(offer, sdp.SendRecv)
	atAlice, _ = alice.Accept(answer)
	fmt.Println("hold:", atAlice.Direction, atBob.Direction)

	// Output:
	// m=audio 5000 RTP/SAVP 0 101
	// alice: PCMU 192.0.2.2:5000 sendrecv 101
	// bob:   PCMU 192.0.2.1:4000 sendrecv 101
	// keys cross: true
	// hold: sendonly recvonly
}

func ExampleEndpoint_Answer() {
	sipp := "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n" +
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18\r\n"
	e := &sdp.Endpoint{Addr: netip.MustParseAddrPort("192.0.2.2:5000")}
	_, _, err := e.Answer([]byte(sipp), sdp.SendRecv)
	fmt.Println(errors.Is(err, sdp.ErrNotAcceptable))
	fmt.Println(err)
	// Output:
	// true
	// sdp: not acceptable: audio stream 1: no common codec (offered G729/8000)
}

func mline(body []byte) string {
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, "m=") {
			return l
		}
	}
	return ""
}
