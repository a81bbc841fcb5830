package bolt

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
)

// TestAppendChange checks that audit entries are the bytes json.Marshal
// gives for compact Before and After values.
func TestAppendChange(t *testing.T) {
	user, _ := json.Marshal(policy.User{ID: "u1", UserName: "<b>&ö\u2028", Attributes: map[string]any{"x": []any{1.5, "a\"b"}}})
	now := time.Date(2026, 11, 23, 15, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name string
		c    policy.Change
	}{
		{"create", policy.Change{Seq: 1, Time: now, Actor: "ldap:corp", Tenant: "acme", Kind: policy.KindUser, Op: policy.OpCreate, ID: "u1", After: user}},
		{"update", policy.Change{Seq: 1 << 60, Time: now, Actor: "a", Kind: policy.KindGroup, Op: policy.OpUpdate, ID: "g", Before: json.RawMessage(`{"a":1}`), After: user}},
		{"delete", policy.Change{Seq: 0, Time: now.Truncate(time.Second), Kind: policy.KindRole, Op: policy.OpDelete, ID: "r", Before: user}},
		{"escapes", policy.Change{Time: now.In(time.FixedZone("x", 3600)), Actor: "\x00\t\"\\<>&é\xff\u2029", Tenant: "t\n", Kind: "k&", Op: "<op>", ID: "id\u007f"}},
		{"event", policy.Change{Seq: 7, Time: now, Actor: "admin", Kind: policy.KindEvent, Op: "approve", ID: "", After: json.RawMessage(`"x"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendChange(nil, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("appendChange:\n got %s\nwant %s", got, want)
			}
		})
	}
	if _, err := appendChange(nil, policy.Change{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a year json.Marshal refuses was encoded")
	}
}
