package portal_test

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	demodata "github.com/roster-dev/roster/demo"
)

// tileServer serves map tiles that a test can tell apart: a pale square
// with a border, shaded by its column and row. It counts the tiles asked.
func tileServer(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	var n int
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var z, x, y int
		if _, err := fmt.Sscanf(r.URL.Path, "/%d/%d/%d.png", &z, &x, &y); err != nil {
			http.NotFound(w, r)
			return
		}
		mu <- struct{}{}
		n++
		<-mu
		img := image.NewRGBA(image.Rect(0, 0, 256, 256))
		fill := color.RGBA{R: 230 - uint8((x*7)%40), G: 238 - uint8((y*5)%40), B: 222, A: 255}
		for i := range 256 {
			for j := range 256 {
				c := fill
				if i < 2 || j < 2 {
					c = color.RGBA{R: 170, G: 180, B: 200, A: 255}
				}
				img.Set(i, j, c)
			}
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = png.Encode(w, img)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestBrowserFinder drives headless Chromium as a visitor who is not
// signed in: from the public home, they find the nearest LUG to Reading
// on the finder's map, open its public page, request to join, sign in and
// ask; the organizers see the request. Then the same search from the
// browser's position (granted, emulated at Reading).
func TestBrowserFinder(t *testing.T) {
	tiles, asked := tileServer(t)
	d := startBrowserDemo(t, "--map-tiles", tiles.URL+"/{z}/{x}/{y}.png", "--map-attribution", "Test tiles <b>not bold</b>")

	v := d.tab(t, 1280, 1000)
	v.run("open the public home", chromedp.Navigate(d.base+"/portal/public"))
	v.waitText("h1", "User groups")
	v.waitText("#regions-h", "Regions")
	v.waitText("main", "RUG Europe")
	v.waitText("main", "Upcoming meetings")
	v.screenshot("public-01-home")
	v.checkLabels()

	v.run("search from Reading",
		chromedp.SendKeys(chromedp.CSS("#home-place"), "Reading"),
		chromedp.Submit(chromedp.CSS("#home-place")),
	)
	v.waitText("h1", "Find a group near you")
	v.waitText("#results-h", "1 group within 200 km of Reading, GB")
	v.waitText("#results li", "LUG London")
	v.waitText("#results li .distance", "59 km")
	// The map: the tiles of the configured server, a marker per group.
	v.run("the map draws",
		chromedp.WaitVisible(chromedp.CSS("#map .leaflet-marker-icon")),
		chromedp.WaitVisible(chromedp.CSS("#map img.leaflet-tile-loaded")),
	)
	markers, err := chromedp.Run(v.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#map .leaflet-marker-icon').length`))
	if err != nil || markers != 1 {
		t.Errorf("markers on the map: %d (%v), want 1", markers, err)
	}
	attr, err := chromedp.Run(v.ctx, chromedp.Text(chromedp.CSS(".leaflet-control-attribution"), chromedp.NodeVisible))
	if err != nil || !strings.Contains(attr, "Test tiles <b>not bold</b>") {
		t.Errorf("attribution %q (%v): the configured credit, escaped", attr, err)
	}
	if *asked == 0 {
		t.Error("no tile was asked of the tile server")
	}
	time.Sleep(300 * time.Millisecond) // let the last tiles paint for the screenshot; nothing is asserted on it
	v.screenshot("finder-map")
	v.checkLabels()

	// A radius that reaches Paris puts it second.
	v.run("wider", chromedp.Navigate(d.base+"/portal/find?place=Reading&radius=500"))
	v.waitText("#results-h", "2 groups within 500 km of Reading, GB")
	order, err := chromedp.Run(v.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#results li')].map(li => li.dataset.name)`))
	if err != nil || !slices.Equal(order, []string{"LUG London", "LUG Paris"}) {
		t.Errorf("nearest first: %v (%v)", order, err)
	}
	// By topic, from the form: of the groups within 1000 km, those about
	// kubernetes (Berlin's).
	v.run("kubernetes within 1000 km",
		chromedp.SetValue(chromedp.CSS("#radius"), "1000"),
		chromedp.SetValue(chromedp.CSS("#topic"), "kubernetes"),
		chromedp.Submit(chromedp.CSS("#place")),
	)
	v.waitText("#results-h", "within 1000 km of Reading, GB")
	order, err = chromedp.Run(v.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#results li')].map(li => li.dataset.name)`))
	if err != nil || !slices.Equal(order, []string{"LUG Berlin"}) {
		t.Errorf("kubernetes within 1000 km of Reading: %v (%v)", order, err)
	}
	// A city the gazetteer does not know gets a message, not an error page.
	v.run("unknown", chromedp.Navigate(d.base+"/portal/find?place=Xyzzyville"))
	v.waitText("#place-error", "No city called “Xyzzyville”")

	v.run("back to Reading", chromedp.Navigate(d.base+"/portal/find?place=Reading"))
	v.run("open LUG London", chromedp.Click(chromedp.CSS(`#results a[href="/g/lug-london"]`), chromedp.NodeVisible))
	v.waitText("h1", "LUG London")
	v.waitText("#where", "London")
	v.waitText("#next-h", "Next meetings")
	v.waitText(".meetings", "LUG London monthly")
	og, err := chromedp.Run(v.ctx, chromedp.Evaluate[string](`document.querySelector('meta[property="og:url"]').content + ' | ' + document.querySelector('meta[property="og:title"]').content`))
	if err != nil || og != d.base+"/g/lug-london | LUG London" {
		t.Errorf("Open Graph: %q (%v)", og, err)
	}
	v.screenshot("public-group")
	v.checkLabels()

	// A meeting's public page and its .ics.
	v.run("open the monthly meeting", chromedp.Click(chromedp.CSS(`.meetings li:first-child a[href*="/meetings/"]`), chromedp.NodeVisible))
	v.waitText("h1", "LUG London monthly")
	v.waitText(".facts", "Vendor Inc office")
	v.screenshot("public-meeting")
	ics, err := chromedp.Run(v.ctx, chromedp.Evaluate[string](`document.querySelector('a[href$=".ics"]').getAttribute('href')`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(d.base + ics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("SUMMARY:LUG London monthly")) || !bytes.Contains(body, []byte("RRULE:")) {
		t.Errorf(".ics %s: %d\n%s", ics, resp.StatusCode, body)
	}

	// Request to join: sign in, then ask.
	v.run("back to the group", chromedp.Navigate(d.base+"/g/lug-london"))
	// By keyboard: Tab until the button has the focus, then Enter.
	for i := 0; ; i++ {
		v.run("tab", chromedp.KeyEvent("\t"))
		id, err := chromedp.Run(v.ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		if err != nil {
			t.Fatal(err)
		}
		if id == "join-button" {
			break
		}
		if i > 60 {
			t.Fatal("Request to join is not reachable with the Tab key")
		}
	}
	v.run("request to join", chromedp.KeyEvent("\r"))
	v.signInHere("vendor", "peter")
	v.waitText("h1", "LUG London")
	v.waitText("#membership", "This group takes members on request")
	v.run("ask",
		chromedp.SendKeys(chromedp.CSS("#ask-message"), "I live in Reading and run our storage."),
		chromedp.Click(chromedp.CSS(`form[action="/portal/groups/lug-london/ask"] button[type=submit]`)),
	)
	v.waitText("#membership", "pending")
	v.screenshot("public-joined-pending")
	var reqs struct {
		Items []struct {
			State, Message string
		} `json:"items"`
	}
	d.adminGet(t, "/groups/lug-london/join-requests", &reqs)
	found := false
	for _, r := range reqs.Items {
		found = found || r.State == "pending" && strings.Contains(r.Message, "Reading")
	}
	if !found {
		t.Errorf("the organizers see no pending request: %+v", reqs)
	}

	// The browser's position, with consent (granted and emulated here).
	g := d.tab(t, 1280, 1000)
	lat, lon, acc := 51.4543, -0.9781, 100.0 // Reading
	g.run("start", chromedp.Navigate("about:blank"))
	if _, err := chromedp.CallBrowser(g.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: d.base}); err != nil {
		t.Fatalf("grant geolocation: %v", err)
	}
	if _, err := chromedp.Call(g.ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{Latitude: &lat, Longitude: &lon, Accuracy: &acc}); err != nil {
		t.Fatalf("emulate the position: %v", err)
	}
	g.run("open the finder", chromedp.Navigate(d.base+"/portal/find"))
	g.run("use my location", chromedp.Click(chromedp.CSS("#locate"), chromedp.NodeVisible))
	g.waitText("#results-h", "1 group within 200 km of your position")
	g.waitText("#results li", "LUG London")
	g.screenshot("finder-location")
}

// checkLabels fails the test when the page lacks a main landmark or an
// h1, skips a heading level, or has a visible form control without a
// label.
func (b *tab) checkLabels() {
	b.t.Helper()
	problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		if (document.querySelectorAll('main').length !== 1) out.push('not one main landmark');
		if (document.querySelectorAll('h1').length !== 1) out.push('not one h1');
		let last = 0;
		for (const h of document.querySelectorAll('main h1, main h2, main h3, main h4')) {
			const n = +h.tagName[1];
			if (n > last + 1) out.push('heading ' + h.tagName + ' "' + h.textContent.trim() + '" skips a level');
			last = n;
		}
		for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
			if (c.offsetParent === null) continue;
			const named = (c.id && document.querySelector('label[for="' + c.id + '"]')) || c.getAttribute('aria-label') || c.closest('label');
			if (!named) out.push((c.name || c.id || c.tagName) + ' has no label');
		}
		return out;
	})()`))
	if err != nil {
		b.t.Fatal(err)
	}
	for _, p := range problems {
		b.t.Errorf("accessibility: %s", p)
	}
}

// TestPublicPagesNameNoOneWithoutConsent walks every public page (the
// home, each group, each meeting, the finder), following their links as
// an anonymous visitor would, and finds no demo person named there but the
// one organizer who agreed to be shown, who is named on her group's page.
func TestPublicPagesNameNoOneWithoutConsent(t *testing.T) {
	d := startDemo(t)
	// Alice organizes LUG London and agrees, from her own page.
	alice := d.signIn(t, "vendor", "alice")
	if code, body := alice.post("/portal/me/public", url.Values{"public": {"on"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("alice's consent: %d %s", code, body)
	}
	if _, body := alice.get("/portal/me"); !strings.Contains(body, `id="public-consent" name="public" checked`) {
		t.Errorf("alice's page does not show her consent")
	}
	// Every other organizer (Greta of LUG Berlin, …) never agreed.
	// Past meetings are linked from no page but have public pages too:
	// every meeting of every public group is a starting point (the demo's
	// accepted talks are on past meetups).
	var seeds []string
	var public struct {
		Items []struct {
			Slug string `json:"slug"`
		} `json:"items"`
	}
	d.adminGet(t, "/public/groups", &public)
	for _, g := range public.Items {
		var ms struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		d.adminGet(t, "/groups/"+url.PathEscape(g.Slug)+"/meetings", &ms)
		for _, m := range ms.Items {
			seeds = append(seeds, "/portal/g/"+url.PathEscape(g.Slug)+"/meetings/"+url.PathEscape(m.ID))
		}
	}
	pages := crawlPublic(t, d.base, seeds...)
	for _, want := range []string{"/portal/public", "/g/lug-london", "/g/lug-berlin", "/g/rug-europe", "/portal/find"} {
		if _, ok := pages[want]; !ok {
			t.Errorf("the walk did not reach %s (reached %d pages)", want, len(pages))
		}
	}
	meetings := 0
	for p := range pages {
		if strings.Contains(p, "/meetings/") {
			meetings++
		}
	}
	if meetings == 0 {
		t.Error("the walk reached no meeting page")
	}
	if _, ok := pages["/g/sig-security"]; ok {
		t.Error("a group that is not public has a public page")
	}
	agendas := 0
	for _, text := range pages {
		if strings.Contains(text, "Agenda") {
			agendas++
		}
	}
	if agendas == 0 {
		t.Error("no public page shows an agenda: the speakers' names went unchecked")
	}
	if !strings.Contains(pages["/g/lug-london"], "Run by Alice Andersen") {
		t.Errorf("the consenting organizer is not named on her group's page")
	}
	if !strings.Contains(pages["/g/lug-berlin"], "not named publicly") {
		t.Errorf("LUG Berlin's page does not say its organizers are not named")
	}

	// Everyone the demo knows, by full name, e-mail and user name.
	type person struct{ name, mail, user string }
	var people []person
	for _, u := range demodata.World(time.Now()).Users {
		people = append(people, person{name: u.DisplayName, mail: u.PrimaryEmail(), user: u.UserName})
	}
	if len(people) < 40 {
		t.Fatalf("%d demo people", len(people))
	}
	for path, text := range pages {
		for _, p := range people {
			consented := p.user == "alice"
			for _, s := range []string{p.name, p.mail} {
				if s == "" || !strings.Contains(text, s) {
					continue
				}
				if consented && s == p.name {
					continue // she agreed: as organizer, or speaker
				}
				t.Errorf("%s names %q", path, s)
			}
			if regexp.MustCompile(`\b`+regexp.QuoteMeta(p.user)+`\b`).MatchString(text) && !strings.Contains(p.user, "@") && len(p.user) > 3 && !consented {
				t.Errorf("%s names the user %q", path, p.user)
			}
		}
	}
	t.Logf("walked %d public pages (%d of meetings, %d with an agenda)", len(pages), meetings, agendas)
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)
var tagRE = regexp.MustCompile(`<[^>]*>`)

// crawlPublic fetches the public pages reachable from the public home and
// from seeds without signing in, and returns each one's visible text and attribute
// values (everything but the markup), by path.
func crawlPublic(t *testing.T, base string, seeds ...string) map[string]string {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	public := func(p string) bool {
		return strings.HasPrefix(p, "/g/") || strings.HasPrefix(p, "/portal/g/") || p == "/portal/public" || strings.HasPrefix(p, "/portal/find")
	}
	out := map[string]string{}
	queue := append([]string{"/portal/public", "/portal/find", "/portal/find?place=London&radius=1000"}, seeds...)
	for len(queue) > 0 && len(out) < 500 {
		p := queue[0]
		queue = queue[1:]
		if _, ok := out[p]; ok {
			continue
		}
		resp, err := c.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("public page %s: %d", p, resp.StatusCode)
			continue
		}
		page := string(b)
		// Text and attribute values both count: a name in a title or a
		// data- attribute is as public as one in a paragraph.
		var attrs []string
		for _, m := range regexp.MustCompile(`="([^"]*)"`).FindAllStringSubmatch(page, -1) {
			attrs = append(attrs, m[1])
		}
		out[p] = html.UnescapeString(tagRE.ReplaceAllString(page, " ") + " " + strings.Join(attrs, " "))
		for _, m := range hrefRE.FindAllStringSubmatch(page, -1) {
			l := html.UnescapeString(m[1])
			if u, err := url.Parse(l); err == nil && u.Host == "" && public(u.Path) && !strings.HasSuffix(u.Path, ".ics") {
				queue = append(queue, u.RequestURI())
			}
		}
	}
	return out
}

// TestPublishFromThePortal: the group's edit form, as the ISUG admin who
// manages LUG London, takes its public page down and puts it back.
func TestPublishFromThePortal(t *testing.T) {
	d := startDemo(t)
	victor := d.signIn(t, "vendor", "victor")
	status := func() int {
		resp, err := http.Get(d.base + "/g/lug-london")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := status(); st != http.StatusOK {
		t.Fatalf("lug-london is public in the demo: %d", st)
	}
	form := url.Values{"name": {"LUG London"}, "description": {"Monthly meetings in London."}, "join": {"request"}}
	if code, body := victor.post("/portal/groups/lug-london/edit", form, nil); code != http.StatusSeeOther {
		t.Fatalf("save without public: %d %s", code, body)
	}
	if st := status(); st != http.StatusNotFound {
		t.Errorf("unticked, the public page stays: %d", st)
	}
	if _, body := victor.get("/portal/groups/lug-london"); !strings.Contains(body, `id="edit-public" name="public" aria-describedby`) {
		t.Errorf("the edit form does not show the page as not public")
	}
	form.Set("public", "on")
	if code, body := victor.post("/portal/groups/lug-london/edit", form, nil); code != http.StatusSeeOther {
		t.Fatalf("save with public: %d %s", code, body)
	}
	if st := status(); st != http.StatusOK {
		t.Errorf("ticked, no public page: %d", st)
	}
	if _, body := victor.get("/portal/groups/lug-london"); !strings.Contains(body, `id="edit-public" name="public" checked`) {
		t.Errorf("the edit form does not show the page as public")
	}
}
