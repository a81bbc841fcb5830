package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFeedbackAndFounding drives headless Chromium through the
// members' voice: a partner's member sends product feedback (a bad form
// first), the product team answers it, the member sees the answer; a
// member applies to found a LUG naming two co-founders, sees the
// nearby-group warning, one co-founder accepts in the portal and the other
// never answers, the RUG admin sees who accepted and approves, and the new
// LUG has its founder and the co-founder who accepted as organizers; the
// analytics pages are drawn. Screenshots of each.
func TestBrowserFeedbackAndFounding(t *testing.T) {
	d := startBrowserDemo(t)

	// Bob (Acme) sends feedback; a form without a product changes nothing.
	bob := d.signedIn(t, 1280, 900, "acme", "bob@acme.example", "/portal/feedback")
	bob.waitText("h1", "Product feedback")
	before := d.auditSeq(t)
	bob.run("send without a product",
		chromedp.SetValue(chromedp.CSS("#send-category"), "problem"),
		chromedp.SendKeys(chromedp.CSS("#send-title"), "Rebuilds take all night"),
		chromedp.SendKeys(chromedp.CSS("#send-body"), "A 40 TB pool rebuild takes eleven hours."),
		chromedp.Click(chromedp.CSS(`form[action="/portal/feedback/send"] button[type=submit]`)),
	)
	bob.waitText("#send-product-error", "Product is required.")
	if after := d.auditSeq(t); after != before {
		t.Errorf("a refused form wrote audit entries %d..%d", before, after)
	}
	bob.run("send",
		chromedp.SetValue(chromedp.CSS("#send-product"), "vendor storage"),
		chromedp.Click(chromedp.CSS(`form[action="/portal/feedback/send"] button[type=submit]`)),
	)
	bob.waitText(".flash", "reached the vendor storage team")
	itemURL := location(t, bob)

	// Hans (the storage team) sees it without Bob's name, and not the
	// cloud item; he answers.
	hans := d.signedIn(t, 1280, 900, "vendor", "hans", "/portal/feedback#inbox")
	hans.waitText("#inbox", "Rebuilds take all night")
	inbox, err := chromedp.Run(hans.ctx, chromedp.Text(chromedp.CSS("#inbox"), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(inbox, "Bob") || strings.Contains(inbox, "Console times out") {
		t.Errorf("the storage team's inbox shows Bob's name or another product's item:\n%s", inbox)
	}
	hans.run("open the item", chromedp.Navigate(itemURL))
	hans.waitText("h1", "Rebuilds take all night")
	hans.submit("answer", "/answer",
		chromedp.SetValue(chromedp.CSS("#answer-status"), "planned"),
		chromedp.SendKeys(chromedp.CSS("#answer-answer"), "Parallel rebuilds ship in 9.2 this spring."),
	)
	hans.waitText(".flash", "the member sees it")

	bob.run("reload", chromedp.Navigate(itemURL))
	bob.waitText("#item-answer", "Parallel rebuilds ship in 9.2")
	bob.waitText("#item-status", "planned")
	bob.screenshot("feedback-answer")

	// Alice (vendor, no triage) cannot open Bob's item.
	alice := d.signIn(t, "vendor", "alice")
	if st, _ := alice.get(strings.TrimPrefix(itemURL, d.base)); st != http.StatusNotFound {
		t.Errorf("alice opens bob's feedback: %d", st)
	}

	// Tina (Globex) applies to found LUG Reading; London is near.
	tina := d.signedIn(t, 1280, 1000, "globex", "tina@globex.example", "/portal/found")
	tina.waitText("h1", "Found a group")
	tina.run("fill in",
		chromedp.SendKeys(chromedp.CSS("#apply-name"), "LUG Reading"),
		chromedp.SendKeys(chromedp.CSS("#apply-slug"), "LUG Reading"),
		chromedp.SetValue(chromedp.CSS("#apply-parent"), "rug-europe"),
		chromedp.SendKeys(chromedp.CSS("#apply-city"), "Reading"),
		chromedp.SendKeys(chromedp.CSS("#apply-country"), "GB"),
		chromedp.SendKeys(chromedp.CSS("#apply-remit"), "Storage and OS users of the Thames Valley, monthly."),
		chromedp.SendKeys(chromedp.CSS("#apply-coFounders"), "acme/bob@acme.example, vendor/hans"),
		chromedp.Click(chromedp.CSS("#check")),
	)
	tina.waitText("#nearby", "LUG London")
	tina.screenshot("found-nearby")
	before = d.auditSeq(t)
	tina.run("apply with a bad short name", chromedp.Click(chromedp.CSS("#apply-btn")))
	tina.waitText("#apply-slug-error", "lower-case letters")
	if after := d.auditSeq(t); after != before {
		t.Errorf("a refused application wrote audit entries %d..%d", before, after)
	}
	tina.run("apply",
		chromedp.SetValue(chromedp.CSS("#apply-slug"), "lug-reading"),
		chromedp.Click(chromedp.CSS("#apply-btn")),
	)
	tina.waitText(".flash", "Applied")
	appURL := location(t, tina)
	tina.waitText("#nearby", "LUG London")

	// Bob, named as a co-founder, sees the request among his
	// applications and accepts; Hans never answers.
	bob.run("open his applications", chromedp.Navigate(d.base+"/portal/found"))
	bob.waitText("#applications", "co-founder: answer")
	bob.run("open the request", chromedp.Click(chromedp.CSS(`#applications a[href$="#confirm"]`), chromedp.NodeVisible))
	bob.waitText("#confirm", "names you as a co-founder")
	bob.waitText("#my-answer", "pending")
	bob.screenshot("found-cofounder-asked")
	messageForms := func(b *tab) int {
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/message"]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := messageForms(bob); n != 0 {
		t.Errorf("a co-founder who has not accepted may answer for the application (%d forms)", n)
	}
	bob.run("accept", chromedp.Click(chromedp.CSS("#accept-place"), chromedp.NodeVisible))
	bob.waitText(".flash", "You accepted")
	bob.waitText("#my-answer", "accepted")
	bob.screenshot("found-cofounder-accepted")
	if n := messageForms(bob); n != 1 {
		t.Errorf("a co-founder who accepted may not answer the reviewers (%d forms)", n)
	}
	// Tina, the applicant, has nothing to answer.
	tina.run("reload", chromedp.Navigate(appURL))
	tina.waitText("#cofounders", "bob@acme.example: accepted")
	if n, err := chromedp.Run(tina.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#confirm").length`)); err != nil || n != 0 {
		t.Errorf("the applicant is asked to confirm (%d, %v)", n, err)
	}

	// Quinn (RUG Europe admin) sees who accepted and approves.
	quinn := d.tab(t, 1280, 900)
	quinn.signIn("vendor", "quinn")
	quinn.run("open the application", chromedp.Navigate(appURL))
	quinn.waitText("h1", "LUG Reading")
	quinn.waitText("#cofounders", "bob@acme.example: accepted")
	quinn.waitText("#cofounders", "hans: pending")
	quinn.screenshot("found-review-cofounders")
	quinn.run("approve",
		chromedp.SendKeys(chromedp.CSS("#decide-reason"), "Welcome aboard!"),
		chromedp.Click(chromedp.CSS("#approve")),
	)
	quinn.waitText(".flash", "Approved")
	quinn.waitText("#founded", "LUG Reading")
	quinn.run("open the new group", chromedp.Navigate(d.base+"/portal/groups/lug-reading"))
	quinn.waitText("h1", "LUG Reading")
	var ex struct {
		Allowed bool `json:"allowed"`
		Steps   []struct {
			Text string `json:"text"`
		} `json:"steps"`
	}
	d.adminGet(t, "/explain?user=globex/tina@globex.example&permission=members.manage&group=lug-reading", &ex)
	if !ex.Allowed || len(ex.Steps) == 0 || !strings.Contains(ex.Steps[0].Text, "role organizer in lug-reading") {
		t.Errorf("tina is not the new group's organizer: %+v", ex)
	}

	var mem struct {
		Members []struct {
			User string `json:"user"`
			Role string `json:"role"`
		} `json:"members"`
	}
	d.adminGet(t, "/groups/lug-reading/members", &mem)
	if len(mem.Members) != 2 || mem.Members[0].Role != "organizer" || mem.Members[1].Role != "organizer" {
		t.Errorf("the new group's members through the API: %+v, want its founder and bob as organizers", mem.Members)
	}
	d.adminGet(t, "/explain?user=acme/bob@acme.example&permission=members.manage&group=lug-reading", &ex)
	if !ex.Allowed {
		t.Errorf("bob, who accepted, is not the new group's organizer: %+v", ex)
	}
	d.adminGet(t, "/explain?user=vendor/hans&permission=members.manage&group=lug-reading", &ex)
	if ex.Allowed {
		t.Errorf("hans, who never accepted, is the new group's organizer: %+v", ex)
	}
	// The analytics: the ISUG for its admin, London for its organizer.
	victor := d.signedIn(t, 1400, 1000, "vendor", "victor", "/portal/stats")
	victor.run("open the isug", chromedp.Click(chromedp.CSS(`a[href="/portal/stats/isug"]`), chromedp.NodeVisible))
	victor.waitText("h1", "International Systems User Group: how it is doing")
	victor.waitText("#groups", "RUG Europe")
	charts, err := chromedp.Run(victor.ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart").length`))
	if err != nil {
		t.Fatal(err)
	}
	if charts != 7 {
		t.Errorf("%d charts, want 7", charts)
	}
	victor.screenshot("analytics")
	alicePage := d.signedIn(t, 1280, 900, "vendor", "alice", "/portal/stats/lug-london")
	alicePage.waitText("h1", "LUG London: how it is doing")
	alicePage.screenshot("analytics-lug")
	if st, _ := alice.get("/portal/stats/isug"); st != http.StatusNotFound && st != http.StatusForbidden {
		t.Errorf("alice opens the ISUG's analytics: %d", st)
	}
	st, csv := alice.get("/portal/stats/lug-london/meetings.csv")
	if st != http.StatusOK || !strings.HasPrefix(csv, "Month,Meetings held,RSVPs (going),Check-ins") || strings.Count(csv, "\n") != 25 {
		t.Errorf("meetings.csv: %d\n%s", st, csv)
	}
	if st, _ := alice.post("/portal/feedback/send", url.Values{"product": {"toaster"}, "category": {"idea"}, "title": {"T"}, "body": {"B"}}, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown product: %d", st)
	}
}

// location is the tab's current URL.
func location(t *testing.T, b *tab) string {
	t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return u
}
