package ldap_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// BenchmarkFullSync times a first full sync of a generated directory
// (100,000 users and 5,000 nested groups; 10,000 and 500 with -short)
// into a fresh bbolt store, once per iteration. Profile it with
// -cpuprofile; scripts/bench-ldap.sh compares it with a raw ldapsearch.
// It reports the store file's size (storeMiB).
func BenchmarkFullSync(b *testing.B) {
	users, groups := 100000, 5000
	if testing.Short() {
		users, groups = 10000, 500
	}
	dir := b.TempDir()
	ldif := filepath.Join(dir, "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	if err := ldaptest.Generate(f, ldaptest.GenOptions{Users: users, Groups: groups, Seed: 42}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	srv := ldaptest.New(b, ldaptest.Options{LDIFFiles: []string{ldif}})
	dirCfg := ldap.DirectoryConfig{
		ID: "bench", URL: srv.URL, BindDN: srv.AdminDN, BindPassword: srv.AdminPassword,
		Users:  ldap.SearchConfig{BaseDN: "ou=people," + srv.Suffix},
		Groups: ldap.SearchConfig{BaseDN: "ou=groups," + srv.Suffix},
	}
	var size, written int64
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(dir, "roster.db")
		os.Remove(path)
		st, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Update(b.Context(), "bench", func(tx store.Tx) error {
			return tx.PutTenant(policy.Tenant{ID: tenant, Name: "Bench", Kind: policy.TenantPartner})
		}); err != nil {
			b.Fatal(err)
		}
		src, err := ldap.NewSource(ldap.Config{Logger: slog.New(slog.DiscardHandler), Store: st, Tenant: tenant, Directory: dirCfg})
		if err != nil {
			b.Fatal(err)
		}
		w0, c0 := writtenBytes(), cpuTime()
		b.StartTimer()
		res, err := src.Sync(b.Context(), ldap.Full)
		b.StopTimer()
		written += writtenBytes() - w0
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if res.Users.Created != users || res.Groups.Created != groups {
			b.Fatalf("created %d users, %d groups; want %d, %d", res.Users.Created, res.Groups.Created, users, groups)
		}
		src.Close()
		st.Close()
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "storeMiB")
	b.ReportMetric(float64(written)/(1<<20)/float64(b.N), "writtenMiB/op")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime returns the user and system CPU time this process has used
// (not its children's: slapd's is not counted).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writtenBytes returns the bytes this process has passed to write system
// calls (wchar of /proc/self/io; 0 where there is none).
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
