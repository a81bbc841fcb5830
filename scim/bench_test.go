package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

const benchUsers = 100_000

// BenchmarkSCIM100k runs on one tenant with 100,000 users, bulk-loaded
// through the store in batches of 1000 per Update.
//
//	go test -run '^$' -bench 'SCIM100k/(Get|Create)' -benchtime 2000x ./scim/
//	go test -run '^$' -bench 'SCIM100k/Patch' -benchtime 10x ./scim/
//	go test -run '^$' -bench 'SCIM100k/(Sorted|Bulk)' -benchtime 20x ./scim/
func BenchmarkSCIM100k(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	ids := make([]string, 0, benchUsers)
	start := time.Now()
	for batch := 0; batch < benchUsers/1000; batch++ {
		err := e.st.Update(ctx, "bench", func(tx store.Tx) error {
			for i := batch * 1000; i < (batch+1)*1000; i++ {
				u, err := tx.CreateUser("acme", policy.User{
					UserName: fmt.Sprintf("user%06d@acme.example", i), ExternalID: fmt.Sprintf("ext-%06d", i),
					GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i), DisplayName: fmt.Sprintf("User %d", i),
					Emails: []policy.Email{{Value: fmt.Sprintf("user%06d@acme.example", i), Type: "work", Primary: true}},
					Active: true, Source: "scim:acme",
					Attributes: map[string]any{EnterpriseSchema: map[string]any{"department": fmt.Sprintf("Dept %d", i%50), "employeeNumber": fmt.Sprint(i)}},
				})
				if err != nil {
					return err
				}
				ids = append(ids, string(u.ID))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d users in %v", benchUsers, time.Since(start).Round(time.Millisecond))

	b.Run("GetUserNameEq", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n := (i * 7919) % benchUsers
			t0 := time.Now()
			r := e.acme(b, "GET", fmt.Sprintf(`/Users?filter=userName eq "USER%06d@acme.example"`, n), nil)
			lat = append(lat, time.Since(t0))
			if r.status != http.StatusOK || r.body["totalResults"] != float64(1) {
				b.Fatalf("%d %s", r.status, r.raw)
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})

	// Sorted pages (RFC 7644 §3.4.2.3): the latency of a page of 100 at
	// a spread of depths, per path.
	sortedPage := func(query string) func(b *testing.B) {
		return func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := 1 + (i*7919)%(benchUsers-100)
				t0 := time.Now()
				r := e.acme(b, "GET", fmt.Sprintf("/Users?%s&startIndex=%d&count=100", query, start), nil)
				lat = append(lat, time.Since(t0))
				if r.status != http.StatusOK || len(asList(r.body["Resources"])) == 0 {
					b.Fatalf("%d %.300s", r.status, r.raw)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
	b.Run("SortedPageUserName", sortedPage("sortBy=userName"))
	b.Run("SortedPageUserNameDesc", sortedPage("sortBy=userName&sortOrder=descending"))
	// A sort order not kept yet is built by one pass over the tenant:
	// eight orders in turn, more than are kept, so each request builds.
	b.Run("SortedPageBuild", func(b *testing.B) {
		specs := []string{"name.familyName", "displayName", "externalId", "emails"}
		for i := 0; i < b.N; i++ {
			q := "sortBy=" + specs[i%len(specs)]
			if (i/len(specs))%2 == 1 {
				q += "&sortOrder=descending"
			}
			if r := e.acme(b, "GET", "/Users?"+q+"&count=100", nil); r.status != http.StatusOK {
				b.Fatalf("%d %.300s", r.status, r.raw)
			}
		}
	})
	// A change moves its user in the kept orders; the next page needs no
	// pass. patch-ms is the PATCH's latency, which includes that move.
	b.Run("SortedPageAfterChange", func(b *testing.B) {
		e.acme(b, "GET", "/Users?sortBy=name.familyName&count=100", nil)
		var patchLat, pageLat []time.Duration
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			r := e.acme(b, "PATCH", "/Users/"+ids[(i*7919)%len(ids)], patchBody(map[string]any{"op": "replace", "path": "name.familyName", "value": fmt.Sprintf("Moved%d", i)}))
			patchLat = append(patchLat, time.Since(t0))
			if r.status != http.StatusOK {
				b.Fatalf("%d %.300s", r.status, r.raw)
			}
			t0 = time.Now()
			if r := e.acme(b, "GET", fmt.Sprintf("/Users?sortBy=name.familyName&startIndex=%d&count=100", 1+(i*104729)%(benchUsers-100)), nil); r.status != http.StatusOK {
				b.Fatalf("%d %.300s", r.status, r.raw)
			}
			pageLat = append(pageLat, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(patchLat)
		slices.Sort(pageLat)
		b.ReportMetric(float64(patchLat[len(patchLat)/2].Microseconds())/1000, "patch-p50-ms")
		b.ReportMetric(float64(pageLat[len(pageLat)/2].Microseconds())/1000, "page-p50-ms")
		b.ReportMetric(float64(pageLat[len(pageLat)*99/100].Microseconds())/1000, "page-p99-ms")
	})
	b.Run("SortedPageFamilyName", sortedPage("sortBy=name.familyName&sortOrder=descending"))

	// A /Bulk request of 1000 POSTs of new users.
	var bulkSeq atomic.Int64
	b.Run("Bulk1000Creates", func(b *testing.B) {
		t0 := time.Now()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			ops := make([]any, 1000)
			for j := range ops {
				n := bulkSeq.Add(1)
				ops[j] = map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint(n), "data": map[string]any{
					"schemas": []string{UserSchema, EnterpriseSchema}, "userName": fmt.Sprintf("bulk%d@acme.example", n),
					"externalId": fmt.Sprintf("bulk-ext-%d", n), "name": map[string]any{"givenName": "Bulk", "familyName": fmt.Sprint(n)},
					"emails":         []any{map[string]any{"value": fmt.Sprintf("bulk%d@acme.example", n), "type": "work", "primary": true}},
					EnterpriseSchema: map[string]any{"department": "Sales"},
				}}
			}
			body := map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": ops}
			b.StartTimer()
			r := e.acme(b, "POST", "/Bulk", body)
			if r.status != http.StatusOK || len(asList(r.body["Operations"])) != 1000 || strings.Contains(string(r.raw), `"response"`) {
				b.Fatalf("%d %.300s", r.status, r.raw)
			}
		}
		b.ReportMetric(float64(b.N*1000)/time.Since(t0).Seconds(), "ops/s")
	})

	var groupSeq atomic.Int64
	b.Run("PatchAdd10000Members", func(b *testing.B) {
		members := make([]any, 10_000)
		for i := range members {
			members[i] = map[string]any{"value": ids[i*7%benchUsers]}
		}
		body := patchBody(map[string]any{"op": "Add", "path": "members", "value": members})
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			r := e.acme(b, "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": fmt.Sprintf("big %d", groupSeq.Add(1))})
			if r.status != http.StatusCreated {
				b.Fatalf("%d %s", r.status, r.raw)
			}
			g := r.body["id"].(string)
			b.StartTimer()
			if r := e.acme(b, "PATCH", "/Groups/"+g, body); r.status != http.StatusNoContent {
				b.Fatalf("%d %s", r.status, r.raw)
			}
		}
	})

	var seq atomic.Int64
	create := func(b *testing.B) {
		n := seq.Add(1)
		r := e.acme(b, "POST", "/Users", map[string]any{
			"schemas": []string{UserSchema, EnterpriseSchema}, "userName": fmt.Sprintf("new%d@acme.example", n),
			"externalId": fmt.Sprintf("new-ext-%d", n), "active": true,
			"name":           map[string]any{"givenName": "New", "familyName": "User"},
			"emails":         []any{map[string]any{"value": fmt.Sprintf("new%d@acme.example", n), "type": "work", "primary": true}},
			EnterpriseSchema: map[string]any{"department": "Sales"},
		})
		if r.status != http.StatusCreated {
			b.Fatalf("%d %s", r.status, r.raw)
		}
	}
	b.Run("CreateUsers", func(b *testing.B) {
		t0 := time.Now()
		for i := 0; i < b.N; i++ {
			create(b)
		}
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "creates/s")
	})
	b.Run("CreateUsersParallel", func(b *testing.B) {
		t0 := time.Now()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				create(b)
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "creates/s")
	})
}
