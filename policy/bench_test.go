package policy_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

// The large world (100,000 users, 10,000 groups ten levels deep, 20,000
// directory groups) is built only by benchmarks, once per process.
var (
	largeWorld  = sync.OnceValue(func() policy.World { return policytest.Generate(policytest.Large) })
	largeEngine = sync.OnceValue(func() *policy.Engine {
		e := policy.NewEngine(policy.EngineConfig{})
		e.Load(largeWorld())
		return e
	})
)

// query is one (user, permission, group) question on the large world.
type query struct {
	u policy.UserID
	p policy.Permission
	g policy.GroupID
}

// queries returns n deterministic questions. Half of them are about a group
// the user holds a role in, or a descendant of it, so that both yes and no
// answers (and long explanation chains) are measured.
func queries(b *testing.B, e *policy.Engine, n int) []query {
	b.Helper()
	w := largeWorld()
	rng := rand.New(rand.NewPCG(42, 42))
	perms := []policy.Permission{"group.read", "members.manage", "roles.assign", "meetings.edit"}
	out := make([]query, 0, n)
	for i := range n {
		u := w.Users[rng.IntN(len(w.Users))].ID
		g := w.Groups[rng.IntN(len(w.Groups))].ID
		if i%2 == 0 {
			if ms := e.EffectiveGroups(u); len(ms) > 0 {
				g = ms[rng.IntN(len(ms))].Group
				if ch := e.Children(g); len(ch) > 0 && rng.IntN(2) == 0 {
					g = ch[rng.IntN(len(ch))]
				}
			}
		}
		out = append(out, query{u, perms[rng.IntN(len(perms))], g})
	}
	return out
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkLoad loads the large world and reports the heap it keeps
// (heap-MB, after a GC, engine only: the World is dropped first).
func BenchmarkLoad(b *testing.B) {
	w := largeWorld()
	var e *policy.Engine
	for b.Loop() {
		e = policy.NewEngine(policy.EngineConfig{})
		e.Load(w)
	}
	b.StopTimer()
	base := heapMB()
	runtime.KeepAlive(e)
	e = nil
	after := heapMB()
	b.ReportMetric(base-after, "engine-heap-MB")
	b.ReportMetric(base, "heap-MB")
}

// inTurn calls fn on items in turn, one item per benchmark iteration.
func inTurn[T any](b *testing.B, items []T, fn func(T)) {
	i := 0
	for b.Loop() {
		fn(items[i%len(items)])
		i++
	}
}

func BenchmarkEffectiveGroups(b *testing.B) {
	e := largeEngine()
	inTurn(b, queries(b, e, 4096), func(q query) { e.EffectiveGroups(q.u) })
}

func BenchmarkCheck(b *testing.B) {
	e := largeEngine()
	inTurn(b, queries(b, e, 4096), func(q query) { e.Check(q.u, q.p, q.g) })
}

func BenchmarkExplain(b *testing.B) {
	e := largeEngine()
	inTurn(b, queries(b, e, 4096), func(q query) { e.Explain(q.u, q.p, q.g) })
}

func BenchmarkMembers(b *testing.B) {
	e := largeEngine()
	inTurn(b, largeWorld().Groups, func(g policy.Group) { e.Members(g.ID) })
}

func BenchmarkCharter(b *testing.B) {
	e := largeEngine()
	var locals []policy.GroupID
	for _, g := range largeWorld().Groups {
		if g.Kind == policy.GroupLocal {
			locals = append(locals, g.ID)
		}
	}
	inTurn(b, locals, func(g policy.GroupID) { e.Charter(g) })
}

// BenchmarkApply measures one change-feed batch: a user moved between two
// directory groups (two dirgroup updates).
func BenchmarkApply(b *testing.B) {
	e := policy.NewEngine(policy.EngineConfig{})
	w := largeWorld()
	e.Load(w)
	m := newModel(b, w, 3)
	batches := make([][]policy.Change, 1024)
	for i := range batches {
		batches[i] = []policy.Change{m.step(), m.step()}
	}
	inTurn(b, batches, func(batch []policy.Change) {
		if err := e.Apply(batch); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLatency samples single calls and reports their p50 and p99 (in
// µs) for EffectiveGroups, Check and Explain on the large world.
func BenchmarkLatency(b *testing.B) {
	e := largeEngine()
	qs := queries(b, e, 20_000)
	ops := []struct {
		name string
		fn   func(q query)
	}{
		{"EffectiveGroups", func(q query) { e.EffectiveGroups(q.u) }},
		{"Check", func(q query) { e.Check(q.u, q.p, q.g) }},
		{"Explain", func(q query) { e.Explain(q.u, q.p, q.g) }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, len(qs))
			for b.Loop() {
				lat = lat[:0]
				for _, q := range qs {
					t0 := time.Now()
					op.fn(q)
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Microsecond)
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(pct(1), "max-µs")
		})
	}
}

// BenchmarkWorldShape reports the shape of the generated world, to keep
// benchmark figures comparable across generator changes.
func BenchmarkWorldShape(b *testing.B) {
	w := largeWorld()
	e := largeEngine()
	var memberships, maxDepth int
	for _, u := range w.Users[:1000] {
		memberships += len(e.EffectiveGroups(u.ID))
	}
	for _, g := range w.Groups {
		maxDepth = max(maxDepth, len(e.Ancestors(g.ID)))
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(len(w.Users)), "users")
	b.ReportMetric(float64(len(w.Groups)), "groups")
	b.ReportMetric(float64(len(w.DirGroups)), "dirgroups")
	b.ReportMetric(float64(len(w.Rules)), "rules")
	b.ReportMetric(float64(maxDepth+1), "levels")
	b.ReportMetric(float64(memberships)/1000, "memberships/user")
}
