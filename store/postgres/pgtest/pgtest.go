// Package pgtest starts a private PostgreSQL server for tests: initdb into a
// temporary directory, a free port on 127.0.0.1, the Unix socket inside
// that directory, and, when the tests run as root (which postgres refuses),
// the server running as the unprivileged user nobody. One server serves a
// whole test binary (Main, from TestMain); each test gets a fresh database
// (DSN).
//
// On a machine without PostgreSQL the tests that need it skip; when the
// environment variable CI is set they fail instead, since CI must run them.
// scripts/deps/postgres.sh installs the server binaries.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDirs are the folders searched for initdb and postgres, after PATH.
var BinDirs = []string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin"}

// Server is a running private PostgreSQL.
type Server struct {
	dir  string // data directory and socket directory live here
	port int
	cmd  *exec.Cmd
	n    atomic.Int64
	// exited is closed when the server process has ended.
	exited chan struct{}
}

var (
	srv      *Server
	startErr error
	once     sync.Once
)

// Main runs the tests of a package that uses PostgreSQL: it starts the
// server lazily (on the first DSN), runs m, and stops the server by its
// PID. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	return code
}

// DSN returns the URL of a fresh, empty database on the shared server. It
// skips the test when PostgreSQL is not installed, and fails it instead
// when CI is set.
func DSN(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	dsn, err := s.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Shared returns the server of this test binary, starting it on first use.
// Only a test binary whose TestMain calls Main may use it (Main stops it).
func Shared(t testing.TB) *Server {
	t.Helper()
	Require(t)
	once.Do(func() { srv, startErr = Start() })
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	return srv
}

// Require skips the test when PostgreSQL is not installed, or fails it
// when the environment variable CI is set.
func Require(t testing.TB) {
	t.Helper()
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := findBin(name); err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("pgtest: %v (scripts/deps/postgres.sh installs it)", err)
			}
			t.Fatalf("pgtest: %v (CI must run this test: scripts/deps/postgres.sh installs it)", err)
		}
	}
}

// ErrNotInstalled: no initdb/postgres binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed")

// findBin returns the path of a PostgreSQL program.
func findBin(name string) (string, error) {
	for _, d := range BinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: no %s in PATH or %v", ErrNotInstalled, name, BinDirs)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initialises and starts a new server. Stop removes it. It does not
// sync to disk (fsync, synchronous_commit and full_page_writes are off):
// fast tests, nothing durable.
func Start() (*Server, error) { return start(false) }

// StartDurable is Start with PostgreSQL's durable defaults (every commit
// flushed to disk), for benchmarks that stand beside bbolt's fsync per
// commit.
func StartDurable() (*Server, error) { return start(true) }

func start(durable bool) (*Server, error) {
	initdb, err := findBin("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := findBin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "roster-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exited: make(chan struct{})}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "roster", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A port may be taken between freePort and the bind: try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		logf, err := os.Create(filepath.Join(dir, "postgres.log"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		args := []string{"-D", data, "-p", strconv.Itoa(s.port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=300", "-c", "shared_buffers=32MB",
			"-c", "max_pred_locks_per_transaction=256"}
		if !durable {
			args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		}
		s.cmd = exec.Command(postgres, args...)
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		if err := s.cmd.Start(); err != nil {
			logf.Close()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		s.exited = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); logf.Close(); close(done) }(s.cmd, s.exited)
		if err = s.waitReady(30 * time.Second); err == nil {
			return s, nil
		}
		s.kill()
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres did not start: %w\n%s", err, log)
		}
	}
}

// credential returns the user the server runs as: nobody when we are root
// (dir is handed over to it), else nil (ourselves).
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and no user nobody to run postgres as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// waitReady polls until the server accepts connections, it exits, or the
// deadline passes.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://roster@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port returns the TCP port the server listens on (127.0.0.1).
func (s *Server) Port() int { return s.port }

// PID returns the process id of the postmaster.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.n.Add(1))
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' STRATEGY file_copy"); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.url(name), nil
}

// kill stops the server process by its PID (fast shutdown) and waits.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Restart stops the server and starts it again on the same port and data
// (for tests of reconnection).
func (s *Server) Restart() error {
	s.kill()
	postgres, err := findBin("postgres")
	if err != nil {
		return err
	}
	args := s.cmd.Args[1:]
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	cmd := exec.Command(postgres, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = s.cmd.SysProcAttr
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); logf.Close(); close(done) }(s.exited)
	return s.waitReady(30 * time.Second)
}

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	s.kill()
	os.RemoveAll(s.dir)
}
