package portal_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster/internal/browsertest"
)

// browserDemo is the demo server with what its browser tests need:
// the browser and the folder for screenshots.
type browserDemo struct {
	*demo
	exe, shots string
}

// startBrowserDemo finds Chromium (see browsertest.Chromium), starts the
// demo with args (see startDemo) and picks the screenshot folder
// (PORTAL_SCREENSHOTS).
func startBrowserDemo(t *testing.T, args ...string) *browserDemo {
	t.Helper()
	exe := browsertest.Chromium(t)
	d := startDemo(t, args...)
	return &browserDemo{demo: d, exe: exe, shots: browsertest.ScreenshotDir(t, "PORTAL_SCREENSHOTS", "portal-screenshots-")}
}

// tab opens a browser with its own cookies and a width×height window on
// the demo.
func (d *browserDemo) tab(t *testing.T, width, height int) *tab {
	t.Helper()
	return newTab(t, d.exe, d.base, d.shots, width, height)
}

// signedIn opens a width×height tab, signs in as user of tenant and goes
// to path.
func (d *browserDemo) signedIn(t *testing.T, width, height int, tenant, user, path string) *tab {
	t.Helper()
	b := d.tab(t, width, height)
	b.signIn(tenant, user)
	b.run("open "+path, chromedp.Navigate(d.base+path))
	return b
}

// tab is one headless Chromium with its own cookies, driven by chromedp.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func newTab(t *testing.T, exe, base, shots string, width, height int) *tab {
	t.Helper()
	return &tab{t: t, ctx: browsertest.Open(t, exe, width, height), base: base, shot: shots}
}

func (b *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browsertest.Run(b.t, b.ctx, what, steps...)
}

// findPeople searches a group page's people box for q and waits until
// the results show want.
func (b *tab) findPeople(q, want string) {
	b.t.Helper()
	b.run("search "+q,
		chromedp.SendKeys(chromedp.CSS("#people-q"), q),
		chromedp.Submit(chromedp.CSS("#people-q")),
	)
	b.waitText("fieldset", want)
}

// addMember submits a group page's add-member form for the person found
// with role; what names the step.
func (b *tab) addMember(what, role string) {
	b.t.Helper()
	b.submit(what, "/add-member", chromedp.SetValue(chromedp.CSS("#add-member-role"), role))
}

// submit runs the steps fill, then clicks the submit button of the form
// whose action ends in action; what names the step.
func (b *tab) submit(what, action string, fill ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.run(what, append(fill, chromedp.Click(chromedp.CSS(`form[action$="`+action+`"] button[type=submit]`)))...)
}

// waitText waits until the element sel's text contains want.
func (b *tab) waitText(sel, want string) {
	b.t.Helper()
	var got string
	var err error
	for {
		// Each try is bounded so that a node of a page being replaced
		// is looked up again in the new one.
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		var txt string
		txt, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			if got = txt; strings.Contains(txt, want) {
				return
			}
		}
		if b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %q in %s (last text %q): %v", want, sel, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the whole page as name.png.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	browsertest.Screenshot(b.t, b.ctx, b.shot, name)
}

// signIn goes to the portal, is sent to Roster's sign-in pages and signs
// in there.
func (b *tab) signIn(tenant, user string) {
	b.t.Helper()
	b.run("open the portal", chromedp.Navigate(b.base+"/portal/"))
	b.signInHere(tenant, user)
	b.waitText("h1", "Groups")
}

// signInHere completes Roster's sign-in pages, where the browser is (sent
// there by the portal).
func (b *tab) signInHere(tenant, user string) {
	b.t.Helper()
	// Roster's sign-in asks for an e-mail address or user name first, then
	// (for a bare user name) the organisation, then the password.
	b.run("sign in as "+user,
		chromedp.WaitVisible(chromedp.CSS("#identifier")),
		chromedp.SendKeys(chromedp.CSS("#identifier"), user),
		chromedp.Submit(chromedp.CSS("#identifier")),
	)
	for i := 0; ; i++ {
		step, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#password') ? 'password' : document.querySelector('#tenant') ? 'tenant' : ''`))
		if err == nil && step == "password" {
			break
		}
		if err == nil && step == "tenant" {
			b.run("choose "+tenant, chromedp.SetValue(chromedp.CSS("#tenant"), tenant), chromedp.Submit(chromedp.CSS("#tenant")))
			continue
		}
		if i > 100 {
			b.t.Fatalf("sign in as %s: no password form (%v)", user, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.run("password for "+user,
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SetValue(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), "roster-demo"),
		chromedp.Submit(chromedp.CSS("#password")),
	)
}

// TestBrowser drives the portal in a real headless Chromium: the LUG
// organizer alice adds a member and a meeting, is refused what she may
// not do and sees bad input and a form without its CSRF token refused;
// the ISUG admin victor browses the tree, assigns a role and finds every
// change in the audit trail. Screenshots of every main page are saved.
func TestBrowser(t *testing.T) {
	d := startBrowserDemo(t)

	// The organizer.
	alice := d.tab(t, 1280, 900)
	alice.signIn("vendor", "alice")
	alice.screenshot("01-tree-alice")
	alice.run("open lug-london", chromedp.Click(chromedp.CSS(`a[href="/portal/groups/lug-london"]`), chromedp.NodeVisible))
	alice.waitText("h1", "LUG London")
	alice.findPeople("peter", "Peter")
	alice.addMember("add peter as member", "member")
	alice.waitText(".flash", "Added vendor/peter as member")
	alice.submit("fill a meeting", "/add-meeting",
		chromedp.SendKeys(chromedp.CSS("#add-meeting-title"), "Spring meetup"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-start"), "2031-03-11T18:30"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-end"), "2031-03-11T21:00"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-tz"), "Europe/London"),
		chromedp.SendKeys(chromedp.CSS("#add-meeting-location"), "Vendor Inc office, 1 King's Cross"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-repeat"), "monthly-weekday"),
		chromedp.SendKeys(chromedp.CSS("#add-meeting-count"), "6"),
		chromedp.SendKeys(chromedp.CSS("#add-meeting-capacity"), "40"),
	)
	alice.waitText(".flash", "Added the meeting “Spring meetup”")
	alice.waitText("#meetings", "Spring meetup")
	alice.waitText("#meetings", "repeats monthly on the 2nd Tuesday, 6 times")
	alice.screenshot("02-group-lug-london")

	// Bad input: the message stands next to the field, nothing changes.
	before := d.auditSeq(t)
	alice.submit("a meeting without a title", "/add-meeting",
		chromedp.SetValue(chromedp.CSS("#add-meeting-start"), "2031-04-08T18:30"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-tz"), "Mars/Olympus"),
	)
	alice.waitText("#add-meeting-title-error", "Title is required")
	alice.waitText("#add-meeting-tz-error", "IANA time zone")
	alice.screenshot("03-invalid-meeting")

	// What the organizer may not do: give the organizer role.
	alice.findPeople("bob", "bob@acme.example")
	alice.addMember("try to make bob organizer", "organizer")
	alice.waitText("#members .alert", "Refused: you may not give the role “organizer” in lug-london")
	alice.screenshot("04-refused")

	// A form posted without its CSRF token is refused.
	alice.submit("drop the CSRF token and post", "/add-meeting",
		chromedp.Navigate(d.base+"/portal/groups/lug-london"),
		chromedp.WaitVisible(chromedp.CSS("#add-meeting-title")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.querySelector('form[action$="/add-meeting"] input[name=csrf]').remove(), true)`)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS("#add-meeting-title"), "Forged"),
		chromedp.SetValue(chromedp.CSS("#add-meeting-start"), "2031-05-13T18:30"),
	)
	alice.waitText(".alert", "security token is missing")
	alice.screenshot("05-csrf-refused")
	if after := d.auditSeq(t); after != before {
		t.Errorf("audit sequence moved from %d to %d: refused forms changed something", before, after)
	}

	alice.run("my roles", chromedp.Navigate(d.base+"/portal/me"))
	alice.waitText("h1", "Alice")
	alice.waitText("table", "members.manage")
	alice.screenshot("06-person-alice")
	alice.run("why", chromedp.Click(chromedp.CSS(`a.why[href*="lug-london"]`), chromedp.NodeVisible))
	alice.waitText(".verdict", "Yes.")
	alice.waitText(".steps", "ug-london-organizers")
	alice.screenshot("07-explain")

	// The ISUG admin.
	victor := d.tab(t, 1280, 900)
	victor.signIn("vendor", "victor")
	victor.waitText(".tree", "LUG Tokyo")
	victor.screenshot("08-tree-victor")
	victor.run("search the tree",
		chromedp.SendKeys(chromedp.CSS("#q"), "paris"),
		chromedp.Submit(chromedp.CSS("#q")),
	)
	victor.waitText("#results-h", "1 group match")
	victor.run("open lug-london", chromedp.Navigate(d.base+"/portal/groups/lug-london?q=bob"))
	victor.waitText("fieldset", "bob@acme.example")
	victor.addMember("make bob organizer", "organizer")
	victor.waitText(".flash", "Added acme/bob@acme.example as organizer")
	victor.run("create a group",
		chromedp.Navigate(d.base+"/portal/"),
		chromedp.Click(chromedp.CSS("details.panel > summary"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS("#create-group-slug")),
		chromedp.SendKeys(chromedp.CSS("#create-group-slug"), "lug-lisbon"),
		chromedp.SendKeys(chromedp.CSS("#create-group-name"), "LUG Lisbon"),
		chromedp.SetValue(chromedp.CSS("#create-group-parent"), "rug-europe"),
		chromedp.SendKeys(chromedp.CSS("#create-group-description"), "Meets in Lisbon every other month."),
		chromedp.Click(chromedp.CSS(`form[action="/portal/groups"] button[type=submit]`)),
	)
	victor.waitText(".flash", "Created LUG Lisbon")
	victor.run("the audit trail", chromedp.Navigate(d.base+"/portal/audit?group=isug&source=user"))
	victor.waitText("table.audit", "lug-lisbon")
	victor.waitText("table.audit", "role organizer of user")
	victor.waitText("table.audit", "role member of user "+"10000000-0000-4000-8000-000000000016") // peter, added by alice
	victor.waitText("table.audit", "Alice Andersen (vendor/alice)")                               // she did it
	victor.waitText("table.audit", "meeting “Spring meetup” added")
	victor.screenshot("09-audit")
	victor.run("directories", chromedp.Navigate(d.base+"/portal/sync"))
	victor.waitText("h1", "Directories")
	victor.screenshot("10-sync")

	// Membership requests: tina (Globex) asks to join the request-only
	// lug-london and joins the open sig-devops; alice approves her.
	tina := d.signedIn(t, 1280, 900, "globex", "tina@globex.example", "/portal/groups/lug-london")
	tina.waitText("#membership", "takes members on request")
	tina.submit("ask to join", "/ask",
		chromedp.SendKeys(chromedp.CSS("#ask-message"), "I organise the Sydney group and work in London this year."),
	)
	tina.waitText(".flash", "Asked")
	tina.waitText("#membership", "pending")
	tina.screenshot("12-request-pending")
	alice.run("requests", chromedp.Navigate(d.base+"/portal/groups/lug-london#requests"))
	alice.waitText("#requests", "Tina Taylor")
	alice.screenshot("13-requests-organizer")
	alice.run("approve tina", chromedp.Click(chromedp.CSS(`#requests form[action$="/approve"] button`), chromedp.NodeVisible))
	alice.waitText(".flash", "Approved")
	alice.waitText("#requests", "approved")
	tina.run("reload", chromedp.Navigate(d.base+"/portal/groups/lug-london"))
	tina.waitText("#membership", "You are a member")
	tina.run("RSVP", chromedp.Click(chromedp.CSS(`#meetings form[action$="/rsvp"] button[aria-label="Going to Spring meetup"]`), chromedp.NodeVisible))
	tina.waitText(".flash", "you are going")
	tina.waitText("#meetings", "you said going")
	tina.screenshot("14-meetings-rsvp")
	tina.run("calendar link", chromedp.Navigate(d.base+"/portal/me"),
		chromedp.Click(chromedp.CSS(`#calendar button`), chromedp.NodeVisible))
	tina.waitText(".flash", "/calendar/")
	flash, err := chromedp.Run(tina.ctx, chromedp.Text(chromedp.CSS(".flash")))
	if err != nil {
		t.Fatal(err)
	}
	checkFeed(t, flash[strings.Index(flash, "http"):], "Spring meetup")
	tina.run("open sig-devops", chromedp.Navigate(d.base+"/portal/groups/sig-devops"))
	tina.run("join", chromedp.Click(chromedp.CSS(`form[action$="/join"] button`), chromedp.NodeVisible))
	tina.waitText(".flash", "you are now a member")
	tina.waitText("#members", "Tina Taylor")
	victor.run("the audit trail again", chromedp.Navigate(d.base+"/portal/audit?group=isug&source=user"))
	victor.waitText("table.audit", "asked to join")
	victor.waitText("table.audit", "approved the request of user")
	victor.waitText("table.audit", "joined (open group)")

	// A phone.
	phone := d.signedIn(t, 390, 844, "vendor", "alice", "/portal/groups/lug-london")
	phone.waitText("h1", "LUG London")
	overflow, err := chromedp.Run(phone.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Errorf("the group page scrolls sideways on a 390 px wide phone")
	}
	phone.screenshot("11-group-phone")

	entries, _ := os.ReadDir(d.shots)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("saved %d screenshots: %s", len(names), strings.Join(names, ", "))
}

// TestBrowserAdminArchive: the ISUG admin victor creates a SCIM token,
// sees it once, and revokes it; archives a SIG, finds it hidden from the
// tree until archived groups are shown, and unarchives it; the organizer
// alice edits a meeting of her LUG.
func TestBrowserAdminArchive(t *testing.T) {
	d := startBrowserDemo(t)
	secret := `(document.querySelector('#secret-value') || {value: ''}).value`

	victor := d.tab(t, 1280, 900)
	victor.signIn("vendor", "victor")
	victor.run("tokens and clients", chromedp.Click(chromedp.CSS(`nav a[href="/portal/admin"]`), chromedp.NodeVisible))
	victor.waitText("h1", "SCIM tokens and clients")
	victor.waitText("#clients", "from the configuration")
	victor.submit("create a token", "/create-token",
		chromedp.SetValue(chromedp.CSS("#create-token-tenant"), "acme"),
		chromedp.SendKeys(chromedp.CSS("#create-token-name"), "okta-2026"),
	)
	victor.waitText(".flash", "Created the SCIM token “okta-2026” for acme")
	victor.waitText(".secret", "only this once")
	token, err := chromedp.Run(victor.ctx, chromedp.Evaluate[string](secret))
	if err != nil || len(token) < 32 {
		t.Fatalf("the new token is not shown: %q %v", token, err)
	}
	victor.waitText("#tenant-acme + .table-wrap", "okta-2026")
	victor.screenshot("15-scim-token-created")
	if st := scimStatus(t, d.demo, "acme", token); st != 200 {
		t.Errorf("SCIM with the new token: %d", st)
	}
	victor.run("reload", chromedp.Navigate(d.base+"/portal/admin"))
	victor.waitText("h1", "SCIM tokens and clients")
	if again, err := chromedp.Run(victor.ctx, chromedp.Evaluate[string](secret)); err != nil || again != "" {
		t.Errorf("the token is shown again after a reload: %q %v", again, err)
	}
	victor.run("revoke it", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke the token okta-2026 of acme"]`), chromedp.NodeVisible))
	victor.waitText(".flash", "Revoked the SCIM token “okta-2026” of acme")
	victor.screenshot("16-scim-token-revoked")
	if st := scimStatus(t, d.demo, "acme", token); st != 401 {
		t.Errorf("SCIM with the revoked token: %d, want 401", st)
	}

	victor.run("open sig-security", chromedp.Navigate(d.base+"/portal/groups/sig-security"))
	victor.waitText("h1", "SIG Security")
	victor.run("archive it", chromedp.Click(chromedp.CSS(`#archive form[action$="/archive"] button`), chromedp.NodeVisible))
	victor.waitText(".flash", "Archived")
	victor.waitText(".archived-note", "archived")
	victor.screenshot("17-group-archived")
	victor.run("the tree", chromedp.Navigate(d.base+"/portal/"))
	victor.waitText(".archived-toggle", "1 archived group is hidden")
	if shown, err := chromedp.Run(victor.ctx, chromedp.Evaluate[bool](`!!document.querySelector('a[href="/portal/groups/sig-security"]')`)); err != nil || shown {
		t.Errorf("the tree shows the archived SIG (%v)", err)
	}
	victor.run("show archived", chromedp.Click(chromedp.CSS(`.archived-toggle a`), chromedp.NodeVisible))
	victor.waitText(".tree", "SIG Security")
	victor.waitText(".node.archived", "archived")
	victor.screenshot("18-tree-archived-shown")
	victor.run("unarchive",
		chromedp.Navigate(d.base+"/portal/groups/sig-security"),
		chromedp.Click(chromedp.CSS(`#archive form[action$="/unarchive"] button`), chromedp.NodeVisible),
	)
	victor.waitText(".flash", "Unarchived")
	victor.run("the audit trail", chromedp.Navigate(d.base+"/portal/audit?group=sig-security"))
	victor.waitText("table.audit", "group sig-security: unarchived")
	victor.waitText("table.audit", "group sig-security: archived")

	alice := d.tab(t, 1280, 900)
	alice.signIn("vendor", "alice")
	alice.run("edit a meeting",
		chromedp.Navigate(d.base+"/portal/groups/lug-london"),
		chromedp.Click(chromedp.CSS(`#meetings a[aria-label^="Edit the meeting"]`), chromedp.NodeVisible),
	)
	alice.waitText("h1", "Edit “")
	alice.run("change the venue",
		chromedp.SetValue(chromedp.CSS("#edit-meeting-location"), "The British Library"),
		chromedp.SetValue(chromedp.CSS("#edit-meeting-capacity"), "25"),
	)
	alice.screenshot("19-meeting-edit")
	alice.run("save", chromedp.Click(chromedp.CSS(`form[action*="/meetings/"] button[type=submit]`)))
	alice.waitText(".flash", "Saved the meeting")
	alice.waitText("#meetings", "The British Library")
}
