package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// TestOptionsOverTLS: a server on the generated development certificate and
// a client that trusts it exchange OPTIONS over TLS (sips:).
func TestOptionsOverTLS(t *testing.T) {
	conf, err := transport.LoadTLS(transport.TLSFiles{DevDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Transport: &transport.Layer{TLSConfig: conf}, Handler: HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		if v.Transport != "TLS" {
			tx.Reply(400, "Want TLS")
			return
		}
		tx.Reply(200, "")
	})}
	addr, err := srv.Listen("tls", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	leaf, err := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cli := &Server{Transport: &transport.Layer{TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	if _, err := cli.Listen("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer cli.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cli.Client().Do(ctx, options(t, "sips:echo@"+addr.String()))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("got %v, %v; want 200 over TLS", res, err)
	}
	// A client that does not trust the certificate fails the handshake.
	strict := &Server{Transport: &transport.Layer{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	strict.Listen("udp", "127.0.0.1:0")
	defer strict.Shutdown(context.Background())
	if _, err := strict.Client().Do(ctx, options(t, "sips:echo@"+addr.String())); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}
