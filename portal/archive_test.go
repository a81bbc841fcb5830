package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPortalArchive: victor archives a SIG, which the tree then hides
// unless archived groups are shown and which refuses new meetings; alice
// may not archive her LUG; a group with active subgroups is not archived;
// unarchiving brings it back; both are in the audit trail.
func TestPortalArchive(t *testing.T) {
	d := startDemo(t)
	alice := d.signIn(t, "vendor", "alice")
	victor := d.signIn(t, "vendor", "victor")

	if code, body := alice.post("/portal/groups/lug-london/archive", url.Values{}, nil); code != http.StatusForbidden || !strings.Contains(body, "Refused: you may not archive lug-london") {
		t.Errorf("alice archives lug-london: %d, want 403 refused", code)
	}
	if code, body := victor.post("/portal/groups/rug-europe/archive", url.Values{}, nil); code != http.StatusConflict || !strings.Contains(body, "archive its subgroups first") {
		t.Errorf("archive rug-europe with its LUGs: %d, want 409", code)
	}
	if code, body := victor.post("/portal/groups/sig-security/archive", url.Values{}, nil); code != http.StatusSeeOther {
		t.Fatalf("archive sig-security: %d\n%s", code, body)
	}
	_, body := victor.get("/portal/")
	if strings.Contains(body, `href="/portal/groups/sig-security"`) || !strings.Contains(body, "1 archived group is hidden") {
		t.Errorf("the tree shows the archived SIG, or does not say it hides one")
	}
	_, body = victor.get("/portal/?archived=1")
	if !strings.Contains(body, `href="/portal/groups/sig-security"`) || !strings.Contains(body, `badge archived`) {
		t.Errorf("the tree with archived groups lacks the SIG or its badge")
	}
	_, body = victor.get("/portal/groups/sig-security")
	if !strings.Contains(body, "This group is <strong>archived</strong>") || strings.Contains(body, "Add a meeting") || !strings.Contains(body, "Unarchive this group") {
		t.Errorf("archived group page: want the notice and the unarchive button, no meeting form")
	}
	before := d.auditSeq(t)
	// Even an admin token adds no meeting (a SIG governs itself: victor
	// has no meetings.edit there).
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/v1/groups/sig-security/meetings", strings.NewReader(`{"title":"x","start":"2030-01-01T18:00:00Z"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("a meeting in the archived SIG: %d, want 409", resp.StatusCode)
	}
	if after := d.auditSeq(t); after != before {
		t.Errorf("a refused meeting moved the audit sequence from %d to %d", before, after)
	}
	if code, _ := victor.post("/portal/groups/sig-security/unarchive", url.Values{}, nil); code != http.StatusSeeOther {
		t.Fatalf("unarchive: %d", code)
	}
	if _, body = victor.get("/portal/"); !strings.Contains(body, `href="/portal/groups/sig-security"`) || strings.Contains(body, "archived group") {
		t.Errorf("the tree lacks the unarchived SIG")
	}
	_, body = victor.get("/portal/audit?group=sig-security")
	if !strings.Contains(body, "group sig-security: archived") || !strings.Contains(body, "group sig-security: unarchived") {
		t.Errorf("the audit page lacks the archiving and unarchiving")
	}
}
