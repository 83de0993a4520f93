package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles names the certificate and key of a TLS listener. When both are
// empty, LoadTLS uses a self-signed development certificate kept in DevDir,
// made on first use.
type TLSFiles struct {
	CertFile, KeyFile string
	// DevDir holds dev-cert.pem and dev-key.pem; "" means the current
	// directory.
	DevDir string
}

// LoadTLS returns a server TLS configuration (TLS 1.2 or later) for f. With
// no files configured it loads, or on first start generates, a self-signed
// development certificate for localhost, 127.0.0.1, ::1 and this host's
// name, and logs a warning each time: phones will not trust it.
func LoadTLS(f TLSFiles, logger *slog.Logger) (*tls.Config, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	certFile, keyFile := f.CertFile, f.KeyFile
	switch {
	case certFile == "" && keyFile == "":
		certFile = filepath.Join(f.DevDir, "dev-cert.pem")
		keyFile = filepath.Join(f.DevDir, "dev-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeDevCert(certFile, keyFile); err != nil {
				return nil, err
			}
			logger.Warn("transport: NO TLS CERTIFICATE CONFIGURED: generated a self-signed development certificate; clients will not trust it — set tls.cert and tls.key for production",
				"cert", certFile, "key", keyFile)
		} else {
			logger.Warn("transport: NO TLS CERTIFICATE CONFIGURED: using the self-signed development certificate; clients will not trust it — set tls.cert and tls.key for production",
				"cert", certFile)
		}
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("transport: TLS needs both a certificate and a key file (got cert %q, key %q)", certFile, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: loading TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// writeDevCert generates an ECDSA P-256 certificate valid for a year.
func writeDevCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("transport: generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Switchboard development certificate", Organization: []string{"Switchboard"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("transport: creating the development certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(certFile); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("transport: %w", err)
		}
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("transport: writing %s: %w", keyFile, err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("transport: writing %s: %w", certFile, err)
	}
	return nil
}
