package demo_test

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
)

func TestVoiceIsValid(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	open := 0
	for _, f := range demo.Feedback(now) {
		if err := policy.ValidateFeedback(f, demo.Products); err != nil {
			t.Errorf("feedback %s: %v", f.ID, err)
		}
		if f.Status != policy.FeedbackAnswered {
			open++
		}
	}
	if open < 3 {
		t.Errorf("%d open feedback items", open)
	}
	as := demo.Applications(now)
	if len(as) != 1 || as[0].Status != policy.ApplicationPending {
		t.Fatalf("applications %+v", as)
	}
	if err := policy.ValidateApplication(as[0]); err != nil {
		t.Error(err)
	}
	for _, r := range demo.ProductTeamRoles() {
		if err := policy.ValidateRole(r); err != nil {
			t.Error(err)
		}
	}
}

func TestHistory(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	w := demo.World(now)
	h := demo.History(w.Groups, now, 1)
	if len(h) != 24*len(w.Groups) {
		t.Fatalf("%d months for %d groups", len(h), len(w.Groups))
	}
	if h2 := demo.History(w.Groups, now, 1); h2[len(h2)-1].Own.Members != h[len(h)-1].Own.Members {
		t.Error("History is not deterministic")
	}
	var isug []policy.GroupMonth
	for _, m := range h {
		if m.Group == demo.GroupISUG {
			isug = append(isug, m)
		}
	}
	if len(isug) != 24 || isug[0].Month != "2025-01" || isug[23].Month != "2026-12" {
		t.Fatalf("isug months %d, %s…%s", len(isug), isug[0].Month, isug[len(isug)-1].Month)
	}
	last := isug[23]
	if last.Groups != len(w.Groups) || last.Subtree.Members <= last.Own.Members || last.Subtree.MeetingsHeld == 0 || last.Subtree.CharterGroups != 7 {
		t.Errorf("isug latest %+v", last)
	}
	if last.Subtree.JoinsTotal() == 0 || last.Subtree.CheckIns > last.Subtree.RSVPs {
		t.Errorf("isug joins %d, check-ins %d > RSVPs %d", last.Subtree.JoinsTotal(), last.Subtree.CheckIns, last.Subtree.RSVPs)
	}
}
