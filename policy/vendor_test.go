package policy

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestValidateFeedback(t *testing.T) {
	products := []string{"db", "cloud"}
	ok := Feedback{Product: "db", Category: FeedbackIdea, Status: FeedbackReceived, Title: "Faster backups", Body: "Please."}
	for _, tc := range []struct {
		name string
		edit func(*Feedback)
		ok   bool
	}{
		{"valid", func(*Feedback) {}, true},
		{"unknown product", func(f *Feedback) { f.Product = "toaster" }, false},
		{"unknown category", func(f *Feedback) { f.Category = "rant" }, false},
		{"unknown status", func(f *Feedback) { f.Status = "done" }, false},
		{"blank title", func(f *Feedback) { f.Title = "  " }, false},
		{"blank body", func(f *Feedback) { f.Body = "" }, false},
		{"long title", func(f *Feedback) { f.Title = string(make([]byte, 201)) }, false},
		{"too many tags", func(f *Feedback) { f.Tags = make([]string, 21) }, false},
	} {
		f := ok
		tc.edit(&f)
		err := ValidateFeedback(f, products)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestTriageScopeAndRedaction(t *testing.T) {
	team := Role{Name: "db-team", Permissions: []Permission{PermFeedbackTriage}, Products: []string{"db"}}
	cloud := Role{Name: "cloud-team", Permissions: []Permission{PermFeedbackTriage}, Products: []string{"cloud"}}
	all := Role{Name: "community", Permissions: []Permission{PermFeedbackTriage}}
	member := Role{Name: "member", Permissions: []Permission{PermGroupRead}, Products: []string{"db"}}
	for _, tc := range []struct {
		roles []Role
		want  ProductScope
	}{
		{nil, ProductScope{}},
		{[]Role{member}, ProductScope{}},
		{[]Role{team}, ProductScope{Products: []string{"db"}}},
		{[]Role{cloud, team, team}, ProductScope{Products: []string{"cloud", "db"}}},
		{[]Role{team, all}, ProductScope{All: true}},
	} {
		if got := TriageScope(tc.roles); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("TriageScope(%v) = %+v, want %+v", tc.roles, got, tc.want)
		}
	}
	f := Feedback{Author: "u", Tenant: "acme", AuthorName: "Bob", Company: "Acme", Group: "g"}
	if r := RedactFeedback(f, TenantPartner); r.Author != "" || r.Company != "" || r.AuthorName != "" || r.Tenant != "" || r.Group != "" {
		t.Errorf("partner without consent: %+v", r)
	}
	f.ShowIdentity = true
	if r := RedactFeedback(f, TenantPartner); r.AuthorName != "Bob" || r.Group != "g" {
		t.Errorf("partner with consent: %+v", r)
	}
	f.ShowIdentity = false
	if r := RedactFeedback(f, TenantVendor); r.AuthorName != "Bob" {
		t.Errorf("vendor employee: %+v", r)
	}
}

func TestValidateApplicationAndNearby(t *testing.T) {
	ok := Application{Name: "LUG Leeds", Slug: "lug-leeds", Parent: "rug", Location: Location{City: "Leeds", Country: "GB"}, Remit: "Db users in Leeds", Founder: Founder{User: "u1"}}
	for _, tc := range []struct {
		name string
		edit func(*Application)
		ok   bool
	}{
		{"valid", func(*Application) {}, true},
		{"no name", func(a *Application) { a.Name = "" }, false},
		{"bad slug", func(a *Application) { a.Slug = "LUG Leeds" }, false},
		{"no city", func(a *Application) { a.Location.City = "" }, false},
		{"bad country", func(a *Application) { a.Location.Country = "gb" }, false},
		{"no remit", func(a *Application) { a.Remit = " " }, false},
		{"founder twice", func(a *Application) { a.CoFounders = []Founder{{User: "u1", Answer: CoFounderPending}} }, false},
		{"co-founder twice", func(a *Application) {
			a.CoFounders = []Founder{{User: "u2", Answer: CoFounderPending}, {User: "u2", Answer: CoFounderAccepted}}
		}, false},
		{"co-founders answered", func(a *Application) {
			a.CoFounders = []Founder{{User: "u2", Answer: CoFounderPending}, {User: "u3", Answer: CoFounderAccepted}, {User: "u4", Answer: CoFounderDeclined}}
		}, true},
		{"a co-founder without an answer", func(a *Application) { a.CoFounders = []Founder{{User: "u2"}} }, false},
		{"a co-founder's unknown answer", func(a *Application) { a.CoFounders = []Founder{{User: "u2", Answer: "maybe"}} }, false},
		{"the applicant answers", func(a *Application) { a.Founder.Answer = CoFounderAccepted }, false},
	} {
		a := ok
		tc.edit(&a)
		if err := ValidateApplication(a); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// Only the applicant and the co-founders who accepted become
	// organizers.
	a := ok
	a.CoFounders = []Founder{{User: "u2", Answer: CoFounderPending}, {User: "u3", Answer: CoFounderAccepted}, {User: "u4", Answer: CoFounderDeclined}}
	var orgs []UserID
	for _, f := range a.Organizers() {
		orgs = append(orgs, f.User)
	}
	if !slices.Equal(orgs, []UserID{"u1", "u3"}) {
		t.Errorf("Organizers = %v, want [u1 u3]", orgs)
	}
	if a.CoFounder("u4") != 2 || a.CoFounder("u1") != -1 {
		t.Errorf("CoFounder: u4 at %d, u1 at %d", a.CoFounder("u4"), a.CoFounder("u1"))
	}
	at := func(lat, lon float64) *Location {
		return &Location{City: "x", Coordinates: &Coordinates{Lat: lat, Lon: lon}}
	}
	flat := func(a, b Coordinates) float64 { return math.Hypot(a.Lat-b.Lat, a.Lon-b.Lon) * 100 }
	gs := []Group{
		{ID: "far", Slug: "far", Location: at(10, 0)},
		{ID: "near", Slug: "near", Location: at(0.5, 0)},
		{ID: "nearer", Slug: "nearer", Location: at(0.1, 0)},
		{ID: "archived", Slug: "archived", Location: at(0, 0), Archived: true},
		{ID: "nowhere", Slug: "nowhere"},
	}
	got := NearbyGroups(gs, Coordinates{}, 100, flat)
	if len(got) != 2 || got[0].Slug != "nearer" || got[1].Slug != "near" {
		t.Errorf("NearbyGroups = %+v", got)
	}
}

func TestMemberChangesAndSources(t *testing.T) {
	before := MemberSources{"a": "manual", "b": "directory:acme", "c": "directory:acme"}
	after := MemberSources{"a": "manual", "d": "directory:acme", "e": "manual"}
	j, l := MemberChanges(before, after)
	if !reflect.DeepEqual(j, map[string]int{"directory:acme": 1, "manual": 1}) || !reflect.DeepEqual(l, map[string]int{"directory:acme": 2}) {
		t.Errorf("joins %v leaves %v", j, l)
	}
	tenant := func(id RuleID) TenantID { return map[RuleID]TenantID{"r1": "acme"}[id] }
	for _, tc := range []struct {
		o    []Origin
		want string
	}{
		{[]Origin{OriginManual}, "manual"},
		{[]Origin{RuleOrigin("r1")}, "directory:acme"},
		{[]Origin{RuleOrigin("r1"), OriginManual}, "manual"},
		{[]Origin{"inherited:x"}, "inherited"},
	} {
		if got := SourceOf(tc.o, tenant); got != tc.want {
			t.Errorf("SourceOf(%v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestFiguresAndRollUp(t *testing.T) {
	var month Figures
	month.AddDay(Figures{Members: 10, Joins: map[string]int{"manual": 2}, MeetingsHeld: 1, RSVPs: 8, CheckIns: 6, RatingSum: 9, Ratings: 2, CharterSum: 0.5, CharterGroups: 1})
	month.AddDay(Figures{Members: 12, Joins: map[string]int{"manual": 1, "directory:acme": 1}, Leaves: map[string]int{"manual": 1}, CharterSum: 0.7, CharterGroups: 1, Chartered: 1})
	if month.Members != 12 || month.JoinsTotal() != 4 || month.LeavesTotal() != 1 || month.Rating() != 4.5 || month.CharterRatio() != 0.7 || month.Chartered != 1 || month.RSVPs != 8 {
		t.Errorf("month = %+v", month)
	}
	if got := Sources(month); !reflect.DeepEqual(got, []string{"directory:acme", "manual"}) {
		t.Errorf("Sources = %v", got)
	}
	parents := map[GroupID]GroupID{"lug1": "rug", "lug2": "rug", "rug": "isug"}
	ms := map[GroupID]*GroupMonth{
		"isug": {Own: Figures{Members: 100}},
		"rug":  {Own: Figures{Members: 10}},
		"lug1": {Own: Figures{Members: 5, MeetingsHeld: 2}},
		"lug2": {Own: Figures{Members: 3}},
	}
	RollUp(ms, func(g GroupID) GroupID { return parents[g] }, func(g GroupID) bool { return g == "lug2" })
	if s := ms["isug"]; s.Subtree.Members != 118 || s.Groups != 4 || s.Subtree.MeetingsHeld != 2 || s.DormantCount != 1 || !reflect.DeepEqual(s.Dormant, []DormantGroup{{Group: "lug2"}}) {
		t.Errorf("isug = %+v", s)
	}
	if s := ms["lug1"]; s.Subtree.Members != 5 || s.Groups != 1 || s.DormantCount != 0 {
		t.Errorf("lug1 = %+v", s)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if !Dormant(time.Time{}, now.AddDate(-1, 0, 0), now) || Dormant(now.AddDate(0, -1, 0), now.AddDate(-2, 0, 0), now) {
		t.Error("Dormant")
	}
	ms2 := []Meeting{{Title: "m", Start: now.AddDate(0, 0, -3)}, {Title: "c", Start: now.AddDate(0, 0, -1), Cancelled: true}}
	if got := LastMeeting(ms2, now); !got.Equal(now.AddDate(0, 0, -3)) {
		t.Errorf("LastMeeting = %v", got)
	}
	if got := MeetingsOn(ms2, now.AddDate(0, 0, -3), now.AddDate(0, 0, -2)); len(got) != 1 {
		t.Errorf("MeetingsOn = %v", got)
	}
}
