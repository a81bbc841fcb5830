package ldaptest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Defaults of a 389 Directory Server test instance.
const (
	// DS389AdminDN is the instance's root DN.
	DS389AdminDN = "cn=Directory Manager"
	// DS389Password is its password (dscreate wants eight characters).
	DS389Password = "secret-389-ds"
	ds389Instance = "roster"
)

// ErrNo389DS is returned by StartDS389 when 389-ds-base (dscreate,
// ns-slapd) or ldapmodify is not installed.
var ErrNo389DS = errors.New("ldaptest: 389 Directory Server not installed (run scripts/deps/389ds.sh)")

// DS389 is a running private 389 Directory Server instance (Debian's
// 389-ds-base), created with `dscreate from-file` under a private PREFIX
// in a temporary folder: its dse.ldif, database, logs, lock and run files
// all live there, nothing under /etc or /var is touched, and the server
// runs in the foreground as the current user, stopped by PID.
//
// The instance has the suffix dc=example,dc=com (a "domain" entry),
// ou=people and ou=groups, and the Retro Changelog plugin
// (cn=changelog, recording targetUniqueId as FreeIPA does) and the
// Referential Integrity plugin (a deleted user leaves its groups) turned
// on, as a FreeIPA server has them.
type DS389 struct {
	// URL is the ldap:// address on 127.0.0.1.
	URL           string
	Suffix        string
	AdminDN       string
	AdminPassword string
	// Dir is the private PREFIX of the instance.
	Dir string

	port      int
	configDir string
	pidFile   string
	stderr    io.Writer
	proc      *daemon
}

// DS389Installed returns nil when an instance can be created here.
func DS389Installed() error {
	for _, b := range []string{"dscreate", "ns-slapd", "ldapmodify"} {
		if _, err := lookPath(b); err != nil {
			return fmt.Errorf("%w: %s", ErrNo389DS, b)
		}
	}
	if _, err := os.Stat("/usr/share/dirsrv/inf/defaults.inf"); err != nil {
		return fmt.Errorf("%w: %w", ErrNo389DS, err)
	}
	return nil
}

// NewDS389 creates and starts an instance for test t, loads ldif (LDIF
// change records, as ldapmodify reads them) and stops it in t.Cleanup.
// Without 389-ds-base it skips the test, unless the environment variable
// CI is set, in which case the test fails.
func NewDS389(t testing.TB, ldif ...string) *DS389 {
	t.Helper()
	if err := DS389Installed(); err != nil {
		needServer(t, err)
	}
	d, err := StartDS389(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for _, l := range ldif {
		d.MustModify(t, l)
	}
	return d
}

// StartDS389 creates an instance in a new temporary folder and starts it;
// the caller must Close it. The server's own output goes to stderr when
// it is not nil.
func StartDS389(ctx context.Context, stderr io.Writer) (*DS389, error) {
	if err := DS389Installed(); err != nil {
		return nil, err
	}
	// A short path: the instance's ldapi socket lives under it.
	dir, err := os.MkdirTemp("", "ds389-")
	if err != nil {
		return nil, fmt.Errorf("ldaptest: %w", err)
	}
	d := &DS389{Suffix: DefaultSuffix, AdminDN: DS389AdminDN, AdminPassword: DS389Password, Dir: dir, stderr: stderr}
	d.configDir = filepath.Join(dir, "etc", "dirsrv", "slapd-"+ds389Instance)
	d.pidFile = filepath.Join(dir, "run", "dirsrv", "slapd-"+ds389Instance+".pid")
	if err := d.create(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := d.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := d.Modify(ctx, ds389BaseLDIF); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

const ds389BaseLDIF = `dn: ou=people,dc=example,dc=com
changetype: add
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
changetype: add
objectClass: organizationalUnit
ou: groups
`

// create lays out the private PREFIX and runs dscreate. dscreate reads
// its default paths from $PREFIX/share/dirsrv/inf/defaults.inf and copies
// the server's default schema and configuration from
// $PREFIX/etc/dirsrv; both are the system's, with every per-instance path
// moved under the PREFIX.
func (d *DS389) create(ctx context.Context) error {
	var err error
	if d.port, err = freePort(); err != nil {
		return err
	}
	securePort, err := freePort()
	if err != nil {
		return err
	}
	d.URL = fmt.Sprintf("ldap://127.0.0.1:%d", d.port)
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	infDir := filepath.Join(d.Dir, "share", "dirsrv", "inf")
	if err := os.MkdirAll(infDir, 0o755); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	defaults, err := ds389Defaults(d.Dir, u.Username, g.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(infDir, "defaults.inf"), []byte(defaults), 0o644); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	for _, sub := range []string{"schema", "config"} {
		if err := os.CopyFS(filepath.Join(d.Dir, "etc", "dirsrv", sub), os.DirFS(filepath.Join("/etc/dirsrv", sub))); err != nil {
			return fmt.Errorf("ldaptest: copy /etc/dirsrv/%s: %w", sub, err)
		}
	}
	inf := fmt.Sprintf(`[general]
full_machine_name = localhost
start = False
strict_host_checking = False
systemd = False
selinux = False

[slapd]
instance_name = %s
port = %d
secure_port = %d
root_password = %s
self_sign_cert = False
user = %s
group = %s

[backend-userroot]
suffix = %s
create_suffix_entry = True
`, ds389Instance, d.port, securePort, d.AdminPassword, u.Username, g.Name, d.Suffix)
	infFile := filepath.Join(d.Dir, "instance.inf")
	if err := os.WriteFile(infFile, []byte(inf), 0o600); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	bin, err := lookPath("dscreate")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "from-file", infFile)
	cmd.Env = append(os.Environ(), "PREFIX="+d.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldaptest: dscreate: %w: %s", err, out)
	}
	return d.enablePlugins()
}

// ds389Defaults rewrites the system's defaults.inf for an instance under
// prefix: the per-instance paths (configuration, database, logs, run and
// lock files) move there; the binaries, plugins and system schema stay
// the system's.
func ds389Defaults(prefix, userName, group string) (string, error) {
	b, err := os.ReadFile("/usr/share/dirsrv/inf/defaults.inf")
	if err != nil {
		return "", fmt.Errorf("ldaptest: %w", err)
	}
	set := map[string]string{
		"sysconf_dir":     prefix + "/etc",
		"initconfig_dir":  prefix + "/etc/default",
		"local_state_dir": prefix + "/var",
		"run_dir":         prefix + "/run/dirsrv",
		"inst_dir":        prefix + "/lib/dirsrv/slapd-{instance_name}",
		"db_home_dir":     prefix + "/dbhome/slapd-{instance_name}",
		"tmpfiles_d":      prefix + "/tmpfiles.d",
		"with_systemd":    "0",
		"user":            userName,
		"group":           group,
	}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, " = ")
		switch {
		case !ok || strings.HasPrefix(line, ";"):
		case set[key] != "":
			line = key + " = " + set[key]
		default:
			for _, sys := range []string{"/etc/", "/var/", "/run/"} {
				if strings.HasPrefix(val, sys) {
					line = key + " = " + prefix + val
				}
			}
		}
		out.WriteString(line + "\n")
	}
	return out.String(), sc.Err()
}

// enablePlugins turns on the Retro Changelog (with nsUniqueId recorded
// as targetUniqueId) and Referential Integrity plugins in the stopped
// instance's dse.ldif.
func (d *DS389) enablePlugins() error {
	path := filepath.Join(d.configDir, "dse.ldif")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	entries := strings.Split(string(b), "\n\n")
	found := 0
	for i, e := range entries {
		retro := strings.HasPrefix(e, "dn: cn=Retro Changelog Plugin,cn=plugins,cn=config\n")
		if !retro && !strings.HasPrefix(e, "dn: cn=referential integrity postoperation,cn=plugins,cn=config\n") {
			continue
		}
		found++
		e = strings.Replace(e, "nsslapd-pluginEnabled: off", "nsslapd-pluginEnabled: on", 1)
		if retro {
			e = strings.TrimRight(e, "\n") + "\nnsslapd-attribute: nsuniqueid:targetUniqueId"
		}
		entries[i] = e
	}
	if found != 2 {
		return fmt.Errorf("ldaptest: %s: found %d of the 2 plugins to enable", path, found)
	}
	if err := os.WriteFile(path, []byte(strings.Join(entries, "\n\n")), 0o600); err != nil {
		return fmt.Errorf("ldaptest: %w", err)
	}
	return nil
}

// start runs ns-slapd in the foreground (-d 0), so its PID is ours to
// stop, and waits until it listens.
func (d *DS389) start(ctx context.Context) error {
	bin, err := lookPath("ns-slapd")
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-D", d.configDir, "-i", d.pidFile, "-d", "0")
	if d.stderr != nil {
		cmd.Stdout, cmd.Stderr = d.stderr, d.stderr
	}
	p, err := startDaemon(cmd)
	if err != nil {
		return fmt.Errorf("ldaptest: start ns-slapd: %w", err)
	}
	if err := p.waitListen(ctx, d.port, 60*time.Second); err != nil {
		return fmt.Errorf("ldaptest: ns-slapd (port %d; errors log under %s): %w", d.port, filepath.Join(d.Dir, "var", "log"), err)
	}
	d.proc = p
	return nil
}

// Stop stops ns-slapd by PID (SIGTERM, then SIGKILL after 20 s).
func (d *DS389) Stop() {
	if d.proc != nil {
		d.proc.stop(20 * time.Second)
		d.proc = nil
	}
}

// Restart starts the instance again after Stop, on the same port.
func (d *DS389) Restart(ctx context.Context) error {
	d.Stop()
	return d.start(ctx)
}

// Close stops the server and removes its folder.
func (d *DS389) Close() error {
	d.Stop()
	return os.RemoveAll(d.Dir)
}

// Modify applies LDIF change records with ldapmodify bound as the
// Directory Manager.
func (d *DS389) Modify(ctx context.Context, ldif string) error {
	return ldapModify(ctx, d.URL, d.AdminDN, d.AdminPassword, nil, ldif)
}

// MustModify is Modify for tests.
func (d *DS389) MustModify(t testing.TB, ldif string) {
	t.Helper()
	mustModify(t, d.Modify, ldif)
}
