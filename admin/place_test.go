package admin

import (
	"strings"
	"testing"
)

// TestPlaceAndSubject: location, type, topics and products on groups, each
// validated and filterable.
func TestPlaceAndSubject(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		name, method, path, body string
		want                     int
	}{
		{"locate lug-london", "PATCH", "/api/v1/groups/lug-london", `{"type":"social","topics":["Go","Kubernetes","go"],"location":{"city":"London","region":"England","country":"GB","coordinates":{"lat":51.53,"lon":-0.12},"timeZone":"Europe/London"}}`, 200},
		{"locate lug-paris", "PATCH", "/api/v1/groups/lug-paris", `{"type":"software","topics":["kubernetes"],"location":{"city":"Paris","country":"FR","timeZone":"Europe/Paris"}}`, 200},
		{"an unknown time zone", "PATCH", "/api/v1/groups/lug-paris", `{"location":{"timeZone":"Europe/Atlantis"}}`, 400},
		{"a bad country", "PATCH", "/api/v1/groups/lug-paris", `{"location":{"country":"France"}}`, 400},
		{"an unknown type", "PATCH", "/api/v1/groups/lug-paris", `{"type":"secret"}`, 400},
		{"a product not configured", "PATCH", "/api/v1/groups/lug-paris", `{"products":["mainframe"]}`, 400},
		{"create with a place", "POST", "/api/v1/groups", `{"slug":"sig-go","name":"SIG Go","kind":"special-interest","parent":"isug","type":"special-interest","topics":["go"],"location":{"country":"DE","timeZone":"Europe/Berlin"}}`, 201},
	}
	for _, s := range steps {
		if st, m := f.call(t, adminToken, s.method, s.path, s.body); st != s.want {
			t.Errorf("%s: %d %v, want %d", s.name, st, m, s.want)
		}
	}
	_, g := f.call(t, adminToken, "GET", "/api/v1/groups/lug-london", "")
	if str(g["topics"]) != `["go","kubernetes"]` || str(g["location"]) != `{"city":"London","coordinates":{"lat":51.53,"lon":-0.12},"country":"GB","region":"England","timeZone":"Europe/London"}` {
		t.Errorf("lug-london: topics %s location %s", str(g["topics"]), str(g["location"]))
	}
	for q, want := range map[string]string{
		"type=social":                    "lug-london",
		"topic=kubernetes":               "lug-london,lug-paris",
		"topic=Go":                       "lug-london,sig-go",
		"country=fr":                     "lug-paris",
		"type=software&topic=kubernetes": "lug-paris",
		"type=special-interest":          "sig-go",
		"country=US":                     "",
	} {
		_, m := f.call(t, adminToken, "GET", "/api/v1/groups?"+q, "")
		var slugs []string
		for _, it := range m["items"].([]any) {
			slugs = append(slugs, it.(map[string]any)["slug"].(string))
		}
		if got := strings.Join(slugs, ","); got != want {
			t.Errorf("?%s = %q, want %q", q, got, want)
		}
	}
}
