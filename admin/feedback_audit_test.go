package admin

import (
	"encoding/json"
	"strings"
	"testing"
)

// feedbackAudit returns the admin audit log's entries about feedback item
// id, as GET /api/v1/audit answers them (what the operator, and through
// the outbound events the vendor, read).
func feedbackAudit(t *testing.T, f *fixture, id string) []string {
	t.Helper()
	st, _, b := f.send(t, adminToken, "GET", "/api/v1/audit?limit=1000", "")
	if st != 200 {
		t.Fatalf("audit: %d %s", st, b)
	}
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(e, &c); err != nil {
			t.Fatal(err)
		}
		if c.ID == "feedback/"+id {
			out = append(out, string(e))
		}
	}
	return out
}

// TestFeedbackAuditKeepsAnonymousPartnerAnonymous: no audit entry of an
// item from a partner's member who has not chosen to show who they are
// names them, their tenant or their company: not in the detail, nor as
// the entry's actor or tenant; not when they send it, not when they
// change it, not when the product team answers it. A vendor's member is
// named as usual.
func TestFeedbackAuditKeepsAnonymousPartnerAnonymous(t *testing.T) {
	f := feedbackFixture(t)
	st, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"Faster backups","body":"Please."}`)
	if st != 201 {
		t.Fatalf("send: %d %v", st, m)
	}
	id := m["id"].(string)
	if st, m := f.call(t, "carol-token", "PATCH", "/api/v1/feedback/"+id, `{"showIdentity":false}`); st != 200 {
		t.Fatalf("author keeps her choice: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "PATCH", "/api/v1/feedback/"+id, `{"answer":"Planned."}`); st != 200 {
		t.Fatalf("answer: %d %v", st, m)
	}
	entries := feedbackAudit(t, f, id)
	if len(entries) != 3 {
		t.Fatalf("%d audit entries for the item, want 3: %v", len(entries), entries)
	}
	for i, e := range entries {
		for _, leak := range []string{f.ids["carol"], "acme", "Acme", "carol"} {
			if strings.Contains(e, leak) {
				t.Errorf("audit entry %d names the anonymous author (%q): %s", i, leak, e)
			}
		}
	}
	if !strings.Contains(entries[2], `"actor": "user:vendor/`+f.ids["bob"]+`"`) {
		t.Errorf("the product team's answer is not attributed to bob: %s", entries[2])
	}

	// Once she chooses to show who she is, her change names her.
	if st, m := f.call(t, "carol-token", "PATCH", "/api/v1/feedback/"+id, `{"showIdentity":true}`); st != 200 {
		t.Fatalf("show identity: %d %v", st, m)
	}
	if entries = feedbackAudit(t, f, id); len(entries) != 4 || !strings.Contains(entries[3], `"actor": "user:acme/`+f.ids["carol"]+`"`) {
		t.Errorf("after consent, entries %v", entries)
	}

	// A vendor's member is never anonymous to the vendor.
	st, m = f.call(t, "alice-token", "POST", "/api/v1/feedback", `{"product":"cloud","category":"idea","title":"Dark mode","body":"Please."}`)
	if st != 201 {
		t.Fatalf("alice sends: %d %v", st, m)
	}
	if entries = feedbackAudit(t, f, m["id"].(string)); len(entries) != 1 || !strings.Contains(entries[0], `"actor": "user:vendor/`+f.ids["alice"]+`"`) {
		t.Errorf("a vendor member's item: %v", entries)
	}
}
