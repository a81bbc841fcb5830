// Command ldapbench measures Roster's LDAP sync against a private slapd
// loaded with a generated directory (see scripts/bench-ldap.sh).
//
//	ldapbench [-users 100000] [-groups 5000] [-changes 100] [-pairs 5] [-keep]
//
// It generates the LDIF, bulk-loads it with `slapadd -q` and starts slapd.
// Then, with the directory warm (one untimed search of everything first),
// it alternates a raw paged ldapsearch (-E pr=1000/noprompt) of the same
// entries with every user attribute (and the operational ones the sync
// reads) and a full sync into a fresh bbolt store by a child process
// (`ldapbench sync -only-full …`), -pairs times, and reports the median of
// the pairs' ratios with the load average before and after. With
// LDAPBENCH_AB=BINARY (ldapbench built from another commit), each pair
// also times BINARY's full sync against the same raw search, the two in
// alternating order, reported as B: a before/after comparison under the
// same load. A last child
// performs a full sync, applies the changes, performs an incremental sync
// and a full reconcile, and reports its peak RSS (VmHWM). Children print
// one JSON line; the parent prints a report.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ldapbench sync:", err)
			os.Exit(1)
		}
		return
	}
	if err := parent(); err != nil {
		fmt.Fprintln(os.Stderr, "ldapbench:", err)
		os.Exit(1)
	}
}

// result is what the child reports.
type result struct {
	Full          float64        `json:"fullSeconds"`
	Incremental   float64        `json:"incrementalSeconds"`
	Steady        float64        `json:"steadyFullSeconds"`
	FullStatus    ldap.RunStatus `json:"full"`
	IncrStatus    ldap.RunStatus `json:"incremental"`
	PeakRSSKiB    int64          `json:"peakRSSKiB"`
	PeakFullKiB   int64          `json:"peakAfterFirstFullKiB"`
	FileFullKiB   int64          `json:"rssFileAfterFirstFullKiB"`
	HeapPeakBytes uint64         `json:"heapSysBytes"`
	StoreBytes    int64          `json:"storeBytes"`
	RssAnonKiB    int64          `json:"rssAnonKiB"`
	RssFileKiB    int64          `json:"rssFileKiB"`
	PeakSample    rssSample      `json:"peakSample"`
}

// The raw search reads every user attribute and the operational ones the
// sync reads: more than the sync asks for, never less.
var userAttrs = []string{"*", "entryUUID", "entryCSN", "pwdAccountLockedTime"}
var groupAttrs = []string{"*", "entryUUID", "entryCSN"}

func parent() error {
	users := flag.Int("users", 100000, "number of users")
	groups := flag.Int("groups", 5000, "number of groups")
	changes := flag.Int("changes", 100, "changes before the incremental sync")
	pairs := flag.Int("pairs", 5, "alternating raw search / full sync pairs timed")
	keep := flag.Bool("keep", false, "keep the state folder")
	flag.Parse()
	ctx := context.Background()

	dir, err := os.MkdirTemp("", "ldapbench-*")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	fmt.Printf("state folder: %s\n", dir)

	t := time.Now()
	ldif := filepath.Join(dir, "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		return err
	}
	if err := ldaptest.Generate(f, ldaptest.GenOptions{Users: *users, Groups: *groups, Seed: 42}); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st, _ := os.Stat(ldif)
	fmt.Printf("generated %d users, %d groups (%.1f MiB LDIF) in %s\n", *users, *groups, float64(st.Size())/(1<<20), since(t))

	t = time.Now()
	srv, err := ldaptest.Start(ctx, ldaptest.Options{Dir: filepath.Join(dir, "slapd"), LDIFFiles: []string{ldif}})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("slapadd -q + slapd start: %s (%s)\n", since(t), srv.URL)

	base := "ou=people," + srv.Suffix
	gbase := "ou=groups," + srv.Suffix
	raw := func() (float64, error) {
		rawU, nU, err := rawSearch(ctx, srv, base, "(objectClass=inetOrgPerson)", userAttrs)
		if err != nil {
			return 0, err
		}
		rawG, nG, err := rawSearch(ctx, srv, gbase, "(objectClass=groupOfNames)", groupAttrs)
		if err != nil {
			return 0, err
		}
		if nU < *users || nG < *groups {
			return 0, fmt.Errorf("raw search read %d users, %d groups", nU, nG)
		}
		return (rawU + rawG).Seconds(), nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// LDAPBENCH_POSTGRES=1: the syncs write into a private PostgreSQL
	// (a fresh database each) instead of bbolt files.
	var pg *pgtest.Server
	if os.Getenv("LDAPBENCH_POSTGRES") != "" {
		if pg, err = pgtest.StartDurable(); err != nil {
			return err
		}
		defer pg.Stop()
		fmt.Printf("store: PostgreSQL on port %d (durable)\n", pg.Port())
	}
	dbFor := func(path string) (string, error) {
		if pg == nil {
			return path, nil
		}
		dsn, err := pg.NewDatabase(ctx)
		return "postgres:" + dsn, err
	}
	childArgs := func(db string, extra ...string) []string {
		return append([]string{"sync", "-url", srv.URL, "-bind", srv.AdminDN, "-password", srv.AdminPassword,
			"-db", db, "-changes", fmt.Sprint(*changes), "-users", fmt.Sprint(*users), "-groups", fmt.Sprint(*groups)}, extra...)
	}

	// The directory warm: one untimed search of everything first.
	if _, err := raw(); err != nil {
		return err
	}
	load0 := loadavg()
	var raws, syncs, ratios, syncsB, ratiosB []float64
	var cpu, cpuB float64
	for i := 0; i < *pairs; i++ {
		rs, err := raw()
		if err != nil {
			return err
		}
		db, err := dbFor(filepath.Join(dir, fmt.Sprintf("pair%d.db", i)))
		if err != nil {
			return err
		}
		extra := []string{"-only-full"}
		if p := os.Getenv("LDAPBENCH_CPUPROFILE"); p != "" {
			extra = append(extra, "-cpuprofile", fmt.Sprintf("%s.pair%d", p, i+1))
		}
		// LDAPBENCH_AB=BINARY: each pair also times BINARY's full sync
		// (another build of ldapbench) against the same raw search,
		// the two in alternating order.
		run := func(bin string) (float64, float64, error) {
			cmd := exec.CommandContext(ctx, bin, childArgs(db, extra...)...)
			cmd.Stderr = io.Discard
			if os.Getenv("LDAPBENCH_VERBOSE") != "" {
				cmd.Stderr = os.Stderr
			}
			out, err := cmd.Output()
			if err != nil {
				return 0, 0, fmt.Errorf("child %s: %w", bin, err)
			}
			var r result
			if err := json.Unmarshal(lastLine(out), &r); err != nil {
				return 0, 0, fmt.Errorf("child output %q: %w", out, err)
			}
			os.Remove(db)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && os.Getenv("LDAPBENCH_VERBOSE") != "" {
				fmt.Printf("   child: user %.2fs sys %.2fs, %d minor faults\n", cmd.ProcessState.UserTime().Seconds(), cmd.ProcessState.SystemTime().Seconds(), ru.Minflt)
			}
			return r.Full, cmd.ProcessState.UserTime().Seconds() + cmd.ProcessState.SystemTime().Seconds(), nil
		}
		if other := os.Getenv("LDAPBENCH_AB"); other != "" && i%2 == 1 {
			full, c, err := run(other)
			if err != nil {
				return err
			}
			syncsB, ratiosB, cpuB = append(syncsB, full), append(ratiosB, full/rs), cpuB+c
			fmt.Printf("pair %d: B (%s) %.2fs = %.2f× (CPU %.2fs)\n", i+1, other, full, full/rs, c)
		}
		full, c, err := run(self)
		if err != nil {
			return err
		}
		raws, syncs, ratios = append(raws, rs), append(syncs, full), append(ratios, full/rs)
		cpu += c
		fmt.Printf("pair %d: raw %.2fs, full sync into a fresh store %.2fs = %.2f× (CPU %.2fs)\n", i+1, rs, full, full/rs, c)
		if other := os.Getenv("LDAPBENCH_AB"); other != "" && i%2 == 0 {
			full, c, err := run(other)
			if err != nil {
				return err
			}
			syncsB, ratiosB, cpuB = append(syncsB, full), append(ratiosB, full/rs), cpuB+c
			fmt.Printf("pair %d: B (%s) %.2fs = %.2f× (CPU %.2fs)\n", i+1, other, full, full/rs, c)
		}
	}
	if *pairs > 0 {
		fmt.Printf("MEDIAN of %d pairs: raw %.2fs, full sync %.2fs, ratio %.2f× (target ≤ 2×); sync CPU %.2fs per run; load average before %s, after %s\n",
			*pairs, median(raws), median(syncs), median(ratios), cpu/float64(*pairs), load0, loadavg())
		if len(syncsB) > 0 {
			fmt.Printf("MEDIAN of B (%s): full sync %.2fs, ratio %.2f×; sync CPU %.2fs per run\n",
				os.Getenv("LDAPBENCH_AB"), median(syncsB), median(ratiosB), cpuB/float64(len(syncsB)))
		}
	}

	lastDB, err := dbFor(filepath.Join(dir, "roster.db"))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, childArgs(lastDB)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	raw1, err := raw()
	if err != nil {
		return err
	}
	var r result
	if err := json.Unmarshal(lastLine(out), &r); err != nil {
		return fmt.Errorf("child output %q: %w", out, err)
	}
	rawS := raw1
	fmt.Printf("last run: raw %.2fs; roster full sync into a fresh store: %.2fs = %.2f× raw (target ≤ 2×); users %+v groups %+v\n",
		rawS, r.Full, r.Full/rawS, r.FullStatus.Users, r.FullStatus.Groups)
	fmt.Printf("roster incremental sync after %d changes: %.3fs (target < 1s); read %d users %d groups; users %+v groups %+v\n",
		*changes, r.Incremental, r.IncrStatus.UsersRead, r.IncrStatus.GroupsRead, r.IncrStatus.Users, r.IncrStatus.Groups)
	fmt.Printf("roster full reconcile with nothing to change: %.2fs = %.2f× raw\n", r.Steady, r.Steady/rawS)
	fmt.Printf("peak RSS of the sync process: %.1f MiB (target < 400 MiB); at exit anon %.1f MiB + file-backed (bbolt mmap) %.1f MiB; Go heap sys %.1f MiB; bbolt file %.1f MiB\n",
		float64(r.PeakRSSKiB)/1024, float64(r.RssAnonKiB)/1024, float64(r.RssFileKiB)/1024,
		float64(r.HeapPeakBytes)/(1<<20), float64(r.StoreBytes)/(1<<20))
	fmt.Printf("CPU time of the sync process (all three runs; less sensitive to other load than wall time): user %.2fs + system %.2fs\n",
		cmd.ProcessState.UserTime().Seconds(), cmd.ProcessState.SystemTime().Seconds())
	fmt.Printf("peak RSS after the first full sync: %.1f MiB, of which file-backed (bbolt mmap) %.1f MiB at that point\n",
		float64(r.PeakFullKiB)/1024, float64(r.FileFullKiB)/1024)
	p := r.PeakSample
	fmt.Printf("largest RSS sampled (every 20ms): %.1f MiB at %.2fs (%s), anon %.1f MiB + file-backed %.1f MiB; Go heap goal then %.1f MiB\n",
		float64(p.RSSKiB)/1024, p.At, p.Run, float64(p.AnonKiB)/1024, float64(p.FileKiB)/1024, float64(p.HeapGoal)/(1<<20))
	fmt.Printf("machine: %d CPUs, %s; GOMEMLIMIT=%q GOGC=%q\n", runtime.NumCPU(), runtime.Version(), os.Getenv("GOMEMLIMIT"), os.Getenv("GOGC"))
	return nil
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

// rawSearch times ldapsearch with the paged results control, output
// discarded, and counts the entries.
func rawSearch(ctx context.Context, srv *ldaptest.Server, base, filter string, attrs []string) (time.Duration, int, error) {
	args := append([]string{"-x", "-LLL", "-H", srv.URL, "-D", srv.AdminDN, "-w", srv.AdminPassword,
		"-b", base, "-E", "pr=1000/noprompt", filter}, attrs...)
	cmd := exec.CommandContext(ctx, "ldapsearch", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	n := 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte("dn: ")) {
			n++
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("ldapsearch: %w", err)
	}
	return time.Since(t), n, nil
}

// child runs in its own process so that its peak RSS is the sync's.
func child(args []string) error {
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	url := fs.String("url", "", "")
	bind := fs.String("bind", "", "")
	password := fs.String("password", "", "")
	db := fs.String("db", "", "")
	changes := fs.Int("changes", 100, "")
	users := fs.Int("users", 0, "")
	groups := fs.Int("groups", 0, "")
	cpuprofile := fs.String("cpuprofile", os.Getenv("LDAPBENCH_CPUPROFILE"), "")
	onlyFull := fs.Bool("only-full", false, "time one full sync only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	if p := os.Getenv("LDAPBENCH_MEMPROFILE"); p != "" {
		h = &heapAtProgress{Handler: h, path: p, at: int64(*users) * 9 / 10, done: map[string]bool{}}
	}
	log := slog.New(h)
	var st store.Store
	if dsn, ok := strings.CutPrefix(*db, "postgres:"); ok {
		pst, err := postgres.Open(ctx, dsn, postgres.Options{Logger: log, Migrate: true})
		if err != nil {
			return err
		}
		st = pst
	} else {
		bst, err := bolt.Open(*db, bolt.Options{Logger: log})
		if err != nil {
			return err
		}
		st = bst
	}
	defer st.Close()
	const tenant policy.TenantID = "bench"
	if err := st.Update(ctx, "bench", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: tenant, Name: "Bench", Kind: policy.TenantPartner})
	}); err != nil {
		return err
	}
	src, err := ldap.NewSource(ldap.Config{
		Logger: log, Store: st, Tenant: tenant, BulkBatchSize: envInt("LDAPBENCH_BULK"), HugePageHeap: envInt("LDAPBENCH_HUGEHEAP"),
		Directory: ldap.DirectoryConfig{
			ID: "bench", URL: *url, BindDN: *bind, BindPassword: *password,
			Users:  ldap.SearchConfig{BaseDN: "ou=people," + ldaptest.DefaultSuffix},
			Groups: ldap.SearchConfig{BaseDN: "ou=groups," + ldaptest.DefaultSuffix},
			// The incremental sync below deletes nothing; keep the
			// default guard.
		},
	})
	if err != nil {
		return err
	}
	defer src.Close()

	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var r result
	benchPhase.Store("full")
	stopSampler := sampleRSS(time.Now(), &r.PeakSample)
	t := time.Now()
	r.FullStatus, err = src.Sync(ctx, ldap.Full)
	r.Full = time.Since(t).Seconds()
	if err != nil {
		return err
	}
	r.PeakFullKiB, r.FileFullKiB = procStatus("VmHWM:"), procStatus("RssFile:")
	if *onlyFull {
		stopSampler()
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	if err := applyChanges(ctx, *url, *bind, *password, *changes, *users, *groups); err != nil {
		return err
	}
	benchPhase.Store("incremental")
	t = time.Now()
	r.IncrStatus, err = src.Sync(ctx, ldap.Incremental)
	r.Incremental = time.Since(t).Seconds()
	if err != nil {
		return err
	}
	// A full reconcile with nothing to write: read and diff only.
	benchPhase.Store("reconcile")
	t = time.Now()
	if _, err := src.Sync(ctx, ldap.Full); err != nil {
		return err
	}
	r.Steady = time.Since(t).Seconds()
	stopSampler()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapPeakBytes = ms.HeapSys
	r.PeakRSSKiB = procStatus("VmHWM:")
	r.RssAnonKiB = procStatus("RssAnon:")
	r.RssFileKiB = procStatus("RssFile:")
	if fi, err := os.Stat(*db); err == nil {
		r.StoreBytes = fi.Size()
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// applyChanges makes n realistic changes with ldapmodify: mostly
// attribute edits, some new users, some membership changes.
func applyChanges(ctx context.Context, url, bind, password string, n, users, groups int) error {
	var b strings.Builder
	for i := 0; i < n; i++ {
		u := (i * 997) % users
		switch i % 10 {
		case 0: // a new user, added to a group
			name := fmt.Sprintf("new%05d", i)
			fmt.Fprintf(&b, "dn: uid=%s,ou=people,%s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: %s\ncn: New %d\nsn: New\nmail: %s@example.com\n\n",
				name, ldaptest.DefaultSuffix, name, i, name)
		case 1: // the user just added joins a group
			fmt.Fprintf(&b, "dn: %s\nchangetype: modify\nadd: member\nmember: uid=new%05d,ou=people,%s\n\n",
				ldaptest.GroupDN((i*31)%groups), i-1, ldaptest.DefaultSuffix)
		default: // an attribute edit
			fmt.Fprintf(&b, "dn: %s\nchangetype: modify\nreplace: mail\nmail: changed%d@example.com\n-\nreplace: sn\nsn: Changed%d\n\n", ldaptest.UserDN(u), i, i)
		}
	}
	cmd := exec.CommandContext(ctx, "ldapmodify", "-x", "-c", "-H", url, "-D", bind, "-w", password)
	cmd.Stdin = strings.NewReader(b.String())
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ldapmodify: %w: %s", err, stderr.String())
	}
	return nil
}

// rssSample is the process's resident set at one moment of the runs.
type rssSample struct {
	At       float64 `json:"at"`  // seconds since the first run started
	Run      string  `json:"run"` // full, incremental or reconcile
	RSSKiB   int64   `json:"rssKiB"`
	AnonKiB  int64   `json:"anonKiB"`
	FileKiB  int64   `json:"fileKiB"`
	HeapGoal uint64  `json:"heapGoalBytes"`
}

// sampleRSS records in peak the largest resident set seen every 20ms,
// with its make-up, until stop is called. VmHWM says how high the process
// went; this says when, and whether the Go heap or bbolt's mapped file put
// it there.
func sampleRSS(t0 time.Time, peak *rssSample) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			st := procStatusAll()
			if st["VmRSS:"] <= peak.RSSKiB {
				continue
			}
			metrics.Read(goal)
			*peak = rssSample{At: time.Since(t0).Seconds(), Run: benchPhase.Load().(string),
				RSSKiB: st["VmRSS:"], AnonKiB: st["RssAnon:"], FileKiB: st["RssFile:"], HeapGoal: goal[0].Value.Uint64()}
		}
	}()
	return func() { close(done); <-finished }
}

// benchPhase names the run in progress, for sampleRSS.
var benchPhase atomic.Value

func procStatusAll() map[string]int64 {
	m := map[string]int64{}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return m
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok || strings.HasSuffix(k, ":") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			m[k] = kb
		}
	}
	return m
}

// procStatus returns a KiB figure of /proc/self/status, such as VmHWM (the
// peak resident set size).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, field)), "%d", &kb)
			return kb
		}
	}
	return 0
}

// heapAtProgress writes a heap profile (live objects after a GC) when the
// progress log of the first full run reaches at users read, and again in
// the reconcile (to path + ".reconcile").
type heapAtProgress struct {
	slog.Handler
	path string
	at   int64
	done map[string]bool
}

func (h *heapAtProgress) Handle(ctx context.Context, r slog.Record) error {
	phase, _ := benchPhase.Load().(string)
	if phase != "incremental" && !h.done[phase] && r.Message == "ldap sync progress" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "usersRead" && a.Value.Int64() >= h.at {
				h.done[phase] = true
				runtime.GC()
				path := h.path
				if phase != "full" {
					path += "." + phase
				}
				if f, err := os.Create(path); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h *heapAtProgress) WithAttrs(a []slog.Attr) slog.Handler {
	return &heapAtProgress{Handler: h.Handler.WithAttrs(a), path: h.path, at: h.at, done: h.done}
}

// envInt reads a tuning knob for experiments; 0 (the default) when unset.
func envInt(name string) int {
	var n int
	fmt.Sscan(os.Getenv(name), &n)
	return n
}
