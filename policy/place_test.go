package policy

import (
	"strings"
	"testing"
)

func TestValidatePlaceAndSubject(t *testing.T) {
	base := Group{Slug: "lug-x", Name: "LUG X", Kind: GroupLocal}
	tests := []struct {
		name    string
		mod     func(*Group)
		wantErr string
	}{
		{"full location", func(g *Group) {
			g.Location = &Location{City: "London", Region: "England", Country: "GB", Coordinates: &Coordinates{Lat: 51.53, Lon: -0.12}, TimeZone: "Europe/London"}
		}, ""},
		{"country in lower case", func(g *Group) { g.Location = &Location{Country: "gb"} }, "ISO 3166-1"},
		{"latitude out of range", func(g *Group) { g.Location = &Location{Coordinates: &Coordinates{Lat: 91}} }, "latitude"},
		{"unknown time zone", func(g *Group) { g.Location = &Location{TimeZone: "Mars/Olympus"} }, "IANA"},
		{"types", func(g *Group) { g.Type = TypeSoftware; g.Topics = []string{"kubernetes", "c++"} }, ""},
		{"unknown type", func(g *Group) { g.Type = "secret" }, "social, special-interest or software"},
		{"tag with upper case", func(g *Group) { g.Topics = []string{"Go"} }, "lower-case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := base
			tt.mod(&g)
			err := ValidateGroup(g)
			if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateGroup = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if got := NormalizeTags([]string{" Go ", "go", "Machine  Learning", ""}); strings.Join(got, "|") != "go|machine learning" {
		t.Errorf("NormalizeTags = %q", got)
	}
}
