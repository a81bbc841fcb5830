package ldaptest

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// Samba AD DC defaults: the domain a Samba server is provisioned with.
const (
	SambaRealm    = "EXAMPLE.TEST"
	SambaDomain   = "EXAMPLE"
	SambaBaseDN   = "DC=example,DC=test"
	SambaAdminDN  = "CN=Administrator,CN=Users,DC=example,DC=test"
	SambaPassword = "Roster-Admin-Pass1"
)

// ErrNoSamba is returned by StartSamba when samba, samba-tool or the
// ldap-utils clients are not installed, or when not running as root (the
// LDAP ports of a Samba DC are fixed, and 389 is privileged).
var ErrNoSamba = errors.New("ldaptest: samba AD DC not available")

// Samba is a running Samba Active Directory domain controller that serves
// only LDAP, on 127.0.0.1 ports 389 (ldap), 636 (ldaps) and 3268/3269
// (global catalog). Its TLS certificate for 127.0.0.1 is signed by a test
// CA generated on start (CAFile): Samba's own self-signed certificate has
// a random serial number, negative half of the time, which Go's x509
// refuses to parse.
//
// The ports are fixed, so one DC runs per machine at a time: StartSamba
// takes an exclusive lock file (os.TempDir()/roster-samba-389.lock) for the
// life of the server, and a second StartSamba in the same process fails.
// Share one server per test binary.
type Samba struct {
	// URL is ldap://127.0.0.1:389, LDAPSURL ldaps://127.0.0.1:636.
	URL, LDAPSURL string
	// BaseDN is the domain's naming context.
	BaseDN        string
	AdminDN       string
	AdminPassword string
	// Dir is the state folder (provisioned databases, smb.conf, logs).
	Dir string
	// CAFile is the PEM file of the CA of the server certificate; CAPEM
	// its bytes.
	CAFile string
	CAPEM  []byte
	// Provisioned and Started are how long provisioning and starting
	// (until LDAP answered) took.
	Provisioned, Started time.Duration

	owned bool // this server holds sambaRunning
	lock  *os.File
	cmd   *exec.Cmd
	stdin io.Closer
	done  chan struct{}
}

var sambaRunning atomic.Bool

// SambaInstalled returns nil when a Samba DC can be started here: samba,
// samba-tool, ldapsearch and ldapmodify are installed and the process
// runs as root. Otherwise it returns an error wrapping ErrNoSamba.
func SambaInstalled() error {
	for _, b := range []string{"samba", "samba-tool", "ldapsearch", "ldapmodify"} {
		if _, err := lookPath(b); err != nil {
			return fmt.Errorf("%w: %s not installed (run scripts/deps/samba.sh and slapd.sh)", ErrNoSamba, b)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root for port 389", ErrNoSamba)
	}
	return nil
}

// NewSamba provisions and starts a DC in t.TempDir(), stopped in
// t.Cleanup. When Samba cannot run here (SambaInstalled) it skips the
// test, unless the environment variable CI is set, in which case the test
// fails.
func NewSamba(t testing.TB) *Samba {
	t.Helper()
	if err := SambaInstalled(); err != nil {
		needServer(t, err)
	}
	var stderr io.Writer
	if testing.Verbose() {
		stderr = os.Stderr
	}
	s, err := StartSamba(t.Context(), t.TempDir(), stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// StartSamba provisions a domain (realm EXAMPLE.TEST, rfc2307, no DNS)
// into dir, writes an smb.conf that keeps every file in dir and runs only
// the LDAP server without requiring strong auth for simple binds, and
// starts `samba -i -M single`. It returns once LDAP answers. The caller
// must Close the server.
func StartSamba(ctx context.Context, dir string, stderr io.Writer) (*Samba, error) {
	if err := SambaInstalled(); err != nil {
		return nil, err
	}
	if !sambaRunning.CompareAndSwap(false, true) {
		return nil, errors.New("ldaptest: a Samba DC already runs in this process (port 389 is fixed): share it")
	}
	s := &Samba{
		URL: "ldap://127.0.0.1:389", LDAPSURL: "ldaps://127.0.0.1:636",
		BaseDN: SambaBaseDN, AdminDN: SambaAdminDN, AdminPassword: SambaPassword, Dir: dir,
		owned: true,
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.lockPort(ctx); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:389", time.Second); err == nil {
		c.Close()
		return nil, errors.New("ldaptest: port 389 is already taken (a system samba or slapd?); the test DC needs it")
	}
	t0 := time.Now()
	if err := s.provision(ctx); err != nil {
		return nil, err
	}
	s.Provisioned = time.Since(t0)
	t0 = time.Now()
	if err := s.start(ctx, stderr); err != nil {
		return nil, err
	}
	s.Started = time.Since(t0)
	ok = true
	return s, nil
}

// lockPort takes the machine-wide lock of the DC ports, waiting up to two
// minutes for another test binary's DC to go away.
func (s *Samba) lockPort(ctx context.Context) error {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "roster-samba-389.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("ldaptest: samba lock: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			s.lock = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return fmt.Errorf("ldaptest: samba lock %s (another test DC running?): %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Samba) provision(ctx context.Context) error {
	bin, err := lookPath("samba-tool")
	if err != nil {
		return err
	}
	args := []string{"domain", "provision", "--use-rfc2307",
		"--realm=" + SambaRealm, "--domain=" + SambaDomain, "--server-role=dc", "--dns-backend=NONE",
		"--adminpass=" + s.AdminPassword, "--host-name=dc1", "--targetdir=" + s.Dir,
		"--option=interfaces=lo", "--option=bind interfaces only=yes"}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = s.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldaptest: samba-tool domain provision: %w: %s", err, out)
	}
	for _, d := range []string{"run", "log", "sock", "tls"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return fmt.Errorf("ldaptest: %w", err)
		}
	}
	certs := &Server{dir: filepath.Join(s.Dir, "tls")}
	if err := certs.writeCerts(); err != nil {
		return err
	}
	s.CAFile, s.CAPEM = certs.CAFile, certs.CAPEM
	// The provisioned smb.conf starts from the system's (log file in
	// /var/log/samba, every service); ours keeps every path in Dir and
	// runs only LDAP. Provision drops "ldap server require strong auth"
	// when passed as an option, so it is only set here.
	conf := fmt.Sprintf(`[global]
	netbios name = DC1
	realm = %[2]s
	workgroup = %[3]s
	server role = active directory domain controller
	server services = ldap
	interfaces = 127.0.0.1
	bind interfaces only = yes
	ldap server require strong auth = no
	private dir = %[1]s/private
	state directory = %[1]s/state
	lock directory = %[1]s
	cache directory = %[1]s/cache
	binddns dir = %[1]s/bind-dns
	pid directory = %[1]s/run
	ncalrpc dir = %[1]s/sock
	winbindd socket directory = %[1]s/sock
	log file = %[1]s/log/log.%%m
	logging = file
	idmap_ldb:use rfc2307 = yes
	tls enabled = yes
	tls keyfile = %[1]s/tls/server.key
	tls certfile = %[1]s/tls/server.pem
	tls cafile = %[1]s/tls/ca.pem
`, s.Dir, SambaRealm, SambaDomain)
	if err := os.WriteFile(s.confPath(), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	return nil
}

func (s *Samba) confPath() string { return filepath.Join(s.Dir, "etc", "smb.conf") }

func (s *Samba) start(ctx context.Context, stderr io.Writer) error {
	bin, err := lookPath("samba")
	if err != nil {
		return err
	}
	// -i keeps samba in the foreground, so its PID is ours to stop.
	cmd := exec.Command(bin, "-s", s.confPath(), "-i", "-M", "single")
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// With -i, samba exits when a pipe on its stdin reaches EOF: a test
	// binary killed on timeout does not leave a DC holding port 389.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ldaptest: start samba: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ldaptest: start samba: %w", err)
	}
	s.cmd, s.stdin = cmd, stdin
	s.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Answering a rootDSE search, not just accepting, is "up".
		if s.rootDSE(ctx) == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("ldaptest: samba exited on start; see %s/log", s.Dir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ldaptest: samba LDAP did not answer within 60 s; see %s/log", s.Dir)
		}
	}
}

func (s *Samba) rootDSE(ctx context.Context) error {
	bin, err := lookPath("ldapsearch")
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return exec.CommandContext(cctx, bin, "-x", "-H", s.URL, "-b", "", "-s", "base", "highestCommittedUSN").Run()
}

// Close stops samba by PID (SIGTERM, then SIGKILL after 10 s) and
// releases the port lock. The state folder is left to its owner.
func (s *Samba) Close() error {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
		}
		s.stdin.Close()
		s.cmd = nil
	}
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
	if s.owned {
		s.owned = false
		sambaRunning.Store(false)
	}
	return nil
}

// Modify applies LDIF change records with ldapmodify over ldaps (Samba
// sets unicodePwd only on an encrypted connection), bound as the
// Administrator.
func (s *Samba) Modify(ctx context.Context, ldif string) error {
	return ldapModify(ctx, s.LDAPSURL, s.AdminDN, s.AdminPassword, []string{"LDAPTLS_CACERT=" + s.CAFile}, ldif)
}

// MustModify is Modify for tests.
func (s *Samba) MustModify(t testing.TB, ldif string) {
	t.Helper()
	mustModify(t, s.Modify, ldif)
}

// UnicodePwd returns the base64 LDIF value of AD's unicodePwd attribute
// for password: the password in double quotes, UTF-16LE ([MS-ADTS]
// §3.1.1.3.1.5.1). Use it as "unicodePwd:: " + UnicodePwd(p).
func UnicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// bulkScript adds users and a group listing them all to sam.ldb in one
// transaction, through Samba's own Python bindings (the dsdb modules
// still assign SIDs, GUIDs and USNs). Arguments: smb.conf, sam.ldb, the
// parent DN, the number of users, the group's cn (none when empty).
const bulkScript = `
import sys
from samba.samdb import SamDB
from samba.param import LoadParm
from samba.auth import system_session
conf, url, parent, n, group = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
lp = LoadParm()
lp.load(conf)
db = SamDB(url=url, session_info=system_session(), lp=lp)
db.transaction_start()
try:
    members = []
    for i in range(n):
        name = "bulk%05d" % i
        dn = "CN=%s,%s" % (name, parent)
        db.add({"dn": dn, "objectClass": "user", "sAMAccountName": name, "givenName": "Bulk",
                "sn": "%05d" % i, "displayName": "Bulk %05d" % i, "mail": name + "@example.test",
                "userAccountControl": "544"}, controls=["relax:0"])
        members.append(dn)
    if group:
        db.add({"dn": "CN=%s,%s" % (group, parent), "objectClass": "group", "sAMAccountName": group,
                "member": members}, controls=["relax:0"])
except:
    db.transaction_cancel()
    raise
db.transaction_commit()
`

// BulkUsers adds n enabled users named bulk00000… (sAMAccountName, cn,
// mail bulkNNNNN@example.test, no password) under parent, which must
// exist, and, when group is not empty, a group of that cn under parent
// listing them all. It writes sam.ldb directly in one transaction, with
// Samba's Python bindings, while the DC runs: about 100–200 users a
// second where ldapadd manages 50.
func (s *Samba) BulkUsers(ctx context.Context, parent string, n int, group string) error {
	tool, err := lookPath("samba-tool")
	if err != nil {
		return err
	}
	// samba-tool's interpreter is the one with the samba module.
	py := "python3"
	if b, err := os.ReadFile(tool); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(strings.TrimPrefix(line, "#!")); len(f) > 0 {
			py = f[0]
		}
	}
	cmd := exec.CommandContext(ctx, py, "-c", bulkScript, s.confPath(), filepath.Join(s.Dir, "private", "sam.ldb"),
		parent, fmt.Sprint(n), group)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldaptest: samba bulk load: %w: %s", err, out)
	}
	return nil
}
