package ldaptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// errExited says that a server process exited while it was awaited.
var errExited = errors.New("exited on start")

// daemon is a server process run in the foreground in its own process
// group, so that its PID is ours to stop.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
}

// startDaemon starts cmd and reaps it when it exits.
func startDaemon(cmd *exec.Cmd) (*daemon, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	return d, nil
}

// waitListen waits until 127.0.0.1:port accepts a connection. It fails
// with errExited when the process exits first, ctx's error when ctx ends
// and an error after timeout; on ctx's end and the timeout it kills the
// process.
func (d *daemon) waitListen(ctx context.Context, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.done:
			return errExited
		case <-ctx.Done():
			d.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("did not listen on %d within %s", port, timeout)
		}
	}
}

// kill stops the process at once with SIGKILL, as a crash would.
func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (d *daemon) stop(grace time.Duration) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		d.kill()
	}
}
