package portal

// The LUG finder at /portal/find: public groups near a city (from the
// gazetteer) or near the visitor's position (which the browser gives only
// when the visitor allows it, and which is used for that one search and
// not kept), within a radius, by topic and product. It reads the admin
// API's /api/v1/finder. With map tiles configured (Config.MapTiles) the
// results are also drawn on a Leaflet map, the only page where a script
// runs; without, the page is a plain list and needs no script at all.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// radii are the finder's travel radius choices, in km.
var radii = []int{50, 100, 200, 300, 500, 1000}

type city struct {
	Name       string `json:"name"`
	Country    string `json:"country"`
	Point      point  `json:"point"`
	Population int    `json:"population"`
}

// Label names the city as the finder's field takes it back.
func (c city) Label() string { return c.Name + ", " + c.Country }

type findData struct {
	Place, Topic, Product string
	Lat, Lon              string
	Radius                int
	Radii                 []int
	Topics, Products      []string
	Searched              bool // a place or a position was given
	From                  *city
	Origin                *point
	Alternatives          []city
	Results               []publicGroup
	Map                   *mapConfig
	Error                 string
}

// mapConfig is what the finder's script needs to draw the map.
type mapConfig struct {
	Tiles, Attribution string
}

func (p *Portal) findPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := findData{
		Place:   strings.TrimSpace(q.Get("place")),
		Topic:   strings.TrimSpace(q.Get("topic")),
		Product: strings.TrimSpace(q.Get("product")),
		Lat:     strings.TrimSpace(q.Get("lat")),
		Lon:     strings.TrimSpace(q.Get("lon")),
		Radius:  200,
		Radii:   radii,
	}
	if rd, err := strconv.Atoi(q.Get("radius")); err == nil && slices.Contains(radii, rd) {
		d.Radius = rd
	}
	// The choices of topic and product are those of the public groups.
	var all listOf[publicGroup]
	if err := p.anon(r.Context(), "/public/groups", &all); err != nil {
		p.publicFail(w, r, err, "group")
		return
	}
	for _, g := range all.Items {
		for _, t := range g.Topics {
			if !slices.Contains(d.Topics, t) {
				d.Topics = append(d.Topics, t)
			}
		}
		for _, t := range g.Products {
			if !slices.Contains(d.Products, t) {
				d.Products = append(d.Products, t)
			}
		}
	}
	slices.Sort(d.Topics)
	slices.Sort(d.Products)

	api := url.Values{"radius": {strconv.Itoa(d.Radius)}}
	switch {
	case d.Lat != "" && d.Lon != "" && d.Place == "":
		api.Set("lat", d.Lat)
		api.Set("lon", d.Lon)
		d.Searched = true
	case d.Place != "":
		api.Set("place", d.Place)
		d.Searched = true
	default:
		d.Lat, d.Lon = "", ""
		api.Set("kind", "local") // with no place, every local group
	}
	if d.Topic != "" {
		api.Set("topic", d.Topic)
	}
	if d.Product != "" {
		api.Set("product", d.Product)
	}
	var ans struct {
		Place        *city         `json:"place"`
		Origin       *point        `json:"origin"`
		Alternatives []city        `json:"alternatives"`
		Items        []publicGroup `json:"items"`
	}
	status := http.StatusOK
	if err := p.anon(r.Context(), "/finder?"+api.Encode(), &ans); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status >= 500 {
			p.publicFail(w, r, err, "group")
			return
		}
		status = http.StatusUnprocessableEntity
		switch ae.Code {
		case "unknown_place":
			d.Error = fmt.Sprintf("No city called “%s” is known. Try a larger city nearby, or add its country (“London, Canada”).", d.Place)
		default:
			d.Error = ae.Message
		}
	}
	d.From, d.Origin, d.Results = ans.Place, ans.Origin, ans.Items
	for _, c := range ans.Alternatives {
		// Namesakes in one country (Reading, Pennsylvania and Reading,
		// Massachusetts) read the same: the most populous stands for them.
		if !slices.ContainsFunc(d.Alternatives, func(x city) bool { return x.Label() == c.Label() }) && (d.From == nil || d.From.Label() != c.Label()) {
			d.Alternatives = append(d.Alternatives, c)
		}
	}
	v := view{Title: "Find a group near you", D: d,
		OG: &openGraph{Title: "Find a user group near you", Description: "Search the public user groups by city, distance, topic and product.", URL: p.publicURL("/portal/find"), Type: "website"}}
	if p.cfg.MapTiles != "" && len(d.Results) > 0 && (d.Origin != nil || !d.Searched) {
		d.Map = &mapConfig{Tiles: p.cfg.MapTiles, Attribution: p.cfg.MapAttribution}
		v.D = d
		v.Scripts = []string{"/portal/static/leaflet/leaflet.js", "/portal/static/finder.js"}
		w.Header().Set("Content-Security-Policy", p.mapCSP())
	}
	p.render(w, r, p.signedIn(r), status, "find", v)
}

// mapCSP is the finder's policy when it draws a map: the portal's own
// scripts, and images from the tile server.
func (p *Portal) mapCSP() string {
	img := "'self' data:"
	if h := tileOrigin(p.cfg.MapTiles); h != "" {
		img += " " + h
	}
	if l, err := url.Parse(p.cfg.UI.LogoURL); err == nil && l.Host != "" {
		img += " " + l.Scheme + "://" + l.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// tileOrigin is the origin a tile URL template loads from, with a {s}
// subdomain as a wildcard: "https://{s}.tile.example/{z}/{x}/{y}.png" →
// "https://*.tile.example".
func tileOrigin(tmpl string) string {
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok || scheme != "https" && scheme != "http" {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	host = strings.ReplaceAll(host, "{s}", "*")
	if host == "" || strings.ContainsAny(host, "{} ;'\"") {
		return ""
	}
	return scheme + "://" + host
}

// ValidMapTiles reports whether tmpl is a usable tile URL template: an
// http(s) URL with {z}, {x} and {y}.
func ValidMapTiles(tmpl string) bool {
	return tileOrigin(tmpl) != "" && strings.Contains(tmpl, "{z}") && strings.Contains(tmpl, "{x}") && strings.Contains(tmpl, "{y}")
}
