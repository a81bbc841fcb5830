package bolt

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Environment of the crash child.
const (
	envCrashDB    = "ROSTER_BOLT_CRASH_DB"
	envCrashRound = "ROSTER_BOLT_CRASH_ROUND"
	crashBatch    = 7 // users per Update
	crashGroups   = 3 // directory groups the users rotate through
)

// TestCrashChild is not a test on its own: TestCrashSafety runs the test
// binary again with this test selected and envCrashDB set. It writes
// forever, printing "ACK <userName>" after each Update returns, until it is
// killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashDB)
	if path == "" {
		t.Skip("run by TestCrashSafety")
	}
	round := os.Getenv(envCrashRound)
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var groups []policy.DirGroupID
	err = s.Update(ctx, "crash", func(tx store.Tx) error {
		if _, err := tx.Tenant("acme"); err != nil {
			if err := tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme"}); err != nil {
				return err
			}
		}
		for i := range crashGroups {
			name := fmt.Sprintf("crash-%d", i)
			gs, err := tx.DirGroupsByName("acme", name)
			if err != nil {
				return err
			}
			if len(gs) == 0 {
				g, err := tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: name})
				if err != nil {
					return err
				}
				gs = append(gs, g)
			}
			groups = append(groups, gs[0].ID)
		}
		return nil
	})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		names := make([]string, crashBatch)
		err := s.Update(ctx, "crash", func(tx store.Tx) error {
			gid := groups[n%len(groups)]
			g, err := tx.DirGroup("acme", gid)
			if err != nil {
				return err
			}
			for i := range names {
				names[i] = fmt.Sprintf("r%s-u%05d-%d", round, n, i)
				u, err := tx.CreateUser("acme", policy.User{UserName: names[i], ExternalID: "x-" + names[i]})
				if err != nil {
					return err
				}
				g.MemberUsers = append(g.MemberUsers, u.ID)
			}
			_, err = tx.UpdateDirGroup("acme", g)
			return err
		})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		for _, name := range names {
			fmt.Fprintln(w, "ACK", name)
		}
		w.Flush()
	}
}

// TestCrashSafety kills a writing child process with SIGKILL at several
// points and checks that every acknowledged write survived and that no
// index is half-written.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]bool{}
	for round, killAfter := range []int{40, 150, 333, 500} {
		lines := runAndKill(t, path, round, killAfter)
		for _, l := range lines {
			acked[l] = true
		}

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		if err := s.Verify(context.Background()); err != nil {
			t.Errorf("round %d: Verify after kill: %v", round, err)
		}
		err = s.View(context.Background(), func(tx store.Tx) error {
			missing := 0
			for name := range acked {
				u, err := tx.UserByUserName("acme", name)
				if err != nil {
					if missing++; missing < 5 {
						t.Errorf("round %d: acknowledged user %s lost: %v", round, name, err)
					}
					continue
				}
				of, err := tx.DirGroupsOf("acme", string(u.ID))
				if err != nil || len(of) != 1 {
					t.Errorf("round %d: user %s in groups %v, %v", round, name, of, err)
				}
			}
			if missing > 0 {
				t.Errorf("round %d: %d of %d acknowledged users lost", round, missing, len(acked))
			}
			// Whole batches only: the user count is a multiple of the batch.
			n, err := tx.CountUsers("acme")
			if err != nil {
				return err
			}
			if n%crashBatch != 0 || n < len(acked) {
				t.Errorf("round %d: %d users stored, %d acknowledged, batch %d", round, n, len(acked), crashBatch)
			}
			members := 0
			err = tx.ForEachDirGroup("acme", func(g policy.DirGroup) error {
				members += len(g.MemberUsers)
				return nil
			})
			if members != n {
				t.Errorf("round %d: %d users but %d group members", round, n, members)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		t.Logf("round %d: killed after %d acknowledgements; %d acknowledged in all", round, len(lines), len(acked))
	}
}

// runAndKill starts the crash child, reads killAfter acknowledged user
// names, kills it with SIGKILL and returns the names.
func runAndKill(t *testing.T, path string, round, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashRound+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var names []string
	sc := bufio.NewScanner(out)
	for len(names) < killAfter && sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "ACK "); ok {
			names = append(names, name)
			continue
		}
		if strings.HasPrefix(line, "ERR") {
			t.Fatalf("child: %s", line)
		}
	}
	if len(names) < killAfter {
		t.Fatalf("child stopped after %d acknowledgements: %v", len(names), sc.Err())
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait() // reaps; the "signal: killed" error is expected
	return names
}
