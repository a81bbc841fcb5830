package bolt

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s := openTemp(b)
	err := s.Update(context.Background(), "bench", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// createUsers adds n users in Updates of batch, named prefix<i>, and
// returns their ids.
func benchCreateUsers(b *testing.B, s *Store, prefix string, n, batch int) []policy.UserID {
	b.Helper()
	ids := make([]policy.UserID, 0, n)
	for i := 0; i < n; i += batch {
		err := s.Update(context.Background(), "ldap:bench", func(tx store.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				u, err := tx.CreateUser("acme", policy.User{
					UserName:   fmt.Sprintf("%s%06d@acme.test", prefix, j),
					ExternalID: fmt.Sprintf("uid=%s%06d,ou=people,dc=acme", prefix, j),
					GivenName:  "Given", FamilyName: "Family", DisplayName: "Given Family",
					Emails: []policy.Email{{Value: fmt.Sprintf("%s%06d@acme.test", prefix, j), Primary: true}},
					Active: true, Source: "ldap:corp",
				})
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
	return ids
}

// BenchmarkCreateUserBatch1000 measures an LDAP-sync style load: 1000 new
// users per Update. One op is one Update of 1000 users.
func BenchmarkCreateUserBatch1000(b *testing.B) {
	s := benchStore(b)
	n := 0
	for b.Loop() {
		benchCreateUsers(b, s, fmt.Sprintf("b%d-", n), 1000, 1000)
		n++
	}
	b.ReportMetric(float64(n*1000)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkUserByUserName measures a case-insensitive lookup among 100,000
// users of one tenant (the data is built once, outside the timing).
func BenchmarkUserByUserName(b *testing.B) {
	s := benchStore(b)
	const total = 100_000
	benchCreateUsers(b, s, "u", total, 1000)
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("U%06d@ACME.test", (i*7919)%total)
		i++
		err := s.View(context.Background(), func(tx store.Tx) error {
			_, err := tx.UserByUserName("acme", name)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateDirGroupAdd10000 measures a SCIM PATCH that adds 10,000
// members to one group in one Update. Each op creates an empty group and
// fills it.
func BenchmarkUpdateDirGroupAdd10000(b *testing.B) {
	s := benchStore(b)
	ids := benchCreateUsers(b, s, "m", 10_000, 1000)
	n := 0
	for b.Loop() {
		err := s.Update(context.Background(), "scim:acme", func(tx store.Tx) error {
			g, err := tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: fmt.Sprintf("big-%d", n)})
			if err != nil {
				return err
			}
			g.MemberUsers = ids
			_, err = tx.UpdateDirGroup("acme", g)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkCreateDirGroupsBulk measures the group phase of a first LDAP
// load: 1,000 groups of 50 random members (among 50,000 users) created in
// Updates of 250. One op is the 1,000 groups.
func BenchmarkCreateDirGroupsBulk(b *testing.B) {
	s := benchStore(b)
	ids := benchCreateUsers(b, s, "m", 50_000, 10_000)
	rnd := uint64(1)
	n := 0
	for b.Loop() {
		for g := 0; g < 1000; g += benchGroupTx {
			err := s.Update(context.Background(), "ldap:bench", func(tx store.Tx) error {
				for k := g; k < g+benchGroupTx; k++ {
					d := policy.DirGroup{DisplayName: fmt.Sprintf("g%d-%d", n, k), ExternalID: fmt.Sprintf("g%d-%d", n, k), Source: "ldap:corp"}
					for range 50 {
						rnd = rnd*6364136223846793005 + 1442695040888963407
						d.MemberUsers = append(d.MemberUsers, ids[(rnd>>33)%uint64(len(ids))])
					}
					if _, err := tx.CreateDirGroup("acme", d); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
}

// benchGroupTx is the number of groups per Update in BenchmarkCreateDirGroupsBulk.
const benchGroupTx = 250

// BenchmarkLoadUsers measures a directory's first load: 100,000 new users
// (random externalIds, like entryUUIDs) in Updates of 10,000, into a fresh
// store, one CreateUser each ("each") or one store.CreateUsers per Update
// ("bulk"). One op is the whole load.
func BenchmarkLoadUsers(b *testing.B) {
	const total, batch = 100_000, 10_000
	us := make([]policy.User, total)
	for i := range us {
		us[i] = policy.User{
			UserName:   fmt.Sprintf("user%06d", i),
			ExternalID: uuid.NewString(),
			GivenName:  "User", FamilyName: fmt.Sprintf("N%d", i), DisplayName: fmt.Sprintf("User %d", i),
			Emails: []policy.Email{{Value: fmt.Sprintf("user%06d@example.com", i), Type: "work", Primary: true}},
			Active: true, Source: "ldap:bench",
			Attributes: map[string]any{"ldapDN": fmt.Sprintf("uid=user%06d,ou=people,dc=example,dc=com", i)},
		}
	}
	for _, mode := range []string{"each", "bulk"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := benchStore(b)
				b.StartTimer()
				for i := 0; i < total; i += batch {
					err := s.Update(context.Background(), "ldap:bench", func(tx store.Tx) error {
						if mode == "bulk" {
							_, err := store.CreateUsers(tx, "acme", us[i:i+batch])
							return err
						}
						for _, u := range us[i : i+batch] {
							if _, err := tx.CreateUser("acme", u); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
		})
	}
}
