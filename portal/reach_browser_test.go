package portal_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster/internal/browsertest"
)

// TestBrowserReach drives headless Chromium: a visitor, not signed in,
// finds LUG London with the finder and opens its public page, which
// names no member; its organizer sends an announcement from the form.
func TestBrowserReach(t *testing.T) {
	exe := browsertest.Chromium(t)
	d := startDemo(t)
	shots := browsertest.ScreenshotDir(t, "PORTAL_SCREENSHOTS", "portal-screenshots-")

	visitor := newTab(t, exe, d.base, shots, 1280, 900)
	visitor.run("open the finder", chromedp.Navigate(d.base+"/portal/find"))
	visitor.waitText("h1", "Find a group near you")
	visitor.run("search london",
		chromedp.SendKeys(chromedp.CSS("#q"), "london"),
		chromedp.Submit(chromedp.CSS("#q")),
	)
	visitor.waitText("#results-h", "london")
	visitor.waitText(".results", "LUG London")
	visitor.screenshot("reach-01-find-london")
	visitor.run("open lug-london", chromedp.Click(chromedp.CSS(`a[href="/portal/g/lug-london"]`), chromedp.NodeVisible))
	visitor.waitText("h1", "LUG London")
	visitor.waitText("#join-h", "How to join")
	body, err := chromedp.Run(visitor.ctx, chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	// Alice Andersen organizes lug-london in the demo: a public page
	// never names members or organizers.
	for _, name := range []string{"Alice", "Andersen", "alice"} {
		if strings.Contains(body, name) {
			t.Errorf("the public page names %q:\n%s", name, body)
		}
	}
	visitor.screenshot("reach-02-public-lug-london")

	alice := newTab(t, exe, d.base, shots, 1280, 900)
	alice.signIn("vendor", "alice")
	alice.run("open lug-london", chromedp.Navigate(d.base+"/portal/groups/lug-london"))
	alice.run("open the form", chromedp.Click(chromedp.CSS(`a[href="/portal/groups/lug-london/announce"]`), chromedp.NodeVisible))
	alice.waitText("h1", "Send an announcement")
	alice.run("submit without a body",
		chromedp.SendKeys(chromedp.CSS("#announce-subject"), "Spring meetup: venue confirmed"),
		chromedp.Click(chromedp.CSS(`form[action$="/announce"] button[type=submit]`)),
	)
	alice.waitText(".field-error", "Write the message.")
	alice.run("write and send",
		chromedp.SendKeys(chromedp.CSS("#announce-body"), "We meet at the Vendor Inc office.\n\nPizza from 18:30."),
		chromedp.Click(chromedp.CSS(`form[action$="/announce"] button[type=submit]`)),
	)
	alice.waitText(".flash", "is on its way to")
	alice.waitText(".archive", "Spring meetup: venue confirmed")
	alice.screenshot("reach-03-announcement-sent")
}
