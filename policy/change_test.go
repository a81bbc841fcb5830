package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
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
	raw := func(v any) json.RawMessage { return rawJSON(t, v) }
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

func TestRecordsTyped(t *testing.T) {
	raw := func(v any) json.RawMessage { return rawJSON(t, v) }
	g1 := Group{ID: "g1", Slug: "lug-one", Name: "One", Topics: []string{"linux"}}
	g2 := Group{ID: "g1", Slug: "lug-one", Name: "Two", Topics: []string{"bsd"}}
	// The typed side wins over the JSON: a reader of a typed change decodes
	// nothing (the JSON here says otherwise, to tell which was read).
	c := Change{Kind: KindGroup, Op: OpUpdate, Before: raw(g2), After: raw(g1)}.WithRecords(g1, g2)
	if !c.Typed() {
		t.Fatal("a change with both records is not Typed")
	}
	before, after, err := Records[Group](c)
	if err != nil || before.Name != "One" || after.Name != "Two" {
		t.Fatalf("typed update: %v %v %v", before, after, err)
	}
	// The writer's values are copied: changing them changes nothing seen.
	g1.Name, g2.Topics[0] = "changed", "changed"
	// A reader's copy is its own: changing it is not seen by the next.
	after.Name = "mine"
	before, after, err = Records[Group](c)
	if err != nil || before.Name != "One" || after.Name != "Two" || after.Topics[0] != "bsd" {
		t.Fatalf("typed update read again: %v %v %v", before, after, err)
	}

	// A side without its typed record is decoded; a value of another
	// type is not kept.
	c = Change{Kind: KindGroup, Op: OpUpdate, Before: raw(g2), After: raw(g2)}.WithRecords(nil, User{ID: "u1"})
	if c.Typed() {
		t.Fatal("a change without records is Typed")
	}
	if before, after, err = Records[Group](c); err != nil || before.Name != "Two" || after.Name != "Two" {
		t.Fatalf("decoded update: %v %v %v", before, after, err)
	}
	if c := (Change{Kind: KindGroup, Op: OpCreate, After: raw(g2)}).WithRecords(nil, g2); !c.Typed() {
		t.Fatal("a create with its record is not Typed")
	}

	d := MembersChange{Add: []MemberRef{UserMember("u1")}, Remove: []MemberRef{UserMember("u2")}}
	c = Change{Kind: KindDirGroup, Op: OpMembers, After: raw(MembersChange{})}.WithRecords(nil, d)
	d.Add[0].ID = "changed"
	got, err := c.MembersDelta()
	if err != nil || !c.Typed() || len(got.Add) != 1 || got.Add[0].ID != "u1" || len(got.Remove) != 1 {
		t.Fatalf("typed members delta: %+v %v", got, err)
	}
	if c := (Change{Kind: KindDirGroup, Op: OpMembers, After: raw(d)}).WithRecords(nil, DirGroup{}); c.Typed() {
		t.Fatal("a members change kept a directory group as its delta")
	}
}

// TestCloneShares fills every field of each record type and checks that
// its clone shares no slice, map or pointer with it.
func TestCloneShares(t *testing.T) {
	check := func(name string, orig, clone any) {
		t.Helper()
		if p := shared(reflect.ValueOf(orig), reflect.ValueOf(clone), name); p != "" {
			t.Errorf("the clone shares %s", p)
		}
	}
	var (
		tn Tenant
		u  User
		dg DirGroup
		g  Group
		r  Role
		d  MembersChange
	)
	for _, v := range []any{&tn, &u, &dg, &g, &r, &d} {
		fill(reflect.ValueOf(v).Elem())
	}
	check("Tenant", tn, cloneTenant(tn))
	check("User", u, cloneUser(u))
	check("DirGroup", dg, cloneDirGroup(dg))
	check("Group", g, cloneGroup(g))
	check("Role", r, cloneRole(r))
	check("MembersChange", d, cloneDelta(d))
	for _, v := range []any{Rule{}, Membership{}} {
		if p := shared(reflect.ValueOf(v), reflect.ValueOf(v), reflect.TypeOf(v).Name()); p != "" {
			t.Errorf("%T is copied by assignment, yet has %s", v, p)
		}
	}
}

// fill sets every field v reaches to a non-zero value: a slice or map of
// one element, a pointer to a filled value, and for an interface (JSON
// attributes) an object holding an array.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(1)
	case reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"list": []any{map[string]any{"k": "v"}}, "strings": []string{"s"}}))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// shared returns the path of the first slice, map or pointer a and b
// share, or "".
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			return path
		}
	}
	switch a.Kind() {
	case reflect.Pointer:
		if !a.IsNil() && !b.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	case reflect.Interface:
		if !a.IsNil() && !b.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		for i := range min(a.Len(), b.Len()) {
			if p := shared(a.Index(i), b.Index(i), path+"[i]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				if p := shared(a.MapIndex(k), bv, path+"[k]"); p != "" {
					return p
				}
			}
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(time.Time{}) {
			return ""
		}
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// rawJSON returns the JSON of v.
func rawJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTypedEmptySides(t *testing.T) {
	// A side whose JSON holds no record (empty, null, blanks around it)
	// needs no typed record; any other JSON does.
	g := Group{ID: "g1", Slug: "lug-one", Name: "One"}
	after := rawJSON(t, g)
	for _, tt := range []struct {
		before string
		typed  bool
	}{
		{"", true},
		{"null", true},
		{" \n\tnull \r\n", true},
		{"   ", true},
		{"nul", false},
		{"null1", false},
		{`{"id":"g0"}`, false},
	} {
		c := Change{Kind: KindGroup, Op: OpCreate, Before: json.RawMessage(tt.before), After: after}.WithRecords(nil, g)
		if got := c.Typed(); got != tt.typed {
			t.Errorf("Typed() with before %q = %v, want %v", tt.before, got, tt.typed)
		}
	}
}
