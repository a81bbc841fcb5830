package bolt

import (
	"context"
	"fmt"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// The first load of the feed benchmarks: a directory of 100,000 users and
// 5,000 groups of 50 members, written in bulk Updates of 10,000 users and
// 1,000 groups (store.CreateUsers, store.CreateDirGroups), as a first LDAP
// sync writes it.
const (
	feedUsers, feedUserTx   = 100_000, 10_000
	feedGroups, feedGroupTx = 5_000, 1_000
)

// benchFirstLoad writes the first load into s.
func benchFirstLoad(b *testing.B, s *Store) {
	b.Helper()
	ids := make([]policy.UserID, 0, feedUsers)
	for i := 0; i < feedUsers; i += feedUserTx {
		us := make([]policy.User, 0, feedUserTx)
		for j := i; j < i+feedUserTx; j++ {
			us = append(us, policy.User{
				UserName:   fmt.Sprintf("user%06d", j),
				ExternalID: fmt.Sprintf("uid=user%06d,ou=people,dc=acme", j),
				GivenName:  "User", FamilyName: fmt.Sprintf("N%d", j), DisplayName: fmt.Sprintf("User %d", j),
				Emails: []policy.Email{{Value: fmt.Sprintf("user%06d@acme.test", j), Type: "work", Primary: true}},
				Active: true, Source: "ldap:corp",
				Attributes: map[string]any{"ldapDN": fmt.Sprintf("uid=user%06d,ou=people,dc=acme", j)},
			})
		}
		err := s.Update(context.Background(), "ldap:bench", func(tx store.Tx) error {
			out, err := store.CreateUsers(tx, "acme", us)
			for _, u := range out {
				ids = append(ids, u.ID)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	rnd := uint64(1)
	for g := 0; g < feedGroups; g += feedGroupTx {
		gs := make([]policy.DirGroup, 0, feedGroupTx)
		for k := g; k < g+feedGroupTx; k++ {
			d := policy.DirGroup{DisplayName: fmt.Sprintf("g%d", k), ExternalID: fmt.Sprintf("cn=g%d,ou=groups,dc=acme", k), Source: "ldap:corp"}
			for range 50 {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				d.MemberUsers = append(d.MemberUsers, ids[(rnd>>33)%uint64(len(ids))])
			}
			gs = append(gs, d)
		}
		err := s.Update(context.Background(), "ldap:bench", func(tx store.Tx) error {
			_, err := store.CreateDirGroups(tx, "acme", gs)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyFeed measures the policy engine's apply of the change feed
// a first load delivers (one create per user and per group, as
// Subscribe hands them over), into an engine that knows only the tenant.
// One op applies every batch of the load.
func BenchmarkApplyFeed(b *testing.B) {
	s := benchStore(b)
	var batches [][]policy.Change
	cancel := s.Subscribe(func(cs []policy.Change) { batches = append(batches, cs) })
	benchFirstLoad(b, s)
	cancel()
	w := policy.World{Tenants: []policy.Tenant{{ID: "acme", Name: "Acme", Kind: policy.TenantPartner}}}
	for b.Loop() {
		e := policy.NewEngine(policy.EngineConfig{})
		e.Load(w)
		for _, cs := range batches {
			if err := e.Apply(cs); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFirstLoadFollowed measures a first load into a fresh store that
// an engine follows (store.Follow, as roster serve runs): the store's
// writes, its audit log and the engine's apply of the feed. One op is the
// whole load.
func BenchmarkFirstLoadFollowed(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b)
		f, err := store.Follow(context.Background(), s, policy.NewEngine(policy.EngineConfig{}), store.FollowConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		benchFirstLoad(b, s)
		b.StopTimer()
		f.Close()
		s.Close()
		b.StartTimer()
	}
}
