package portal_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// mainText is the text of the page's main element.
func (b *tab) mainText() string {
	b.t.Helper()
	body, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatal(err)
	}
	return body
}

// TestBrowserTalks drives headless Chromium through the talks of the demo
// world: bob (Acme) proposes a talk to LUG London's next meetup with a
// Vendor co-speaker, is refused bad input next to the field; alice, the
// organizer, comments and accepts it; it is on the agenda and in the
// group's iCalendar feed. Bob, who went to (and spoke at) the past
// meetup, rates it and sees his own talk's score, but neither the others'
// comments nor laura's proposal still under review; alice sees the results
// and the check-in list.
func TestBrowserTalks(t *testing.T) {
	d := startBrowserDemo(t)

	bob := d.signedIn(t, 1280, 1000, "acme", "bob@acme.example", "/portal/groups/lug-london")
	bob.run("open the next meetup's talks", chromedp.Click(chromedp.CSS(`a[aria-label="Talks and agenda of LUG London meetup #11"]`), chromedp.NodeVisible))
	bob.waitText("h1", "LUG London meetup #11: talks and agenda")
	bob.waitText("#call", "Formats: lightning (5 min), talk (30 min)")
	if body := bob.mainText(); strings.Contains(body, "Observability for storage arrays") {
		t.Errorf("bob sees laura's proposal under review:\n%s", body)
	}
	talksURL, err := chromedp.Run(bob.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	// Bad input: the portal's own check, then the admin API's, each next
	// to its field; nothing is proposed.
	bob.submit("propose without a title", "/talks/propose",
		chromedp.SendKeys(chromedp.CSS("#propose-abstract"), "Rolling upgrades of a 12-node cluster, live."),
		chromedp.SetValue(chromedp.CSS("#propose-format"), "talk"),
	)
	bob.waitText("#propose-title-error", "Title is required.")
	bob.submit("name a co-speaker who does not exist", "/talks/propose",
		chromedp.SendKeys(chromedp.CSS("#propose-title"), "Zero-downtime upgrades"),
		chromedp.SendKeys(chromedp.CSS("#propose-coSpeakers"), "acme/nobody"),
	)
	bob.waitText("#propose-coSpeakers-error", `No such person "acme/nobody"`)
	bob.waitText(".alert", "Nothing was changed")
	bob.screenshot("talks-01-propose-refused")
	if body := bob.mainText(); strings.Contains(body, "Zero-downtime upgrades — ") {
		t.Errorf("a refused proposal is listed:\n%s", body)
	}
	bob.submit("propose with charlotte", "/talks/propose",
		chromedp.SetValue(chromedp.CSS("#propose-coSpeakers"), "vendor/charlotte"),
	)
	bob.waitText(".flash", "Proposed “Zero-downtime upgrades”")
	bob.waitText("#proposals", "Zero-downtime upgrades proposed")
	bob.waitText("#proposals", "Bob Baker and Charlotte Clarke")
	bob.screenshot("talks-02-proposed")

	// The organizer reviews and accepts.
	alice := d.tab(t, 1280, 1200)
	alice.signIn("vendor", "alice")
	alice.run("open the talks", chromedp.Navigate(talksURL))
	alice.waitText("#proposals", "Observability for storage arrays")
	alice.waitText("#proposals", "Zero-downtime upgrades")
	alice.run("open the comments", chromedp.Click(chromedp.CSS(`li[data-title="Zero-downtime upgrades"] details summary`), chromedp.NodeVisible))
	alice.run("comment",
		chromedp.SendKeys(chromedp.CSS(`li[data-title="Zero-downtime upgrades"] textarea[name=text]`), "Bob gave this at Acme; people loved it."),
		chromedp.Click(chromedp.CSS(`li[data-title="Zero-downtime upgrades"] form[action$="/talks/comment"] button`)),
	)
	alice.waitText(".flash", "only the organizers see it")
	alice.waitText(`li[data-title="Zero-downtime upgrades"] details summary`, "Organizers' comments (1)")
	alice.run("accept", chromedp.Click(chromedp.CSS(`button[aria-label="Accept Zero-downtime upgrades"]`), chromedp.NodeVisible))
	alice.waitText(".flash", "The talk is accepted; its speakers are told by mail.")
	alice.waitText("#agenda", "Zero-downtime upgrades")
	alice.waitText("#agenda", "Bob Baker and Charlotte Clarke · talk")
	alice.screenshot("talks-03-accepted-on-agenda")

	// The agenda is in the group's iCalendar feed (DESCRIPTION).
	req, _ := http.NewRequest("GET", d.base+"/groups/lug-london/meetings.ics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	unfolded := strings.ReplaceAll(string(ics), "\r\n ", "")
	if resp.StatusCode != 200 || !strings.Contains(unfolded, `Agenda:\n`) || !strings.Contains(unfolded, `Zero-downtime upgrades — Bob Baker and Charlotte Clarke`) {
		t.Errorf("the feed (%d) has no agenda with the talk:\n%s", resp.StatusCode, unfolded)
	}

	// Bob sees the decision, still not the organizers' comments.
	bob.run("reload", chromedp.Navigate(talksURL))
	bob.waitText("#agenda", "Zero-downtime upgrades")
	if body := bob.mainText(); strings.Contains(body, "people loved it") {
		t.Errorf("the speaker reads the organizers' comments")
	}
	bob.run("my talks", chromedp.Navigate(d.base+"/portal/me"), chromedp.Click(chromedp.CSS(`#my-talks a`), chromedp.NodeVisible))
	bob.waitText("h1", "My talks")
	bob.waitText(".talks", "Zero-downtime upgrades accepted")
	bob.waitText(".talks", "Automating storage with Ansible accepted")
	bob.screenshot("talks-03b-my-talks")

	// Bob went to the past meetup (and spoke there): he rates it.
	bob.run("to lug-london", chromedp.Navigate(d.base+"/portal/groups/lug-london"))
	bob.run("open the past meetup's feedback", chromedp.Click(chromedp.CSS(`a[aria-label="Feedback on LUG London meetup #10"]`), chromedp.NodeVisible))
	bob.waitText("h1", "LUG London meetup #10: feedback")
	bob.waitText("#rate", "The form is open until")
	bob.run("send without the overall rating", chromedp.Click(chromedp.CSS(`form[action$="/feedback/rate"] button[type=submit]`), chromedp.NodeVisible))
	bob.waitText(".field-error", "Your overall rating is required.")
	form, err := chromedp.Run(bob.ctx, chromedp.Text(chromedp.CSS(`form[action$="/feedback/rate"]`), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(form, "Automating storage with Ansible") || !strings.Contains(form, "Five lessons from a migration") {
		t.Errorf("the form asks a speaker to rate his own talk, or not the others':\n%s", form)
	}
	bob.screenshot("talks-04-feedback-refused")
	bob.submit("rate", "/feedback/rate",
		chromedp.Click(chromedp.CSS(`input[name=overall][value="4"]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/feedback/rate"] fieldset:nth-of-type(2) input[value="5"]`)),
		chromedp.SendKeys(chromedp.CSS("#rate-comment"), "More lightning talks, please."),
	)
	bob.waitText(".flash", "Thank you: your feedback is saved")
	bob.waitText(`form[action$="/feedback/rate"] button`, "Change my feedback")
	// A speaker sees his own talk's score, nothing more.
	bob.waitText("#results", "Automating storage with Ansible")
	bob.screenshot("talks-05-feedback-sent-speaker-score")
	results, err := chromedp.Run(bob.ctx, chromedp.Text(chromedp.CSS("#results"), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(results, "Five lessons from a migration") || strings.Contains(results, "Great venue") || strings.Contains(results, "Overall") {
		t.Errorf("the speaker sees more than his own talk's score:\n%s", results)
	}
	if body := bob.mainText(); strings.Contains(body, "Check-in list") || strings.Contains(body, "Great venue") {
		t.Errorf("the speaker sees the organizers' view:\n%s", body)
	}

	// The organizer sees the results (four ratings now) and the check-in list.
	alice.run("to lug-london", chromedp.Navigate(d.base+"/portal/groups/lug-london"))
	alice.run("open the past meetup's feedback", chromedp.Click(chromedp.CSS(`a[aria-label="Feedback on LUG London meetup #10"]`), chromedp.NodeVisible))
	alice.waitText("#results", "from 4 ratings")
	alice.waitText("#results", "Automating storage with Ansible")
	alice.waitText("#results", "More lightning talks, please.")
	alice.waitText("#results", "Five lessons from a migration")
	alice.waitText("#checkins", "Daniel Davies")
	alice.screenshot("talks-06-feedback-results")
}
