package policy

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func deep(depth int) any {
	var v any = "x"
	for i := 1; i < depth; i++ {
		v = map[string]any{"k": v}
	}
	return v
}

func TestValidateAttributes(t *testing.T) {
	many := make([]any, MaxAttrValues)
	tests := []struct {
		name  string
		attrs map[string]any
		limit Limit // "": valid
		field string
	}{
		{"nil", nil, "", ""},
		{"plain", map[string]any{"department": "R&D", "n": 1.5, "i": 3, "ok": true, "none": nil, "dn": []string{"a"}}, "", ""},
		{"json number", map[string]any{"n": json.Number("12.5e3")}, "", ""},
		{"at the depth limit", map[string]any{"x": deep(MaxAttrDepth - 1)}, "", ""},
		{"one level too deep", map[string]any{"x": deep(MaxAttrDepth)}, LimitDepth, `attributes["x"]`},
		{"9998 deep", map[string]any{"x": deep(9998)}, LimitDepth, `attributes["x"]`},
		{"too many values", map[string]any{"x": many}, LimitCount, "attributes"},
		{"key too long", map[string]any{strings.Repeat("k", MaxAttrKeyBytes+1): 1}, LimitLength, "attributes key"},
		{"nested key too long", map[string]any{"x": map[string]any{strings.Repeat("k", MaxAttrKeyBytes+1): 1}}, LimitLength, `attributes["x"] key`},
		{"string too long", map[string]any{"x": strings.Repeat("s", MaxAttrStringBytes+1)}, LimitLength, `attributes["x"]`},
		{"too large", map[string]any{"a": strings.Repeat("s", MaxAttrStringBytes), "b": strings.Repeat("s", MaxAttrStringBytes),
			"c": strings.Repeat("s", MaxAttrStringBytes), "d": strings.Repeat("s", MaxAttrStringBytes)}, LimitSize, "attributes"},
		{"number out of range", map[string]any{"x": json.Number("1e400")}, LimitValue, `attributes["x"]`},
		{"not a number", map[string]any{"x": json.Number("0x1")}, LimitValue, `attributes["x"]`},
		{"NaN", map[string]any{"x": math.NaN()}, LimitValue, `attributes["x"]`},
		{"infinity", map[string]any{"x": math.Inf(1)}, LimitValue, `attributes["x"]`},
		{"no JSON form", map[string]any{"x": struct{}{}}, LimitValue, `attributes["x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateAttributes(tt.attrs)
			if tt.limit == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want a *LimitError wrapping ErrInvalid", err)
			}
			if le.Limit != tt.limit || le.Field != tt.field {
				t.Errorf("got %s at %q, want %s at %q", le.Limit, le.Field, tt.limit, tt.field)
			}
			if le.TooMany() != (tt.limit == LimitCount || tt.limit == LimitSize) {
				t.Errorf("TooMany = %v", le.TooMany())
			}
		})
	}
}

func TestValidateLengths(t *testing.T) {
	long := strings.Repeat("n", 40000)
	base := User{Tenant: "acme", UserName: "u"}
	for _, tt := range []struct {
		field string
		set   func(*User)
	}{
		{"userName", func(u *User) { u.UserName = long }},
		{"externalId", func(u *User) { u.ExternalID = long }},
		{"displayName", func(u *User) { u.DisplayName = long }},
		{"name.givenName", func(u *User) { u.GivenName = long }},
		{"emails[0].value", func(u *User) { u.Emails = []Email{{Value: long}} }},
		{"emails", func(u *User) { u.Emails = make([]Email, MaxEmails+1) }},
	} {
		u := base
		tt.set(&u)
		var le *LimitError
		if err := ValidateUser(u); !errors.As(err, &le) || le.Field != tt.field || strings.Contains(err.Error(), long[:50]) {
			t.Errorf("%s: %v", tt.field, err)
		}
	}
	if err := ValidateUser(User{Tenant: "acme", UserName: strings.Repeat("u", MaxNameBytes)}); err != nil {
		t.Errorf("userName at the limit: %v", err)
	}
	if err := ValidateDirGroup(DirGroup{Tenant: "acme", DisplayName: long}); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), long[:50]) {
		t.Errorf("long displayName: %v", err)
	}
	if err := ValidateGroup(Group{Slug: "g", Name: "G", Kind: GroupLocal, Meetings: []Meeting{{Title: long}}}); err == nil || !strings.Contains(err.Error(), "meetings[0].title") {
		t.Errorf("long meeting title: %v", err)
	}
	if err := ValidateRole(Role{Name: "r", Permissions: []Permission{Permission(long)}}); err == nil || !strings.Contains(err.Error(), "permissions[0]") {
		t.Errorf("long permission: %v", err)
	}
}
