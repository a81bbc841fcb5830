// Package ldaptest starts a private OpenLDAP slapd for tests and
// benchmarks: a cn=config built with `slapadd -n0` into a fresh folder, the
// back_mdb, memberof, refint, syncprov and ppolicy modules, a plain
// listener on 127.0.0.1 and, optionally, an ldaps:// listener whose CA and
// server certificate are generated in Go.
//
// The server runs as the current user and is stopped by PID. Nothing here
// touches /etc/ldap beyond reading its schema files.
package ldaptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Defaults of a test directory.
const (
	DefaultSuffix   = "dc=example,dc=com"
	DefaultAdminDN  = "cn=admin,dc=example,dc=com"
	DefaultPassword = "secret"
	// Placeholder is the member refint puts into a groupOfNames when its
	// last member is deleted.
	Placeholder = "cn=nobody,dc=example,dc=com"
)

// ErrNoSlapd is returned by Start when slapd or slapadd is not installed.
var ErrNoSlapd = errors.New("ldaptest: slapd not installed")

// Options configures a server.
type Options struct {
	// TLS adds an ldaps:// listener and configures StartTLS, with a CA
	// and a server certificate for 127.0.0.1 generated on start.
	TLS bool
	// LDIF is loaded with `slapadd -q` before the server starts (it
	// bypasses overlays: memberOf values must be in the LDIF). The base
	// entries (suffix, ou=people, ou=groups) are added when LDIF is
	// empty.
	LDIF []string
	// LDIFFiles are LDIF files loaded like LDIF, after it.
	LDIFFiles []string
	// Dir is the state folder; a temporary one when empty.
	Dir string
	// Stderr receives slapd's output; discarded when nil.
	Stderr *os.File
	// NoSessionlog leaves syncprov without a session log (olcSpSessionlog).
	NoSessionlog bool
	// NoSyncprov leaves the syncprov overlay out: the server refuses
	// content synchronisation (RFC 4533).
	NoSyncprov bool
}

// Server is a running private slapd.
type Server struct {
	// URL is the ldap:// address, LDAPSURL the ldaps:// one (TLS only).
	URL, LDAPSURL string
	Suffix        string
	AdminDN       string
	AdminPassword string
	// CAFile is the PEM file of the test CA (TLS only); CAPEM its bytes.
	CAFile string
	CAPEM  []byte

	dir       string
	configDir string
	ownDir    bool
	port      int
	tlsPort   int
	opts      Options
	proc      *daemon
}

// Installed reports whether slapd, slapadd and ldapsearch can be found.
func Installed() bool {
	for _, b := range []string{"slapd", "slapadd", "ldapsearch", "ldapmodify"} {
		if _, err := lookPath(b); err != nil {
			return false
		}
	}
	return true
}

// needServer skips t because of err, a reason the server cannot run
// here, unless the environment variable CI is set: then t fails.
func needServer(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(err)
	}
	t.Skipf("%v; skipping (CI unset)", err)
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("ldaptest: %s: %w", name, ErrNoSlapd)
}

// New starts a server for test t, stopped in t.Cleanup. When slapd is
// missing it skips the test, unless the environment variable CI is set, in
// which case the test fails.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if !Installed() {
		needServer(t, errors.New("ldaptest: slapd/ldap-utils not installed (run scripts/deps/slapd.sh)"))
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Start builds the configuration, loads opts.LDIF and starts slapd. The
// caller must Close the server.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if !Installed() {
		return nil, ErrNoSlapd
	}
	s := &Server{Suffix: DefaultSuffix, AdminDN: DefaultAdminDN, AdminPassword: DefaultPassword, opts: opts}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "ldaptest-*")
		if err != nil {
			return nil, fmt.Errorf("ldaptest: %w", err)
		}
		opts.Dir, s.ownDir = d, true
	}
	s.dir = opts.Dir
	s.configDir = filepath.Join(s.dir, "slapd.d")
	for _, d := range []string{s.configDir, filepath.Join(s.dir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("ldaptest: %w", err)
		}
	}
	var err error
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.port)
	if opts.TLS {
		if s.tlsPort, err = freePort(); err != nil {
			return nil, err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", s.tlsPort)
		if err := s.writeCerts(); err != nil {
			return nil, err
		}
	}
	if err := s.slapadd(ctx, 0, s.configLDIF()); err != nil {
		return nil, err
	}
	data := opts.LDIF
	if len(data) == 0 && len(opts.LDIFFiles) == 0 {
		data = []string{BaseLDIF()}
	}
	for _, l := range data {
		if err := s.slapadd(ctx, 1, l); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.LDIFFiles {
		if err := s.SlapaddFile(ctx, f); err != nil {
			return nil, err
		}
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// BaseLDIF returns the suffix entry, ou=people, ou=groups and the refint
// placeholder entry.
func BaseLDIF() string {
	return `dn: dc=example,dc=com
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: cn=nobody,dc=example,dc=com
objectClass: organizationalRole
cn: nobody
`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("ldaptest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) configLDIF() string {
	var b strings.Builder
	// A session log lets syncprov tell a resuming consumer what was
	// deleted; without it, it sends every unchanged entry's entryUUID
	// (a present phase).
	syncprov := `dn: olcOverlay={2}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {2}syncprov
`
	if !s.opts.NoSessionlog {
		syncprov += "olcSpSessionlog: 10000\n"
	}
	if s.opts.NoSyncprov {
		syncprov = ""
	} else {
		syncprov += "\n"
	}
	fmt.Fprintf(&b, `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcArgsFile: %[1]s/slapd.args
olcLogLevel: none
olcSizeLimit: unlimited
`, s.dir)
	if s.opts.TLS {
		fmt.Fprintf(&b, "olcTLSCACertificateFile: %[1]s/ca.pem\nolcTLSCertificateFile: %[1]s/server.pem\nolcTLSCertificateKeyFile: %[1]s/server.key\n", s.dir)
	}
	fmt.Fprintf(&b, `
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: syncprov
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %[2]s
olcRootDN: %[3]s
olcRootPW: %[4]s
olcDbDirectory: %[1]s/data
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: cn eq
olcDbIndex: entryUUID eq
olcDbIndex: entryCSN eq
olcDbIndex: member eq
olcDbIndex: memberOf eq
olcDbIndex: modifyTimestamp eq
olcSizeLimit: unlimited
olcLimits: {0}* size.unchecked=unlimited size.pr=unlimited size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by * read

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
olcRefintNothing: %[5]s

%[6]s
dn: olcOverlay={3}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {3}ppolicy
olcPPolicyUseLockout: TRUE
`, s.dir, s.Suffix, s.AdminDN, s.AdminPassword, Placeholder, syncprov)
	return b.String()
}

func (s *Server) slapadd(ctx context.Context, db int, ldif string) error {
	bin, err := lookPath("slapadd")
	if err != nil {
		return err
	}
	f := filepath.Join(s.dir, fmt.Sprintf("load-%d.ldif", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(ldif), 0o600); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	defer os.Remove(f)
	var args []string
	if db == 0 {
		args = []string{"-n0", "-F", s.configDir, "-l", f}
	} else {
		args = []string{"-q", "-F", s.configDir, "-b", s.Suffix, "-l", f}
	}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldaptest: slapadd %v: %w: %s", args, err, out)
	}
	return nil
}

// SlapaddFile bulk-loads an LDIF file into a stopped server's database.
func (s *Server) SlapaddFile(ctx context.Context, path string) error {
	bin, err := lookPath("slapadd")
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, bin, "-q", "-F", s.configDir, "-b", s.Suffix, "-l", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldaptest: slapadd %s: %w: %s", path, err, out)
	}
	return nil
}

func (s *Server) start(ctx context.Context) error {
	bin, err := lookPath("slapd")
	if err != nil {
		return err
	}
	urls := s.URL
	if s.LDAPSURL != "" {
		urls += " " + s.LDAPSURL
	}
	// -d 0 keeps slapd in the foreground, so its PID is ours to stop.
	cmd := exec.Command(bin, "-d", "0", "-h", urls, "-F", s.configDir)
	cmd.Stdout = s.opts.Stderr
	cmd.Stderr = s.opts.Stderr
	d, err := startDaemon(cmd)
	if err != nil {
		return fmt.Errorf("ldaptest: start slapd: %w", err)
	}
	if err := d.waitListen(ctx, s.port, 20*time.Second); err != nil {
		return fmt.Errorf("ldaptest: slapd (port %d): %w", s.port, err)
	}
	s.proc = d
	return nil
}

// Kill stops slapd at once with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Stop stops slapd gracefully (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.stop(10 * time.Second)
		s.proc = nil
	}
}

// Restart starts slapd again on the same ports and data after Kill or Stop.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.start(ctx)
}

// Close stops slapd and removes a state folder Start created itself.
func (s *Server) Close() error {
	s.Stop()
	if s.ownDir {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// Modify applies LDIF change records (changetype: add/modify/modrdn/delete)
// with ldapmodify bound as the admin.
func (s *Server) Modify(ctx context.Context, ldif string) error {
	return ldapModify(ctx, s.URL, s.AdminDN, s.AdminPassword, nil, ldif)
}

// ldapModify runs ldapmodify bound as dn with LDIF change records on
// its standard input; env is added to its environment.
func ldapModify(ctx context.Context, url, dn, password string, env []string, ldif string) error {
	bin, err := lookPath("ldapmodify")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-x", "-H", url, "-D", dn, "-w", password)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(ldif)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldaptest: ldapmodify: %w: %s", err, out)
	}
	return nil
}

// MustModify is Modify for tests.
func (s *Server) MustModify(t testing.TB, ldif string) {
	t.Helper()
	mustModify(t, s.Modify, ldif)
}

// mustModify applies ldif with modify and fails t when it cannot.
func mustModify(t testing.TB, modify func(context.Context, string) error, ldif string) {
	t.Helper()
	if err := modify(t.Context(), ldif); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) writeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Roster test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	files := map[string][]byte{
		"ca.pem":     s.CAPEM,
		"server.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), b, 0o600); err != nil {
			return fmt.Errorf("ldaptest: %w", err)
		}
	}
	return nil
}

// UntrustedCA returns the PEM of a fresh CA that signed nothing the server
// presents, for tests of certificate verification.
func UntrustedCA() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "untrusted"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
