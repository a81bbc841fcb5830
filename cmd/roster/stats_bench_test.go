package main

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// BenchmarkAnalyticsPages measures the portal's analytics pages (server-
// side SVG charts and tables, over GET /api/v1/stats/groups/{group}) on
// the world of BenchmarkPortalPages (10,000 user groups, 100,000 members)
// with two years of generated monthly history for every group
// (demo.History: 240,000 months, rolled up the hierarchy), served by the
// real binary to the ISUG's analyst signed in through the portal: the
// whole ISUG, a group in the middle of the tree, and one CSV export.
//
//	go test ./cmd/roster -run '^$' -bench BenchmarkAnalyticsPages -benchtime 1x
func BenchmarkAnalyticsPages(b *testing.B) {
	now := time.Now()
	base, c, s := portalBench(b, func(tx store.Tx, w policy.World, u policy.User) error {
		ro := policy.Role{Name: "analyst", Permissions: []policy.Permission{policy.PermStatsRead}, Inherit: true}
		if _, err := tx.PutRole(ro); err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: w.Groups[0].ID, Role: ro.Name, Origin: policy.OriginManual}); err != nil {
			return err
		}
		return admin.PutStatsMonths(tx, demo.History(w.Groups, now, 1))
	})
	measurePages(b, base, c, s, []benchPage{
		{"isug", "/portal/stats/g0-0"},
		{"middle", "/portal/stats/g3-0"},
		{"csv", "/portal/stats/g0-0/members.csv"},
	})
}
