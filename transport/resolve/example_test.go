package resolve_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-sip/switchboard/transport/resolve"
)

// A numeric host needs no DNS: sips means TLS on port 5061 (RFC 3263 §4.1,
// §4.2).
func ExampleResolver_Resolve() {
	var r resolve.Resolver
	targets, err := r.Resolve(context.Background(), "[2001:db8::1]", 0, true, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range targets {
		fmt.Println(t)
	}
	// Output:
	// TLS [2001:db8::1]:5061
}

// Failover sends to each target in turn until one does not fail; here the
// first refuses the connection, the second answers 503, the third 200.
func ExampleFailover() {
	var r resolve.Resolver
	var targets []resolve.Target
	for _, host := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		t, _ := r.Resolve(context.Background(), host, 0, false, "")
		targets = append(targets, t...)
	}
	status, err := resolve.Failover(context.Background(), targets,
		func(ctx context.Context, t resolve.Target) (int, error) {
			// A real caller builds a new request (new Via branch) and
			// runs a client transaction to t here.
			fmt.Println("trying", t)
			switch t.Addr.Addr().String() {
			case "192.0.2.1":
				return 0, errors.New("connection refused")
			case "192.0.2.2":
				return 503, nil
			}
			return 200, nil
		},
		// RFC 3263 §4.3: a transport error, a timeout or a 503 moves on.
		func(status int, err error) bool { return err != nil || status == 503 })
	fmt.Println(status, err)
	// Output:
	// trying UDP 192.0.2.1:5060
	// trying UDP 192.0.2.2:5060
	// trying UDP 192.0.2.3:5060
	// 200 <nil>
}
