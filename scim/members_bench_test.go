package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// BenchmarkPatchOneMember measures a one-member SCIM PATCH over HTTP on a
// group of 50,000 members against the same on a group of 50, alternating
// the two (add, then remove, of a user not in the group), and reports the
// median latency of each and their ratio. Figures only: it asserts no time.
//
//	go test -run '^$' -bench PatchOneMember -benchtime 200x ./scim/
func BenchmarkPatchOneMember(b *testing.B) {
	const big, small = 50_000, 50
	e := newEnv(b)
	ctx := context.Background()
	ids := make([]policy.UserID, 0, big+2)
	for batch := 0; len(ids) < big+2; batch++ {
		err := e.st.Update(ctx, "bench", func(tx store.Tx) error {
			for i := 0; i < 1000 && len(ids) < big+2; i++ {
				u, err := tx.CreateUser("acme", policy.User{UserName: fmt.Sprintf("u%06d-%d@acme.example", batch, i), Active: true, Source: "scim:acme"})
				if err != nil {
					return err
				}
				ids = append(ids, u.ID)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var groups [2]policy.DirGroupID
	err := e.st.Update(ctx, "bench", func(tx store.Tx) error {
		for i, n := range []int{big, small} {
			g, err := tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: fmt.Sprintf("g%d", n), MemberUsers: ids[:n], Source: "scim:acme"})
			if err != nil {
				return err
			}
			groups[i] = g.ID
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	extra := [2]policy.UserID{ids[big], ids[big+1]}
	lat := [2][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op := "add"
		if i%2 == 1 {
			op = "remove"
		}
		for j, g := range groups {
			body := patchBody(map[string]any{"op": op, "path": "members", "value": []any{map[string]any{"value": string(extra[j])}}})
			t0 := time.Now()
			r := e.acme(b, "PATCH", "/Groups/"+string(g), body)
			lat[j] = append(lat[j], time.Since(t0))
			if r.status != http.StatusNoContent {
				b.Fatalf("%d %s", r.status, r.raw)
			}
		}
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	mb, ms := med(lat[0]), med(lat[1])
	b.ReportMetric(float64(mb.Microseconds()), "p50-50000-µs")
	b.ReportMetric(float64(ms.Microseconds()), "p50-50-µs")
	b.ReportMetric(float64(mb)/float64(ms), "ratio")
}
