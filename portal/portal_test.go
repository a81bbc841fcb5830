package portal_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestPortalHTTP signs in as the LUG organizer alice and the ISUG admin
// victor and checks pages, actions, refusals and CSRF over plain HTTP.
func TestPortalHTTP(t *testing.T) {
	d := startDemo(t)

	t.Run("signed out", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(d.base + "/portal/groups/lug-london")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/portal/login?next=") {
			t.Fatalf("signed out: %d %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, err = c.Get(d.base + "/portal/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "portal" {
			t.Errorf("authorization request %s: want PKCE S256 for client portal", loc)
		}
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "roster_portal" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/portal" {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/portal", cookie)
		}
	})

	alice := d.signIn(t, "vendor", "alice")
	victor := d.signIn(t, "vendor", "victor")

	t.Run("tree", func(t *testing.T) {
		code, body := victor.get("/portal/")
		for _, want := range []string{"International Systems User Group", "LUG London", "chartered", "not chartered", "members", "Vendor Inc user groups"} {
			if !strings.Contains(body, want) {
				t.Errorf("tree (%d) lacks %q", code, want)
			}
		}
		_, body = victor.get("/portal/?q=london")
		if !strings.Contains(body, `href="/portal/groups/lug-london"`) || strings.Contains(body, `href="/portal/groups/lug-paris"`) {
			t.Errorf("search for london:\n%s", body)
		}
	})

	t.Run("group page", func(t *testing.T) {
		code, body := alice.get("/portal/groups/lug-london")
		if code != http.StatusOK {
			t.Fatalf("group page: %d", code)
		}
		for _, want := range []string{"LUG London", "Members", "organizer", "ug-london-organizers", "Meetings", "Add a meeting", "why?"} {
			if !strings.Contains(body, want) {
				t.Errorf("group page lacks %q", want)
			}
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := d.auditSeq(t)
		for _, tc := range []struct {
			path  string
			form  url.Values
			field string // the id of the message next to the field
			msg   string
		}{
			{"/portal/groups/lug-london/add-meeting", url.Values{"title": {""}, "start": {"2030-01-01T18:00"}, "tz": {"UTC"}}, "add-meeting-title-error", "Title is required"},
			{"/portal/groups/lug-london/add-meeting", url.Values{"title": {"x"}, "start": {"tomorrow"}, "tz": {"UTC"}}, "add-meeting-start-error", "Enter a date and time"},
			{"/portal/groups/lug-london/add-meeting", url.Values{"title": {"x"}, "start": {"2030-01-01T18:00"}, "tz": {"Mars/Olympus"}}, "add-meeting-tz-error", "IANA time zone"},
			{"/portal/groups/lug-london/add-meeting", url.Values{"title": {"x"}, "start": {"2030-01-01T18:00"}, "end": {"2030-01-01T17:00"}, "tz": {"UTC"}}, "add-meeting-end-error", "before the start"},
			{"/portal/groups/lug-london/add-member", url.Values{"user": {"nobody"}, "role": {"member"}}, "add-member-user-error", "company/user name"},
			{"/portal/groups/lug-london/add-member", url.Values{"user": {"acme/nobody@acme.example"}, "role": {"member"}}, "add-member-user-error", "No such person"},
			{"/portal/groups/lug-london/add-rule", url.Values{"tenant": {"vendor"}, "dirGroup": {""}, "role": {"member"}}, "add-rule-dirGroup-error", "Directory group is required"},
			{"/portal/groups", url.Values{"slug": {"Not A Slug"}, "name": {"x"}, "kind": {"local"}}, "create-group-slug-error", "lower-case letters"},
			{"/portal/groups", url.Values{"slug": {"lug-x"}, "name": {""}, "kind": {"local"}}, "create-group-name-error", "Name is required"},
		} {
			code, body := victor.post(tc.path, tc.form, nil)
			if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`"`) || !strings.Contains(body, tc.msg) || !strings.Contains(body, `aria-invalid="true"`) {
				t.Errorf("POST %s %v: %d, want 422 with %q at %s", tc.path, tc.form, code, tc.msg, tc.field)
			}
		}
		if after := d.auditSeq(t); after != before {
			t.Errorf("audit sequence moved from %d to %d: bad input changed something", before, after)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		before := d.auditSeq(t)
		form := url.Values{"title": {"CSRF meetup"}, "start": {"2030-01-01T18:00"}, "tz": {"UTC"}}
		code, body := alice.post("/portal/groups/lug-london/add-meeting", url.Values{"csrf": {""}, "title": form["title"], "start": form["start"], "tz": form["tz"]}, nil)
		if code != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("without the CSRF token: %d, want 403", code)
		}
		code, _ = alice.post("/portal/groups/lug-london/add-meeting", url.Values{"csrf": {victor.csrf}, "title": form["title"], "start": form["start"], "tz": form["tz"]}, nil)
		if code != http.StatusForbidden {
			t.Errorf("with another session's token: %d, want 403", code)
		}
		code, body = alice.post("/portal/groups/lug-london/add-meeting", url.Values{"title": form["title"], "start": form["start"], "tz": form["tz"]}, http.Header{"Origin": {"https://evil.example"}})
		if code != http.StatusForbidden || !strings.Contains(body, "another site") {
			t.Errorf("from another origin: %d, want 403", code)
		}
		if after := d.auditSeq(t); after != before {
			t.Errorf("audit sequence moved from %d to %d", before, after)
		}
	})

	t.Run("organizer refused", func(t *testing.T) {
		before := d.auditSeq(t)
		code, body := alice.post("/portal/groups/lug-london/add-member", url.Values{"user": {"vendor/peter"}, "role": {"organizer"}}, nil)
		if code != http.StatusForbidden || !strings.Contains(body, "Refused: you may not give the role “organizer” in lug-london") {
			t.Errorf("organizer assigning organizer: %d, want 403 with a clear message", code)
		}
		code, _ = alice.post("/portal/groups/lug-london/edit", url.Values{"name": {"Hijacked"}}, nil)
		if code != http.StatusForbidden {
			t.Errorf("organizer renaming the group: %d, want 403", code)
		}
		code, _ = alice.post("/portal/groups/sig-devops/add-meeting", url.Values{"title": {"x"}, "start": {"2030-01-01T18:00"}, "tz": {"UTC"}}, nil)
		if code != http.StatusForbidden && code != http.StatusNotFound {
			t.Errorf("organizer adding a meeting in a group she cannot see: %d, want 403 or 404", code)
		}
		code, body = alice.get("/portal/sync")
		if code != http.StatusForbidden || !strings.Contains(body, "Refused") {
			t.Errorf("sync page for an organizer: %d", code)
		}
		// victor is admin of isug, the only top-level group: his role
		// carries directories.manage there.
		if code, body := victor.get("/portal/sync"); code != http.StatusOK || strings.Contains(body, "Refused") {
			t.Errorf("sync page for the ISUG admin: %d", code)
		}
		if after := d.auditSeq(t); after != before {
			t.Errorf("audit sequence moved from %d to %d", before, after)
		}
	})

	t.Run("actions and audit", func(t *testing.T) {
		code, _ := alice.post("/portal/groups/lug-london/add-member", url.Values{"user": {"vendor/peter"}, "role": {"member"}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("add member: %d", code)
		}
		code, _ = alice.post("/portal/groups/lug-london/add-meeting", url.Values{"title": {"Winter meetup"}, "start": {"2030-01-15T18:30"}, "tz": {"Europe/London"}, "location": {"King's Cross"}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("add meeting: %d", code)
		}
		code, _ = victor.post("/portal/groups/lug-london/add-member", url.Values{"user": {"acme/bob@acme.example"}, "role": {"organizer"}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("victor assigns organizer: %d", code)
		}
		code, _ = victor.post("/portal/groups", url.Values{"slug": {"lug-lisbon"}, "name": {"LUG Lisbon"}, "kind": {"local"}, "parent": {"rug-europe"}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("victor creates a group: %d", code)
		}
		_, body := alice.get("/portal/groups/lug-london")
		if !strings.Contains(body, "Winter meetup") || !strings.Contains(body, "Peter") {
			t.Errorf("group page after the changes lacks the meeting or the member")
		}
		_, body = victor.get("/portal/audit?group=isug&source=user")
		for _, want := range []string{"lug-lisbon", "role organizer", "role member", "lug-london"} {
			if !strings.Contains(body, want) {
				t.Errorf("audit lacks %q", want)
			}
		}
		_, body = victor.get("/portal/audit?group=isug&since=not-a-date")
		if !strings.Contains(body, "Enter a date as YYYY-MM-DD") {
			t.Errorf("audit with a bad date: no message")
		}
		code, body = alice.get("/portal/audit?group=isug")
		if code != http.StatusForbidden || !strings.Contains(body, "Refused") {
			t.Errorf("audit of isug for an organizer: %d", code)
		}
		code, body = alice.get("/portal/audit?group=lug-london&person=vendor/peter")
		if code != http.StatusOK || !strings.Contains(body, "role member of user") {
			t.Errorf("audit of lug-london for its organizer, filtered by person: %d", code)
		}
	})

	t.Run("person and explain", func(t *testing.T) {
		_, body := alice.get("/portal/me")
		if !strings.Contains(body, "LUG London") || !strings.Contains(body, "members.manage") {
			t.Errorf("alice's own page lacks her organizer role")
		}
		code, body := alice.get("/portal/explain?group=lug-london&user=vendor/alice&permission=members.manage")
		if code != http.StatusOK || !strings.Contains(body, "Yes.") || !strings.Contains(body, "ug-london-organizers") {
			t.Errorf("explain: %d\n%s", code, body)
		}
		code, body = alice.get("/portal/explain?group=sig-devops&user=vendor/alice&permission=members.manage")
		if code == http.StatusOK && !strings.Contains(body, "No.") {
			t.Errorf("explain a no: %d", code)
		}
	})

	t.Run("mail preferences", func(t *testing.T) {
		_, body := alice.get("/portal/me")
		m := regexp.MustCompile(`name="mode-([0-9a-f-]+)" value="all" checked`).FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, "Mail from my groups") {
			t.Fatalf("alice's page lacks her mail preferences:\n%s", body)
		}
		if code, _ := alice.post("/portal/me/mail", url.Values{"mode-" + m[1]: {"digest"}}, nil); code != http.StatusSeeOther {
			t.Fatalf("save: %d", code)
		}
		_, body = alice.get("/portal/me")
		if !strings.Contains(body, `name="mode-`+m[1]+`" value="digest" checked`) || !strings.Contains(body, "Saved: your mail preferences.") {
			t.Errorf("after saving the digest:\n%s", body)
		}
	})

	t.Run("csv", func(t *testing.T) {
		resp, err := alice.c.Get(d.base + "/portal/groups/lug-london/members.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("content type %q", ct)
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || len(rows) < 3 || rows[0][2] != "userName" {
			t.Fatalf("csv: %v %v", rows, err)
		}
		var found bool
		for _, r := range rows {
			found = found || r[2] == "alice" && r[4] == "organizer"
		}
		if !found {
			t.Errorf("csv lacks alice as organizer: %v", rows)
		}
	})

	t.Run("membership requests", func(t *testing.T) {
		tina := d.signIn(t, "globex", "tina@globex.example")
		_, body := tina.get("/portal/")
		if !strings.Contains(body, "LUG London") || !strings.Contains(body, "on request") || !strings.Contains(body, "SIG DevOps") {
			t.Errorf("tina's tree lacks the joinable groups:\n%s", body)
		}
		code, body := tina.get("/portal/groups/sig-devops")
		if code != http.StatusOK || !strings.Contains(body, "Join this group") || !strings.Contains(body, "The member list is for the group's members") {
			t.Fatalf("open group from outside: %d\n%s", code, body)
		}
		if code, _ := tina.post("/portal/groups/sig-devops/join", url.Values{}, nil); code != http.StatusSeeOther {
			t.Fatalf("join: %d", code)
		}
		_, body = tina.get("/portal/groups/sig-devops")
		if !strings.Contains(body, "You are a member") || !strings.Contains(body, "Tina Taylor") {
			t.Errorf("after joining sig-devops the page does not say so")
		}
		if code, _ := tina.post("/portal/groups/lug-london/ask", url.Values{"message": {"Security talks?"}}, nil); code != http.StatusSeeOther {
			t.Fatalf("ask: %d", code)
		}
		_, body = tina.get("/portal/groups/lug-london")
		if !strings.Contains(body, "pending") {
			t.Errorf("tina does not see his request pending")
		}
		_, body = alice.get("/portal/groups/lug-london")
		if !strings.Contains(body, "Membership requests") || !strings.Contains(body, "Security talks?") || !strings.Contains(body, "Approve Tina") {
			t.Fatalf("alice does not see tina's request:\n%s", body)
		}
		before := d.auditSeq(t)
		if code, body := tina.post("/portal/groups/lug-london/approve", url.Values{"user": {"10000000-0000-4000-8000-000000000039"}}, nil); code != http.StatusForbidden || !strings.Contains(body, "Refused") {
			t.Errorf("tina approves herself: %d", code)
		}
		if d.auditSeq(t) != before {
			t.Errorf("a refused approval changed something")
		}
		if code, _ := alice.post("/portal/groups/lug-london/approve", url.Values{"user": {"10000000-0000-4000-8000-000000000039"}}, nil); code != http.StatusSeeOther {
			t.Fatalf("approve: %d", code)
		}
		_, body = tina.get("/portal/groups/lug-london")
		if !strings.Contains(body, "You are a member") || !strings.Contains(body, "approved") {
			t.Errorf("tina does not see himself approved")
		}
		_, body = alice.get("/portal/audit?group=lug-london")
		for _, want := range []string{"asked to join", "approved the request of"} {
			if !strings.Contains(body, want) {
				t.Errorf("lug-london's audit lacks %q", want)
			}
		}
	})

	t.Run("sign out", func(t *testing.T) {
		code, _ := alice.post("/portal/logout", url.Values{}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("logout: %d", code)
		}
		c := *alice.c
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(d.base + "/portal/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("after sign-out: %d, want a redirect to sign in", resp.StatusCode)
		}
	})
}
