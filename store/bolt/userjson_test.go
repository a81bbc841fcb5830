package bolt

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
)

// TestEncodeUserAsJSON: encodeUser writes exactly what json.Marshal does,
// for the users it handles itself and for those it passes on.
func TestEncodeUserAsJSON(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 11, 12, 543545081, time.UTC)
	full := policy.User{
		ID: "01a2450a-e89f-7a0e-a4bf-644a9e548564", Tenant: "acme", UserName: "user000000",
		ExternalID: "ca39eae8-84c6-1041-87d7-f5052a163b90", GivenName: "User", FamilyName: "N0", DisplayName: "User 0",
		Emails: []policy.Email{{Value: "user000000@example.com", Type: "work", Primary: true}, {Value: "u@home.example"}},
		Active: true, Source: "ldap:bench",
		Attributes: map[string]any{"ldapDN": "uid=user000000,ou=people,dc=example,dc=com", "b": "", "a": "x"},
		Created:    now, Updated: now.Add(time.Second), Version: 7,
	}
	tests := []struct {
		name string
		mod  func(u *policy.User)
		fast bool // handled by appendUser
	}{
		{"full", func(*policy.User) {}, true},
		{"empty", func(u *policy.User) { *u = policy.User{} }, true},
		{"no optional fields", func(u *policy.User) {
			u.ExternalID, u.GivenName, u.FamilyName, u.DisplayName, u.Emails, u.Attributes, u.Active = "", "", "", "", nil, nil, false
		}, true},
		{"empty slices and maps", func(u *policy.User) { u.Emails, u.Attributes = []policy.Email{}, map[string]any{} }, true},
		{"escapes", func(u *policy.User) {
			u.UserName = `a"b\c<d>&e` + "\x00\t\u2028é\xff"
			u.DisplayName = "Zoë </script>"
			u.Attributes = map[string]any{"k\"<": "v\n", "é": "ü"}
			u.Emails = []policy.Email{{Value: "ö@example.com", Type: "<work>"}}
		}, true},
		{"another zone", func(u *policy.User) {
			u.Created = now.In(time.FixedZone("X", 5*3600+30*60))
			u.Updated = time.Time{}
		}, true},
		{"location", func(u *policy.User) { u.Location = &policy.Location{City: "Paris", Country: "FR"} }, false},
		{"attribute not a string", func(u *policy.User) { u.Attributes["n"] = 1.5 }, false},
		{"nested attribute", func(u *policy.User) { u.Attributes["m"] = map[string]any{"x": []any{"y"}} }, false},
		{"year out of range", func(u *policy.User) { u.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := full
			u.Attributes = map[string]any{}
			for k, v := range full.Attributes {
				u.Attributes[k] = v
			}
			tt.mod(&u)
			_, fast := appendUser(nil, &u)
			if fast != tt.fast {
				t.Fatalf("handled by appendUser: %v, want %v", fast, tt.fast)
			}
			want, wantErr := json.Marshal(u)
			got, err := encodeUser(u)
			if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
				t.Fatalf("encodeUser:\n %s (%v)\njson.Marshal:\n %s (%v)", got, err, want, wantErr)
			}
		})
	}
	// Random strings of every byte, for the escaping.
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	for i := 0; i < 2000; i++ {
		u := policy.User{ID: policy.UserID(str()), Tenant: policy.TenantID(str()), UserName: str(), ExternalID: str(),
			GivenName: str(), DisplayName: str(), Source: str(), Active: i%2 == 0, Version: rng.Uint64(),
			Emails:     []policy.Email{{Value: str(), Type: str(), Primary: i%3 == 0}},
			Attributes: map[string]any{str(): str(), str(): str()},
			Created:    now.Add(time.Duration(rng.Int64())), Updated: now}
		want, _ := json.Marshal(u)
		if got, _ := encodeUser(u); !bytes.Equal(got, want) {
			t.Fatalf("encodeUser:\n %q\njson.Marshal:\n %q", got, want)
		}
	}
}
