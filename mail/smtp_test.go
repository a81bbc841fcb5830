package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSMTPStartTLSVerified: a server offering STARTTLS is talked to over
// TLS with its certificate verified (an untrusted one fails), and AUTH
// PLAIN is used when a username is configured.
func TestSMTPStartTLSVerified(t *testing.T) {
	cert, key, pool := selfSigned(t)
	mp := startMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls", "--smtp-auth-accept-any")
	msg := &Message{From: netmail.Address{Address: "groups@roster.example"}, To: netmail.Address{Name: "Alice", Address: "alice@vendor.example"},
		Subject: "Über TLS", Text: "hello", HTML: "<p>hello</p>"}
	good := &SMTP{Host: "127.0.0.1", Port: mp.smtpPort, Username: "roster", Password: "secret", TLSConfig: &tls.Config{RootCAs: pool}}
	if err := good.Send(context.Background(), msg); err != nil {
		t.Fatalf("send over verified STARTTLS: %v", err)
	}
	untrusted := &SMTP{Host: "127.0.0.1", Port: mp.smtpPort}
	if err := untrusted.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unverified certificate was accepted: %v", err)
	}
	required := &SMTP{Host: "127.0.0.1", Port: startMailpit(t).smtpPort, TLS: TLSStartTLS}
	if err := required.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("tls: starttls against a server without it: %v", err)
	}
	got := mp.messages()
	if len(got) != 1 || got[0].Subject != "Über TLS" {
		t.Fatalf("messages %+v", got)
	}
}
