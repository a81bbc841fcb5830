package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFullDiskSaysSo puts the store on a small tmpfs and fills it: writers
// get 507 with the storage code, /readyz fails, reads keep working; once
// space returns, writes and /readyz recover without a restart.
func TestFullDiskSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; mounting a tmpfs needs it")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })

	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, "")
	b, _ := os.ReadFile(cfg)
	b = bytes.Replace(b, []byte(filepath.Join(dir, "roster.db")), []byte(filepath.Join(mnt, "roster.db")), 1)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "serve", "--config", cfg)
	base := "http://" + addr
	s.waitReady(t, base)

	createGroup := func(i int) (int, string) {
		st, body := api(t, "POST", base+"/api/v1/groups", fmt.Sprintf(`{"slug":"sig-%d","name":"SIG %d","kind":"special-interest","description":%q}`, i, i, strings.Repeat("x", 2000)))
		return st, string(body)
	}
	if st, body := createGroup(0); st != 201 {
		t.Fatalf("first write: %d %s", st, body)
	}

	// Fill the file system to the last byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	f.Close()

	// Writers get the storage error (a few may still fit in free pages).
	var refused bool
	for i := 1; i <= 500 && !refused; i++ {
		st, body := createGroup(i)
		switch {
		case st == 507:
			if !strings.Contains(body, `"storage"`) {
				t.Errorf("507 without the storage code: %s", body)
			}
			refused = true
		case st != 201:
			t.Fatalf("write %d on a full disk: %d %s, want 201 or 507", i, st, body)
		}
	}
	if !refused {
		t.Fatal("no write was refused on a full disk")
	}
	if !waitStatus(t, base+"/readyz", 503) {
		t.Fatal("/readyz stayed ready while no write can succeed")
	}
	if st, body := api(t, "GET", base+"/api/v1/groups", ""); st != 200 || !strings.Contains(string(body), "sig-0") {
		t.Errorf("reads on a full disk: %d", st)
	}
	if !strings.Contains(s.output(), "storage failing") {
		t.Errorf("no log line names the storage condition:\n%s", s.output())
	}
	if n := strings.Count(s.output(), "storage failing"); n != 1 {
		t.Errorf("the storage condition was logged %d times, want once", n)
	}

	// Space returns: readiness and writes recover by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if !waitStatus(t, base+"/readyz", 200) {
		t.Fatal("/readyz did not recover after space returned")
	}
	if st, body := createGroup(1000); st != 201 {
		t.Fatalf("write after recovery: %d %s", st, body)
	}
	if !strings.Contains(s.output(), "storage recovered") {
		t.Error("recovery was not logged")
	}
}

// waitStatus polls url until it answers want, for up to 30 s.
func waitStatus(t *testing.T, url string, want int) bool {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, _ := getWithToken(t, url, ""); st == want {
			return true
		}
	}
	return false
}
