package transport

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevCertificate: with no files configured a certificate is generated
// once, reused on the next start, and each start says so loudly.
func TestDevCertificate(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	conf, err := LoadTLS(TLSFiles{DevDir: dir}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "NO TLS CERTIFICATE CONFIGURED") || !strings.Contains(logs.String(), "generated") {
		t.Errorf("no loud log line:\n%s", logs.String())
	}
	first, _ := os.ReadFile(filepath.Join(dir, "dev-cert.pem"))
	logs.Reset()
	conf2, err := LoadTLS(TLSFiles{DevDir: dir}, logger)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "dev-cert.pem"))
	if !bytes.Equal(first, again) || !bytes.Equal(conf.Certificates[0].Certificate[0], conf2.Certificates[0].Certificate[0]) {
		t.Error("the development certificate was generated again instead of reused")
	}
	if !strings.Contains(logs.String(), "NO TLS CERTIFICATE CONFIGURED") {
		t.Errorf("second start is silent about the development certificate")
	}
	if conf.MinVersion < tls.VersionTLS12 {
		t.Error("TLS below 1.2 allowed")
	}
	if _, err := LoadTLS(TLSFiles{CertFile: "x.pem"}, nil); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("cert without key: %v", err)
	}
	if _, err := LoadTLS(TLSFiles{CertFile: filepath.Join(dir, "none.pem"), KeyFile: filepath.Join(dir, "none.key")}, nil); err == nil || !strings.Contains(err.Error(), "none.pem") {
		t.Errorf("missing files: %v", err)
	}
}
