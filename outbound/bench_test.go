package outbound

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// BenchmarkWebhookThroughput: b.N user.created events, written while the
// Service is stopped, delivered to a local receiver once it starts.
func BenchmarkWebhookThroughput(b *testing.B) {
	e := newEnv(b)
	rcv := newReceiver(b, testSecret, nil)
	tc := webhookTarget("chat", rcv.url())
	tc.Events = []string{CategoryUser}
	e.start(tc)
	e.stop()
	for i := 0; i < b.N; i += 500 {
		e.update(func(tx store.Tx) error {
			for j := i; j < min(i+500, b.N); j++ {
				if _, err := tx.CreateUser("acme", policy.User{UserName: fmt.Sprintf("u%d", j), Active: true, Source: "local"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.ResetTimer()
	start := time.Now()
	e.start(tc)
	waitFor(b, "every event", func() bool { return len(rcv.events()) >= b.N })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkWebhookLatency: the time from a change's commit to its
// delivery, one change at a time while the Service runs.
func BenchmarkWebhookLatency(b *testing.B) {
	e := newEnv(b)
	var mu sync.Mutex
	var lat []time.Duration
	rcv := newReceiver(b, testSecret, nil)
	tc := webhookTarget("chat", rcv.url())
	tc.Events = []string{CategoryUser}
	e.start(tc)
	b.ResetTimer()
	for i := range b.N {
		e.createUser("acme", fmt.Sprintf("u%d", i))
		waitFor(b, "the event", func() bool { return len(rcv.events()) > i })
	}
	b.StopTimer()
	for _, ev := range rcv.events() {
		mu.Lock()
		lat = append(lat, rcv.arrival[ev.ID].Sub(ev.Timestamp))
		mu.Unlock()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
