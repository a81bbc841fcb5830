package mail

import (
	"context"
	"fmt"
	netmail "net/mail"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkAnnouncement100k: an announcement to an ISUG of
// MAILBENCH_MEMBERS members (default 100,000) is queued — the POST's job
// record, then its expansion into one delivery per member in the store —
// with the heap sampled every 10 ms; then the first MAILBENCH_DELIVER
// (default 5,000) of them, by MAILBENCH_WORKERS workers (default 4), written to a LUG of that size, are delivered
// to Mailpit by the outbox, against Mailpit fed by the same SMTP client
// without the outbox. Reported: queue s; heap MB before, at its peak
// during the expansion (the garbage collector lets the heap grow to twice
// the live heap before it collects, GOGC=100) and after a collection
// once it is done; outbox msg/s, mailpit msg/s.
func BenchmarkAnnouncement100k(b *testing.B) {
	members, deliver := envInt("MAILBENCH_MEMBERS", 100_000), envInt("MAILBENCH_DELIVER", 5_000)
	mp := startMailpit(b, "--max", strconv.Itoa(2*deliver))
	st, err := bolt.Open(filepath.Join(b.TempDir(), "roster.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var isug, lug policy.Group
	start := time.Now()
	err = st.Update(ctx, "bench", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: "vendor", Name: "Vendor", Kind: policy.TenantVendor}); err != nil {
			return err
		}
		for _, r := range demo.DefaultRoles() {
			if _, err := tx.PutRole(r); err != nil {
				return err
			}
		}
		if isug, err = tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational}); err != nil {
			return err
		}
		lug, err = tx.CreateGroup(policy.Group{Slug: "lug", Name: "LUG", Kind: policy.GroupLocal, Parent: isug.ID})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 5000
	for base := 0; base < members; base += chunk {
		err := st.Update(ctx, "bench", func(tx store.Tx) error {
			for i := base; i < min(base+chunk, members); i++ {
				name := fmt.Sprintf("m%06d", i)
				u, err := tx.CreateUser("vendor", policy.User{UserName: name, Active: true, Source: "bench",
					Emails: []policy.Email{{Value: name + "@vendor.example", Primary: true}}})
				if err != nil {
					return err
				}
				g := isug.ID
				if i < deliver {
					g = lug.ID
				}
				if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: g, Role: "member", Origin: policy.OriginManual}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	eng := storetest.Engine(b, st, policy.EngineConfig{Charter: policy.DefaultCharter})
	b.Logf("world of %d members built in %v", members, time.Since(start).Round(time.Millisecond))
	sender := &SMTP{Host: "127.0.0.1", Port: mp.smtpPort, TLS: TLSNone}
	s, err := New(Config{Store: st, Engine: eng, Sender: sender, From: netmail.Address{Address: "groups@roster.example"}, BaseURL: "https://roster.example",
		Workers: envInt("MAILBENCH_WORKERS", 4)})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Process(ctx); err != nil { // cursor and digest week
		b.Fatal(err)
	}

	var queueSecs, heapBefore, heapPeak, heapAfter, outboxRate, mailpitRate float64
	for i := 0; b.Loop(); i++ {
		// Queue: the job record, then the expansion.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		})
		t0 := time.Now()
		var j Job
		err := st.Update(ctx, "bench", func(tx store.Tx) (err error) {
			j, err = Queue(tx, Announcement{Group: isug, Groups: []policy.GroupID{isug.ID, lug.ID}, Subject: "Conference " + strconv.Itoa(i), Body: "**Come.**"}, time.Now())
			return err
		})
		if err == nil {
			err = s.expand(ctx)
		}
		queueSecs = time.Since(t0).Seconds()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heapBefore, heapPeak, heapAfter = float64(base)/1e6, float64(peak.Load())/1e6, float64(ms.HeapAlloc)/1e6
		var st2 Status
		_ = st.View(ctx, func(tx store.Tx) (err error) { st2, err = JobStatus(tx, j.ID); return })
		if st2.Job.Recipients != members {
			b.Fatalf("%d deliveries queued, want %d", st2.Job.Recipients, members)
		}
		// Deliver: only the LUG's members are due; the rest wait.
		err = st.Update(ctx, "bench", func(tx store.Tx) error {
			return tx.ScanRecords(Namespace, "q/"+j.ID+"/", func(k string, v []byte) error {
				if len(v) > 0 && !containsVia(v, lug.ID) {
					return tx.DeleteRecord(Namespace, k)
				}
				return nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.deliver(ctx); err != nil {
			b.Fatal(err)
		}
		outboxRate = float64(deliver) / time.Since(t1).Seconds()
		// Mailpit alone: the same client, 4 senders, no outbox.
		msg := &Message{From: netmail.Address{Address: "groups@roster.example"}, Subject: "Direct", Text: "Come.", HTML: "<p>Come.</p>"}
		var next atomic.Int64
		t2 := time.Now()
		var swg sync.WaitGroup
		for range 4 {
			swg.Go(func() {
				for n := next.Add(1); n <= int64(deliver); n = next.Add(1) {
					m := *msg
					m.To = netmail.Address{Address: fmt.Sprintf("d%06d@vendor.example", n)}
					if err := sender.Send(ctx, &m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		swg.Wait()
		mailpitRate = float64(deliver) / time.Since(t2).Seconds()
		_ = sender.CloseIdle()
	}
	b.ReportMetric(queueSecs, "queue-s")
	b.ReportMetric(heapBefore, "heap-before-MB")
	b.ReportMetric(heapPeak, "heap-peak-MB")
	b.ReportMetric(heapAfter, "heap-after-MB")
	b.ReportMetric(outboxRate, "outbox-msg/s")
	b.ReportMetric(mailpitRate, "mailpit-msg/s")
}

// containsVia reports whether a delivery record was reached through g.
func containsVia(v []byte, g policy.GroupID) bool {
	return strings.Contains(string(v), `"via":"`+string(g)+`"`)
}
