package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

// TestCharterByMailingList: lug has 5 members, 1 of them in the ISUG
// (20%); its mailing list has 5 distinct subscribers, 4 in the ISUG (80%):
// chartered through the mailing list alone.
func TestCharterByMailingList(t *testing.T) {
	w := policy.World{
		Tenants: []policy.Tenant{{ID: "t"}},
		Roles:   policytest.Roles(),
		Groups: []policy.Group{
			{ID: "isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
			{ID: "rug", Slug: "rug", Name: "RUG", Kind: policy.GroupRegional, Parent: "isug"},
			{ID: "lug", Slug: "lug", Name: "LUG", Kind: policy.GroupLocal, Parent: "rug", MailingList: &policy.MailingList{
				DirGroups: []policy.DirGroupID{"d-list"},
				Addresses: []policy.Subscriber{
					{Address: "S1@example.com", Source: "manual"}, // s1, also in d-list: counted once
					{Address: "s2@example.com", Source: "import"},
					{Address: "s3@example.com", Source: "import"},
					{Address: "stranger@example.net", Source: "manual"}, // nobody's address
				},
			}},
		},
		DirGroups: []policy.DirGroup{{ID: "d-list", Tenant: "t", DisplayName: "list", MemberUsers: []policy.UserID{"s1", "s4"}}},
	}
	user := func(id policy.UserID) policy.User {
		return policy.User{ID: id, Tenant: "t", UserName: string(id), Active: true, Emails: []policy.Email{{Value: string(id) + "@example.com"}}}
	}
	for _, id := range []policy.UserID{"m1", "m2", "m3", "m4", "m5", "s1", "s2", "s3", "s4"} {
		w.Users = append(w.Users, user(id))
	}
	for _, id := range []policy.UserID{"m1", "m2", "m3", "m4", "m5"} {
		w.Memberships = append(w.Memberships, policy.Membership{User: id, Group: "lug", Role: "member"})
	}
	for _, id := range []policy.UserID{"m1", "s1", "s2", "s3", "s4"} {
		w.Memberships = append(w.Memberships, policy.Membership{User: id, Group: "isug", Role: "member"})
	}
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(w)
	st := e.Charter("lug")
	if !st.Chartered || st.Basis != policy.BasisMailingList || st.Members != 5 || st.InReference != 1 ||
		st.Subscribers != 5 || st.SubscribersInReference != 4 || st.SubscriberRatio != 0.8 || st.Ratio != 0.2 || st.Reference != "isug" {
		t.Fatalf("Charter = %+v, want chartered by mailing-list, 1/5 members, 4/5 subscribers", st)
	}
	// s2 and s3 change address: their old ones now belong to nobody, 2/5.
	var cs []policy.Change
	for _, id := range []policy.UserID{"s2", "s3"} {
		u := user(id)
		u.Emails = []policy.Email{{Value: string(id) + "@elsewhere.example"}}
		after, _ := json.Marshal(u)
		cs = append(cs, policy.Change{Kind: policy.KindUser, Op: policy.OpUpdate, ID: string(id), After: after})
	}
	if err := e.Apply(cs); err != nil {
		t.Fatal(err)
	}
	if st := e.Charter("lug"); st.Chartered || st.Basis != "" || st.SubscribersInReference != 2 {
		t.Errorf("after s2 and s3 moved: %+v, want not chartered, 2 subscribers in the ISUG", st)
	}
	if err := policy.ValidateMailingList(policy.MailingList{Addresses: []policy.Subscriber{{Address: "a@x.org"}, {Address: "A@x.org"}}}); err == nil {
		t.Error("an address twice (ignoring case) is accepted")
	}
	if err := policy.ValidateMailingList(policy.MailingList{Addresses: []policy.Subscriber{{Address: "not-an-address"}}}); err == nil {
		t.Error("a bad address is accepted")
	}
}
