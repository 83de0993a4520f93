package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// kamailioBinary finds Kamailio (Debian packages kamailio and
// kamailio-tls-modules). CI installs it; elsewhere the test skips with how
// to install it.
func kamailioBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kamailio")
	if err == nil {
		if _, err = os.Stat(filepath.Join(kamailioModules, "tls.so")); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("kamailio with TLS not found; .ci/run must install kamailio kamailio-tls-modules kamailio-websocket-modules")
	}
	t.Skip("kamailio not found; install it with: apt-get install -y kamailio kamailio-tls-modules kamailio-websocket-modules")
	return ""
}

const kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules"

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startKamailio runs Kamailio on loopback as a TLS and WSS proxy with the
// given certificate: OPTIONS to user "kamailio" it answers itself,
// everything else it relays to the Request-URI. It returns the UDP, TLS and
// WSS ports.
func startKamailio(t *testing.T, certFile, keyFile string) (udpPort, tlsPort, wssPort int) {
	t.Helper()
	bin := kamailioBinary(t)
	dir := t.TempDir()
	udpPort, tlsPort, wssPort = freePort(t, "udp"), freePort(t, "tcp"), freePort(t, "tcp")
	tlsCfg := fmt.Sprintf(`[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = %s
certificate = %s

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
`, keyFile, certFile)
	cfg := fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:%d
listen=tls:127.0.0.1:%d
listen=tls:127.0.0.1:%d
enable_tls=yes
tcp_accept_no_cl=yes
mpath="%s/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "tls.so"
loadmodule "xhttp.so"
loadmodule "websocket.so"
modparam("tls", "config", "%s")

# WebSocket handshakes on the second TLS port: that port speaks WSS.
event_route[xhttp:request] {
	if ($Rp == %d && $hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {
		if (ws_handle_handshake()) {
			exit;
		}
	}
	xhttp_reply("404", "Not Found", "", "");
}

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("OPTIONS") && $rU == "kamailio") {
		sl_send_reply("200", "Kamailio here");
		exit;
	}
	if (!t_relay()) {
		sl_reply_error();
	}
}
`, udpPort, tlsPort, wssPort, kamailioModules, filepath.Join(dir, "tls.cfg"), wssPort)
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte(tlsCfg), 0o600)
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(cfg), 0o600)
	var out bytes.Buffer
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
		"-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio output:\n%s", out.String())
		}
	})
	// Ready when the TLS port accepts connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return udpPort, tlsPort, wssPort
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not start:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKamailioTLS shows TLS and WSS interoperability with a real peer: our
// Client opens TLS and secure WebSocket connections to Kamailio; Kamailio
// opens TLS to our Server when it relays a request, and the response finds
// its way back. (Kamailio cannot open WebSockets itself, so WSS is shown
// from our side as the client.)
func TestKamailioTLS(t *testing.T) {
	certDir := t.TempDir()
	conf, err := transport.LoadTLS(transport.TLSFiles{DevDir: certDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, kTLS, kWSS := startKamailio(t, filepath.Join(certDir, "dev-cert.pem"), filepath.Join(certDir, "dev-key.pem"))

	var viaTLS string
	srv := &Server{Transport: &transport.Layer{TLSConfig: conf}, Handler: HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		viaTLS = v.Transport
		tx.Reply(200, "Switchboard here")
	})}
	ourTLS, err := srv.Listen("tls", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	leaf, _ := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cli := &Server{Transport: &transport.Layer{TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	if _, err := cli.Listen("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer cli.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// Our Client → Kamailio over TLS.
	res, err := cli.Client().Do(ctx, options(t, fmt.Sprintf("sips:kamailio@127.0.0.1:%d", kTLS)))
	if err != nil || res.StatusCode != 200 || res.Reason != "Kamailio here" {
		t.Fatalf("OPTIONS to Kamailio over TLS: %v %v", res, err)
	}

	// Kamailio → our Server over TLS: sent to Kamailio over TLS with a
	// Route, relayed by it to our TLS listener.
	req := options(t, fmt.Sprintf("sip:echo@%s;transport=tls", ourTLS))
	req.Add("Route", fmt.Sprintf("<sip:127.0.0.1:%d;transport=tls;lr>", kTLS))
	res, err = cli.Client().Do(ctx, req)
	if err != nil || res.StatusCode != 200 || res.Reason != "Switchboard here" {
		t.Fatalf("OPTIONS through Kamailio to our TLS server: %v %v", res, err)
	}
	if !strings.EqualFold(viaTLS, "TLS") {
		t.Errorf("our server saw Kamailio's Via over %q, want TLS", viaTLS)
	}

	// WSS (RFC 7118): our Client → Kamailio over a secure WebSocket, and
	// through Kamailio over TLS to our Server, the response coming back on
	// the WebSocket.
	res, err = cli.Client().Do(ctx, options(t, fmt.Sprintf("sip:kamailio@127.0.0.1:%d;transport=wss", kWSS)))
	if err != nil || res.StatusCode != 200 || res.Reason != "Kamailio here" {
		t.Fatalf("OPTIONS to Kamailio over WSS: %v %v", res, err)
	}
	req = options(t, fmt.Sprintf("sip:echo@%s;transport=tls", ourTLS))
	req.Add("Route", fmt.Sprintf("<sip:127.0.0.1:%d;transport=wss;lr>", kWSS))
	res, err = cli.Client().Do(ctx, req)
	if err != nil || res.StatusCode != 200 || res.Reason != "Switchboard here" {
		t.Fatalf("OPTIONS over WSS through Kamailio to our TLS server: %v %v", res, err)
	}
}
