package oidc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster/internal/browsertest"
	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// chrome is one headless Chromium with its own cookies.
type chrome struct {
	t    *testing.T
	ctx  context.Context
	shot string
}

func newChrome(t *testing.T, exe, shots string, width, height int) *chrome {
	t.Helper()
	return &chrome{t: t, ctx: browsertest.Open(t, exe, width, height), shot: shots}
}

func (c *chrome) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	browsertest.Run(c.t, c.ctx, what, steps...)
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (c *chrome) screenshot(name string) {
	c.t.Helper()
	browsertest.Screenshot(c.t, c.ctx, c.shot, name)
}

// TestBrowserEmailFirst drives the pages in headless Chromium: an acme
// address goes to acme's own IdP (a second provider) with the address as
// login_hint; a vendor address goes to the password form, and the member
// lands on the account page. Screenshots of the sign-in page (also with an
// error) and the account page are saved.
func TestBrowserEmailFirst(t *testing.T) {
	exe := browsertest.Chromium(t)
	shots := browsertest.ScreenshotDir(t, "OIDC_SCREENSHOTS", "oidc-screenshots-")
	st, eng := openStore(t)
	users := seed(t, st, 0)
	mainSrv := newLateServer(t)
	idp := newUpstreamIdP(t, mainSrv.URL)
	ctx := context.Background()
	err := st.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: testTenant, Name: "Acme Corp", Kind: policy.TenantPartner, Domains: []string{"acme.example"}}); err != nil {
			return err
		}
		if err := tx.PutTenant(policy.Tenant{ID: "vendor", Name: "Vendor Ltd", Kind: policy.TenantVendor, Domains: []string{"vendor.example"}}); err != nil {
			return err
		}
		v, err := tx.CreateUser("vendor", policy.User{Tenant: "vendor", UserName: "victor", GivenName: "Victor", FamilyName: "Okafor",
			Emails: []policy.Email{{Value: "victor@vendor.example", Primary: true}}, Active: true, Source: "local"})
		if err != nil {
			return err
		}
		for _, slug := range []string{"lug-london", "sig-go"} {
			g, err := tx.GroupBySlug(slug)
			if err != nil {
				return err
			}
			role := policy.RoleName("member")
			if slug == "lug-london" {
				role = "organizer"
			}
			if _, err := tx.AddMembership(policy.Membership{Group: g.ID, User: v.ID, Role: role}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (LocalAccounts{Store: st, Cost: bcrypt.MinCost}).SetPassword(ctx, "vendor", "victor", "victor-password"); err != nil {
		t.Fatal(err)
	}
	main := startProviderOn(t, mainSrv, st, eng, users, func(c *Config) {
		c.Upstreams = map[policy.TenantID]UpstreamConfig{testTenant: {Issuer: idp.srv.URL, ClientID: "roster", ClientSecret: upstreamSecret, CreateUsers: true}}
		c.UI = UI{Title: "ISUG Sign-in", PrimaryColor: "#0b6e4f"}
	})

	// The acme member: sent to acme's IdP, the address carried along.
	acme := newChrome(t, exe, shots, 1100, 820)
	acme.run("open the account page",
		chromedp.Navigate(main.srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS("#identifier")),
	)
	acme.screenshot("sign-in")
	acme.run("an unknown domain",
		chromedp.SendKeys(chromedp.CSS("#identifier"), "someone@initech.example"),
		chromedp.Submit(chromedp.CSS("#identifier")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	if msg := acme.text("#form-error"); !strings.Contains(msg, "initech.example") {
		t.Errorf("unknown domain message %q", msg)
	}
	acme.screenshot("sign-in-error")
	acme.run("an acme address",
		chromedp.Navigate(main.srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS("#identifier")),
		chromedp.SendKeys(chromedp.CSS("#identifier"), "carol@acme.example"),
		chromedp.Submit(chromedp.CSS("#identifier")),
	)
	// Wait for the IdP's page (its form has the same field as ours).
	var loc string
	for acme.ctx.Err() == nil && !strings.HasPrefix(loc, idp.srv.URL+"/login") {
		time.Sleep(50 * time.Millisecond)
		loc, err = chromedp.Run(acme.ctx, chromedp.Location())
	}
	acme.run("the IdP's page", chromedp.WaitVisible(chromedp.CSS("#identifier")))
	if err != nil || !strings.HasPrefix(loc, idp.srv.URL+"/login") {
		t.Errorf("the acme address went to %q (%v), want acme's IdP %s", loc, err, idp.srv.URL)
	}
	if v, _ := chromedp.Run(acme.ctx, chromedp.Value(chromedp.CSS("#identifier"))); v != "carol@acme.example" {
		t.Errorf("at the IdP the address is %q, want it carried as login_hint", v)
	}

	// The vendor member: the password form, then the account page.
	vendor := newChrome(t, exe, shots, 1100, 900)
	vendor.run("a vendor address",
		chromedp.Navigate(main.srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS("#identifier")),
		chromedp.SendKeys(chromedp.CSS("#identifier"), "victor@vendor.example"),
		chromedp.Submit(chromedp.CSS("#identifier")),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	if loc, _ := chromedp.Run(vendor.ctx, chromedp.Location()); !strings.HasPrefix(loc, main.srv.URL) {
		t.Errorf("the vendor address left Roster: %s", loc)
	}
	if ctxText := vendor.text(".context"); !strings.Contains(ctxText, "Vendor Ltd") {
		t.Errorf("password step names %q", ctxText)
	}
	vendor.screenshot("password")
	vendor.run("the password",
		chromedp.SendKeys(chromedp.CSS("#password"), "victor-password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
	)
	page := vendor.text("main")
	for _, want := range []string{"Victor Okafor", "Vendor Ltd", "LUG London", "organizer", "This browser"} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q:\n%s", want, page)
		}
	}
	vendor.screenshot("account")
}
