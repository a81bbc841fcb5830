package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckPlacement(t *testing.T) {
	h := DefaultHierarchy()
	isug := Group{ID: "g-isug", Name: "ISUG", Kind: GroupInternational}
	rug := Group{ID: "g-rug", Name: "RUG Europe", Kind: GroupRegional, Parent: isug.ID}
	london := Group{ID: "g-lon", Name: "LUG London", Kind: GroupLocal, Parent: rug.ID}
	tests := []struct {
		name     string
		g        Group
		parent   Group
		siblings []Group
		wantErr  string
	}{
		{"ISUG at the top", Group{Name: "ISUG 2", Kind: GroupInternational}, Group{}, nil, ""},
		{"ISUG under a region", Group{Name: "ISUG 2", Kind: GroupInternational}, rug, nil, "may not sit under a regional"},
		{"region at the top", Group{Name: "Orphan", Kind: GroupRegional}, Group{}, nil, "needs a parent"},
		{"sub-region", Group{Name: "Nordics", Kind: GroupRegional}, rug, nil, ""},
		{"LUG under a region", Group{Name: "LUG Paris", Kind: GroupLocal}, rug, []Group{london}, ""},
		{"LUG under the ISUG", Group{Name: "LUG Remote", Kind: GroupLocal}, isug, []Group{rug}, ""},
		{"LUG under a LUG", Group{Name: "LUG London", Kind: GroupLocal}, london, nil, "may not sit under a local"},
		{"sibling name, other case", Group{Name: "lug london", Kind: GroupLocal}, rug, []Group{london}, "already has a subgroup"},
		{"renaming itself is fine", Group{ID: london.ID, Name: "LUG London", Kind: GroupLocal}, rug, []Group{london}, ""},
		{"SIG under a LUG", Group{Name: "SIG Security", Kind: GroupSpecialInterest}, london, nil, ""},
		{"SIG at the top", Group{Name: "SIG Security", Kind: GroupSpecialInterest}, Group{}, nil, ""},
		{"unknown kind", Group{Name: "X", Kind: "chapter"}, isug, nil, "not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.CheckPlacement(tt.g, tt.parent, tt.siblings)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)):
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHierarchyViolations(t *testing.T) {
	gs := []Group{
		{ID: "i", Slug: "isug", Name: "ISUG", Kind: GroupInternational},
		{ID: "r", Slug: "rug-europe", Name: "Europe", Kind: GroupRegional, Parent: "i"},
		{ID: "l1", Slug: "lug-london", Name: "LUG London", Kind: GroupLocal, Parent: "r"},
		{ID: "l2", Slug: "lug-london-2", Name: "LUG London", Kind: GroupLocal, Parent: "l1"}, // a LUG under a LUG
		{ID: "l3", Slug: "lug-paris", Name: "lug london", Kind: GroupLocal, Parent: "r"},     // a sibling's name
		{ID: "x", Slug: "orphan", Name: "Orphan", Kind: GroupLocal, Parent: "gone"},
	}
	got := DefaultHierarchy().Violations(gs)
	want := []string{"lug-london", "lug-london-2", "lug-paris", "orphan"}
	if len(got) != len(want) {
		t.Fatalf("violations:\n%s", strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, w+": ") }) {
			t.Errorf("no violation about %s in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
