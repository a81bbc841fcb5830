package admin

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	ical "github.com/emersion/go-ical"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// setDisplayName gives a fixture user a display name.
func (f *fixture) setDisplayName(t *testing.T, tenant policy.TenantID, id, name string) {
	t.Helper()
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		u, err := tx.User(tenant, policy.UserID(id))
		if err != nil {
			return err
		}
		u.DisplayName = name
		_, err = tx.UpdateUser(tenant, u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPublicGroups: without a token, only groups marked public are listed
// and searchable, with their place and next meetings, and nothing about
// people nor the link to join online.
func TestPublicGroups(t *testing.T) {
	f := newFixture(t)
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"join":"open","description":"Londoners who like Roster"}`); code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, m)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-london", ""); code != http.StatusNotFound {
		t.Errorf("an open group that is not public has a public page: %d", code)
	}
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true,"location":{"city":"London","country":"GB","coordinates":{"lat":51.53,"lon":-0.12}},"topics":["Storage"]}`); code != http.StatusOK || m["public"] != true {
		t.Fatalf("publish: %d %v", code, m)
	}
	code, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/meetings", `{"title":"Meetup","start":"2099-03-11T18:30","end":"2099-03-11T20:30","timeZone":"Europe/London","location":"The Pub","onlineUrl":"https://meet.example/secret-room"}`)
	if code != http.StatusCreated {
		t.Fatalf("meeting: %d %v", code, m)
	}
	meeting, _ := m["id"].(string)
	for _, q := range []string{"london", "LONDON roster", "storage", "europe", "gb"} {
		code, m := f.call(t, "", "GET", "/api/v1/public/groups?q="+strings.ReplaceAll(q, " ", "+"), "")
		items, _ := m["items"].([]any)
		if code != http.StatusOK || len(items) != 1 {
			t.Fatalf("search %q: %d %v", q, code, m)
		}
		g := items[0].(map[string]any)
		next, _ := g["next"].([]any)
		if g["slug"] != "lug-london" || g["parent"] != "Europe" || len(next) != 1 || g["point"] == nil {
			t.Errorf("group %v", g)
		}
		for _, k := range []string{"members", "memberships", "meetings", "id", "mailingList", "organizers"} {
			if _, ok := g[k]; ok {
				t.Errorf("public listing has %q", k)
			}
		}
	}
	if code, m := f.call(t, "", "GET", "/api/v1/public/groups?q=paris", ""); code != http.StatusOK || len(m["items"].([]any)) != 0 {
		t.Errorf("a group that is not public is listed: %v", m)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-paris", ""); code != http.StatusNotFound {
		t.Errorf("private group page: %d", code)
	}
	code, m = f.call(t, "", "GET", "/api/v1/public/groups/lug-london/meetings/"+meeting, "")
	if code != http.StatusOK {
		t.Fatalf("public meeting: %d %v", code, m)
	}
	mv := m["meeting"].(map[string]any)
	if mv["title"] != "Meetup" || mv["online"] != true || mv["onlineUrl"] != nil || !strings.HasPrefix(mv["end"].(string), "2099-03-11T20:30:00Z") {
		t.Errorf("public meeting %v", mv)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-london/meetings/nope", ""); code != http.StatusNotFound {
		t.Errorf("unknown meeting: %d", code)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-paris/meetings/"+meeting, ""); code != http.StatusNotFound {
		t.Errorf("a meeting under a private group: %d", code)
	}

	// The .ics of one meeting reads in a real parser, without the link.
	resp, err := http.Get(f.srv.URL + "/api/v1/public/groups/lug-london/meetings/" + meeting + ".ics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf(".ics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if bytes.Contains(body, []byte("secret-room")) {
		t.Errorf("the public .ics gives away the online link:\n%s", body)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("parse .ics: %v\n%s", err, body)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	if s, _ := evs[0].Props.Text(ical.PropSummary); s != "Meetup" {
		t.Errorf("summary %q", s)
	}
	if uid, _ := evs[0].Props.Text(ical.PropUID); !strings.Contains(uid, meeting) {
		t.Errorf("uid %q does not carry the meeting id %s", uid, meeting)
	}

	// Archived: the page goes.
	if code, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/archive", ``); code != http.StatusOK {
		t.Fatalf("archive: %d %v", code, m)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-london", ""); code != http.StatusNotFound {
		t.Errorf("an archived group keeps its public page: %d", code)
	}
}

// TestPublishAndConsent: who may publish a group, and an organizer is
// named on its public page only once they agreed, never a member.
func TestPublishAndConsent(t *testing.T) {
	f := newFixture(t)
	f.setDisplayName(t, "vendor", f.ids["alice"], "Alice Andersen")
	f.setDisplayName(t, "vendor", f.ids["bob"], "Bob Brown")
	// London is managed: its organizer runs members and meetings, not
	// the group itself, so she may not publish it.
	if code, m := f.call(t, "alice-token", "PATCH", "/api/v1/groups/lug-london", `{"public":true}`); code != http.StatusForbidden {
		t.Fatalf("organizer of a managed LUG publishes it: %d %v", code, m)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-london", ""); code != http.StatusNotFound {
		t.Fatalf("a refused publish published: %d", code)
	}
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true,"join":"request"}`); code != http.StatusOK {
		t.Fatalf("publish: %d %v", code, m)
	}
	if code, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":"`+f.ids["bob"]+`","tenant":"vendor","role":"member"}`); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("bob joins: %d %v", code, m)
	}
	organizers := func() []any {
		t.Helper()
		code, m := f.call(t, "", "GET", "/api/v1/public/groups/lug-london", "")
		if code != http.StatusOK {
			t.Fatalf("public page: %d %v", code, m)
		}
		raw, _ := io.ReadAll(strings.NewReader(strings.Join(flatten(m), " ")))
		for _, n := range []string{"Bob", "bob", f.ids["bob"], f.ids["alice"]} {
			if bytes.Contains(raw, []byte(n)) {
				t.Errorf("the public page names %q: %v", n, m)
			}
		}
		o, _ := m["organizers"].([]any)
		return o
	}
	if o := organizers(); len(o) != 0 {
		t.Errorf("organizers shown without consent: %v", o)
	}
	// Bob, a member, agrees: members are never shown.
	if code, m := f.call(t, "bob-token", "PUT", "/api/v1/me/profile", `{"share":["name"],"public":true}`); code != http.StatusOK || m["public"] != true {
		t.Fatalf("bob's profile: %d %v", code, m)
	}
	if o := organizers(); len(o) != 0 {
		t.Errorf("a member is shown: %v", o)
	}
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/profile", `{"share":["name"],"public":true}`); code != http.StatusOK {
		t.Fatalf("alice's profile: %d %v", code, m)
	}
	if o := organizers(); len(o) != 1 || o[0] != "Alice Andersen" {
		t.Errorf("organizers after consent: %v", o)
	}
	// Consent is withdrawn by saving the profile without it.
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/profile", `{"share":["name"]}`); code != http.StatusOK || m["public"] != nil {
		t.Fatalf("alice withdraws: %d %v", code, m)
	}
	if o := organizers(); len(o) != 0 {
		t.Errorf("organizers after withdrawal: %v", o)
	}
}

// flatten lists every string in a decoded JSON value.
func flatten(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, k)
			out = append(out, flatten(e)...)
		}
		return out
	}
	return nil
}

// TestFinder: the finder places cities and groups with the gazetteer and
// returns public groups within the radius, nearest first, by topic and
// product; bad input gets a JSON error.
func TestFinder(t *testing.T) {
	f := newFixture(t)
	f.adm.cfg.Products = []string{"vendor os", "vendor cloud"}
	for _, tc := range []struct{ method, path, body string }{
		// London by its coordinates; Paris by its city alone (the
		// gazetteer places it); Berlin created public; Madrid not public.
		{"PATCH", "/api/v1/groups/lug-london", `{"public":true,"location":{"city":"London","country":"GB","coordinates":{"lat":51.5308,"lon":-0.1238}},"topics":["storage"],"products":["vendor os"]}`},
		{"PATCH", "/api/v1/groups/lug-paris", `{"public":true,"location":{"city":"Paris","country":"FR"},"topics":["security"],"products":["vendor cloud"]}`},
		{"POST", "/api/v1/groups", `{"slug":"lug-berlin","name":"Berlin","kind":"local","parent":"rug-europe","public":true,"location":{"city":"Berlin","country":"DE"},"topics":["kubernetes"]}`},
		{"POST", "/api/v1/groups", `{"slug":"lug-madrid","name":"Madrid","kind":"local","parent":"rug-europe","location":{"city":"Madrid","country":"ES"},"topics":["kubernetes"]}`},
		{"POST", "/api/v1/groups", `{"slug":"sig-online","name":"Online SIG","kind":"special-interest","parent":"isug","public":true,"topics":["kubernetes"]}`},
	} {
		if code, m := f.call(t, adminToken, tc.method, tc.path, tc.body); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("%s %s: %d %v", tc.method, tc.path, code, m)
		}
	}
	for _, tc := range []struct {
		name, query string
		want        []string  // slugs, in order
		km          []float64 // their distances, ±3%
		place       string    // "Name, CC" searched from
	}{
		{"nearest LUG to Reading", "place=Reading", []string{"lug-london"}, []float64{57}, "Reading, GB"},
		{"wider radius", "place=Reading&radius=500", []string{"lug-london", "lug-paris"}, []float64{57, 370}, "Reading, GB"},
		{"the other London", "place=London,+Canada", nil, nil, "London, CA"},
		{"a country's name", "place=london,+united+kingdom&radius=50", []string{"lug-london"}, []float64{2.5}, "London, GB"},
		{"browser location near Versailles", "lat=48.80&lon=2.13&radius=400", []string{"lug-paris", "lug-london"}, []float64{17, 335}, ""},
		{"by topic", "place=Reading&radius=2000&topic=Kubernetes", []string{"lug-berlin"}, []float64{980}, "Reading, GB"},
		{"by product", "place=Reading&radius=2000&product=vendor+cloud", []string{"lug-paris"}, []float64{370}, "Reading, GB"},
		{"without a place, every public group", "", []string{"lug-berlin", "lug-london", "sig-online", "lug-paris"}, nil, ""},
		{"without a place, by topic", "topic=kubernetes", []string{"lug-berlin", "sig-online"}, nil, ""},
		{"by kind", "kind=local&topic=kubernetes", []string{"lug-berlin"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m := f.call(t, "", "GET", "/api/v1/finder?"+tc.query, "")
			if code != http.StatusOK {
				t.Fatalf("%d %v", code, m)
			}
			items, _ := m["items"].([]any)
			var got []string
			for i, it := range items {
				g := it.(map[string]any)
				got = append(got, g["slug"].(string))
				if tc.km != nil && i < len(tc.km) {
					d, _ := g["distanceKm"].(float64)
					if math.Abs(d-tc.km[i]) > 0.03*tc.km[i]+1 {
						t.Errorf("%s at %.1f km, want about %.0f", got[i], d, tc.km[i])
					}
				}
				if tc.km == nil && g["distanceKm"] != nil {
					t.Errorf("a distance without a place: %v", g)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("found %v, want %v", got, tc.want)
			}
			if tc.place != "" {
				p, _ := m["place"].(map[string]any)
				if p == nil || p["name"].(string)+", "+p["country"].(string) != tc.place {
					t.Errorf("place %v, want %s", m["place"], tc.place)
				}
			}
		})
	}
	if code, m := f.call(t, "", "GET", "/api/v1/finder?place=London", ""); code != http.StatusOK || len(m["alternatives"].([]any)) == 0 || m["radiusKm"] != float64(DefaultRadiusKm) {
		t.Errorf("London: alternatives and the default radius: %d %v", code, m)
	}
	for _, tc := range []struct{ query, code string }{
		{"place=Xyzzyville", "unknown_place"},
		{"place=London,+Narnia", "unknown_place"},
		{"place=Reading&radius=0", "bad_request"},
		{"place=Reading&radius=-5", "bad_request"},
		{"place=Reading&radius=far", "bad_request"},
		{"place=Reading&radius=NaN", "bad_request"},
		{"place=Reading&radius=30000", "bad_request"},
		{"lat=51.5", "bad_request"},
		{"lat=91&lon=0", "bad_request"},
		{"lat=0&lon=181", "bad_request"},
		{"lat=51.5&lon=0&place=Reading", "bad_request"},
	} {
		if code, m := f.call(t, "", "GET", "/api/v1/finder?"+tc.query, ""); code < 400 || errCode(m) != tc.code {
			t.Errorf("%s: %d %v, want %s", tc.query, code, m, tc.code)
		}
	}
}

// TestPublicAgendaNamesOnlyConsentingSpeakers: a public meeting's page,
// its .ics and the group's anonymous feed show the accepted talks but name
// only the speakers who agreed to be shown; a member's feed names all.
func TestPublicAgendaNamesOnlyConsentingSpeakers(t *testing.T) {
	w := newTalkWorld(t)
	w.setDisplayName(t, "vendor", w.ids["bob"], "Bob Brown")
	w.setDisplayName(t, "acme", w.ids["carol"], "Carol Carter")
	if st, m := w.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true}`); st != 200 {
		t.Fatalf("publish: %d %v", st, m)
	}
	mp := w.meeting(t, `{"title":"London March","start":"2031-03-11T18:30","end":"2031-03-11T21:00","timeZone":"Europe/London"}`)
	id := mp[strings.LastIndex(mp, "/")+1:]
	if st, m := w.call(t, "alice-token", "PUT", mp+"/program", `{"callOpen":true,"deadline":"2031-03-01T18:00","formats":[{"name":"talk","minutes":30}]}`); st != 200 {
		t.Fatalf("program: %d %v", st, m)
	}
	st, m := w.call(t, "bob-token", "POST", mp+"/talks", `{"title":"Go at scale","abstract":"What we learnt.","format":"talk","coSpeakers":["acme/carol"]}`)
	if st != 201 {
		t.Fatalf("propose: %d %v", st, m)
	}
	if st, m := w.call(t, "alice-token", "PATCH", mp+"/talks/"+m["id"].(string), `{"status":"accepted"}`); st != 200 {
		t.Fatalf("accept: %d %v", st, m)
	}
	get := func(token, path string) string {
		t.Helper()
		st, _, b := w.send(t, token, "GET", path, "")
		if st != 200 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		return strings.ReplaceAll(string(b), "\r\n ", "") // unfolded (RFC 5545 §3.1)
	}
	public := []string{"/api/v1/public/groups/lug-london/meetings/" + id, "/api/v1/public/groups/lug-london/meetings/" + id + ".ics", "/groups/lug-london/meetings.ics"}
	check := func(when string, want, not []string) {
		t.Helper()
		for _, p := range public {
			body := get("", p)
			if !strings.Contains(body, "Go at scale") {
				t.Errorf("%s: %s lacks the accepted talk:\n%s", when, p, body)
			}
			for _, n := range want {
				if !strings.Contains(body, n) {
					t.Errorf("%s: %s does not name %q", when, p, n)
				}
			}
			for _, n := range not {
				if strings.Contains(body, n) {
					t.Errorf("%s: %s names %q:\n%s", when, p, n, body)
				}
			}
		}
	}
	check("nobody agreed", nil, []string{"Bob", "Carol"})
	if member := get("dave-token", "/groups/lug-london/meetings.ics"); !strings.Contains(member, "Bob Brown and Carol Carter") {
		t.Errorf("a member's feed does not name the speakers:\n%s", member)
	}
	if st, m := w.call(t, "carol-token", "PUT", "/api/v1/me/profile", `{"share":["name"],"public":true}`); st != 200 {
		t.Fatalf("carol agrees: %d %v", st, m)
	}
	check("carol agreed", []string{"Carol Carter"}, []string{"Bob"})
}
