package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/postgres"
)

var checksumRE = regexp.MustCompile(`checksum +([0-9a-f]{64})`)

// copyStore runs `roster store copy` and returns the checksum it verified.
func runStoreCopy(t *testing.T, from, to string) string {
	t.Helper()
	out, err := exec.Command(binary, "store", "copy", "--from", from, "--to", to).CombinedOutput()
	if err != nil {
		t.Fatalf("store copy --from %s --to %s: %v\n%s", from, to, err, out)
	}
	m := checksumRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("store copy printed no checksum:\n%s", out)
	}
	t.Logf("store copy --from %s:\n%s", strings.SplitN(from, ":", 2)[0], out)
	return string(m[1])
}

// TestStoreCopyRoundTrip: a bbolt store with a generated world, opaque
// records and audit events is copied to PostgreSQL and back to a new bbolt
// file; each copy verifies counts and checksum, the two checksums agree,
// the final file equals the first record for record and its indexes
// verify, a copy into a store that is not empty is refused, and the
// PostgreSQL copy takes writes that continue its audit sequence.
func TestStoreCopyRoundTrip(t *testing.T) { storeCopyRoundTrip(t, policytest.Small) }

// TestStoreCopyLargeWorld is the round trip of the 100,000-user world, a
// measured run for the README: ROSTER_COPY_LARGE=1 go test -run
// TestStoreCopyLargeWorld -v -timeout 30m ./cmd/roster/
func TestStoreCopyLargeWorld(t *testing.T) {
	if os.Getenv("ROSTER_COPY_LARGE") == "" {
		t.Skip("set ROSTER_COPY_LARGE=1 to copy the 100,000-user world")
	}
	storeCopyRoundTrip(t, policytest.Large)
}

func storeCopyRoundTrip(t *testing.T, size policytest.Config) {
	dsn, _ := pgDSN(t)
	dir := t.TempDir()
	first, last := filepath.Join(dir, "first.db"), filepath.Join(dir, "last.db")
	ctx := context.Background()
	src, err := bolt.Open(first, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := policytest.Generate(size)
	loadStart := time.Now()
	// The store keeps one rule per binding: drop the world's repeats.
	seen := map[[4]string]bool{}
	rules := w.Rules[:0]
	for _, r := range w.Rules {
		k := [4]string{string(r.Tenant), string(r.DirGroup), string(r.Group), string(r.Role)}
		if !seen[k] {
			seen[k] = true
			rules = append(rules, r)
		}
	}
	w.Rules = rules
	if err := src.Update(ctx, "test", func(tx store.Tx) error { return loadWorld(tx, w) }); err != nil {
		t.Fatal(err)
	}
	if err := src.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutRecord("oidc-keys", "set", []byte{0, 1, 2, 0xff, '\\', 'n'}); err != nil {
			return err
		}
		if err := tx.PutRecord("ldap", "vendor/corp\\state", []byte(`{"mark":"20250101000000Z"}`)); err != nil {
			return err
		}
		return tx.Record("acme", policy.OpCreate, "scim-token/x", map[string]any{"note": "é \u2028 \\ \"q\""})
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("world of %d users loaded into bbolt in %s", len(w.Users), time.Since(loadStart).Round(time.Millisecond))
	want, err := store.DigestOf(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	var lastSeq uint64
	if err := src.View(ctx, func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		lastSeq = cs[len(cs)-1].Seq
		return err
	}); err != nil {
		t.Fatal(err)
	}
	src.Close()

	sumPG := runStoreCopy(t, "bbolt:"+first, "postgres:"+dsn)
	sumBack := runStoreCopy(t, "postgres:"+dsn, "bbolt:"+last)
	if sumPG != want.Sum() || sumBack != want.Sum() {
		t.Errorf("checksums: source %s, to PostgreSQL %s, back %s", want.Sum(), sumPG, sumBack)
	}
	back, err := bolt.Open(last, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.DigestOf(ctx, back)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sum() != want.Sum() || got.Counts[policy.KindUser] != len(w.Users) {
		t.Errorf("round trip: %v %s, want %v %s", got.Counts, got.Sum(), want.Counts, want.Sum())
	}
	if err := back.Verify(ctx); err != nil {
		t.Errorf("indexes of the copy: %v", err)
	}
	back.Close()

	if out, err := exec.Command(binary, "store", "copy", "--from", "bbolt:"+first, "--to", "postgres:"+dsn).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("copy into a database that is not empty: %v\n%s", err, out)
	}

	pg, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	u := w.Users[0]
	u.Version, u.DisplayName = 0, "Renamed after the copy"
	var next []policy.Change
	pg.Subscribe(func(cs []policy.Change) { next = append(next, cs...) })
	if err := pg.Update(ctx, "test", func(tx store.Tx) error {
		cur, err := tx.User(u.Tenant, u.ID)
		if err != nil {
			return err
		}
		cur.DisplayName = u.DisplayName
		_, err = tx.UpdateUser(u.Tenant, cur)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].Seq != lastSeq+1 {
		t.Errorf("first change after the copy: %+v, want seq %d", next, lastSeq+1)
	}
}
