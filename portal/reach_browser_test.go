package portal_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster/internal/browsertest"
)

// TestBrowserReach drives headless Chromium: an organizer sends an
// announcement from the form. (The visitor's side, the public pages and
// the finder, is in public_browser_test.go.)
func TestBrowserReach(t *testing.T) {
	exe := browsertest.Chromium(t)
	d := startDemo(t)
	shots := browsertest.ScreenshotDir(t, "PORTAL_SCREENSHOTS", "portal-screenshots-")

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
