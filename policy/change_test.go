package policy

import (
	"encoding/json"
	"testing"
)

func TestParseMembershipKey(t *testing.T) {
	tests := []struct {
		key     string
		g       GroupID
		u       UserID
		r       RoleName
		wantErr bool
	}{
		{key: MembershipKey("g1", "u1", "member"), g: "g1", u: "u1", r: "member"},
		{key: "g1/u1", wantErr: true},
		{key: "g1/u1/member/x", wantErr: true},
		{key: "", wantErr: true},
	}
	for _, tt := range tests {
		g, u, r, err := ParseMembershipKey(tt.key)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMembershipKey(%q): err %v, want error %v", tt.key, err, tt.wantErr)
			continue
		}
		if g != tt.g || u != tt.u || r != tt.r {
			t.Errorf("ParseMembershipKey(%q) = %q %q %q, want %q %q %q", tt.key, g, u, r, tt.g, tt.u, tt.r)
		}
	}
}

func TestRecords(t *testing.T) {
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	g1 := Group{ID: "g1", Slug: "lug-one", Name: "One"}
	g2 := Group{ID: "g1", Slug: "lug-one", Name: "Two"}

	before, after, err := Records[Group](Change{Kind: KindGroup, Op: OpUpdate, Before: raw(g1), After: raw(g2)})
	if err != nil || before == nil || after == nil || before.Name != "One" || after.Name != "Two" {
		t.Fatalf("update: %v %v %v", before, after, err)
	}
	before, after, err = Records[Group](Change{Kind: KindGroup, Op: OpCreate, Before: json.RawMessage("null"), After: raw(g1)})
	if err != nil || before != nil || after == nil {
		t.Fatalf("create: %v %v %v", before, after, err)
	}
	if _, _, err := Records[User](Change{Kind: KindGroup, Op: OpCreate, After: raw(g1)}); err == nil {
		t.Fatal("a group change read as a user")
	}
	if _, _, err := Records[Group](Change{Kind: KindGroup, Op: OpCreate, After: json.RawMessage(`{"name":`)}); err == nil {
		t.Fatal("a truncated record decoded")
	}
	if _, err := (Change{Kind: KindGroup, Op: OpMembers}).MembersDelta(); err == nil {
		t.Fatal("a members delta on a group")
	}
	d, err := (Change{Kind: KindDirGroup, Op: OpMembers, After: raw(MembersChange{Add: []MemberRef{UserMember("u1")}})}).MembersDelta()
	if err != nil || len(d.Add) != 1 || d.Add[0].ID != "u1" {
		t.Fatalf("members delta: %+v %v", d, err)
	}
	for _, k := range []Kind{KindOf[Tenant](), KindOf[User](), KindOf[DirGroup](), KindOf[Group](), KindOf[Role](), KindOf[Rule](), KindOf[Membership]()} {
		if !known(k) {
			t.Errorf("KindOf gave %q, which the engine does not keep", k)
		}
	}
}
