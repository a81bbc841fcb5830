package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserReach drives headless Chromium: an organizer sends an
// announcement in Markdown from the form, opens its archive page (the
// Markdown rendered, a script stripped), and writes up to her RUG's
// organizers. (The visitor's side, the public pages and the finder, is in
// public_browser_test.go.)
func TestBrowserReach(t *testing.T) {
	d := startBrowserDemo(t)

	alice := d.signedIn(t, 1280, 900, "vendor", "alice", "/portal/groups/lug-london")
	alice.run("open the form", chromedp.Click(chromedp.CSS(`a[href="/portal/groups/lug-london/announce"]`), chromedp.NodeVisible))
	alice.waitText("h1", "Send an announcement")
	alice.submit("submit without a body", "/announce",
		chromedp.SendKeys(chromedp.CSS("#announce-subject"), "Spring meetup: venue confirmed"),
	)
	alice.waitText(".field-error", "Write the message.")
	alice.submit("write and send", "/announce",
		chromedp.SendKeys(chromedp.CSS("#announce-body"), "We meet at the **Vendor Inc office**.\n\n- pizza from 18:30\n- talks at 19:00\n\n<script>document.title='pwned'</script>"),
	)
	alice.waitText(".flash", "is on its way to")
	alice.waitText(".archive", "Spring meetup: venue confirmed")
	alice.screenshot("reach-03-announcement-sent")
	alice.run("open it", chromedp.Click(chromedp.CSS(`.archive a`), chromedp.NodeVisible))
	alice.waitText("h1", "Spring meetup: venue confirmed")
	alice.waitText(".announcement strong", "Vendor Inc office")
	alice.waitText(".announcement li", "pizza from 18:30")
	got, err := chromedp.Run(alice.ctx, chromedp.Evaluate[string](`document.title + " | " + document.querySelectorAll(".announcement script").length`))
	if err != nil || strings.HasPrefix(got, "pwned") || !strings.HasSuffix(got, " | 0") {
		t.Errorf("the announcement's script survived: %q, %v", got, err)
	}
	alice.waitText("#delivery", "waiting") // the demo has no mail server: nothing is sent
	alice.screenshot("reach-04-announcement-archive")
	alice.run("up to the RUG", chromedp.Navigate(d.base+"/portal/groups/lug-london/announce"),
		chromedp.SendKeys(chromedp.CSS("#announce-subject"), "Speakers wanted for May"),
		chromedp.SendKeys(chromedp.CSS("#announce-body"), "Who at the RUG could give a talk?"),
		chromedp.Click(chromedp.CSS("#to-parent"), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`form[action$="/announce"] button[type=submit]`)),
	)
	alice.waitText(".flash", "is on its way to")
	alice.waitText(".archive", "to the organizers of RUG Europe")
	alice.screenshot("reach-05-to-the-rug")
}
