package admin

// The LUG finder: public groups near a place, by topic and by product.
//
//	GET /api/v1/finder?place=London,GB&radius=200&topic=kubernetes&product=vendor+os
//	GET /api/v1/finder?lat=51.5&lon=-0.12&radius=150
//
// The place is a city of the gazetteer (package geo: GeoNames' cities of
// at least 15,000 people), written as a name with an optional country
// ("London", "London, CA", "London, Canada"); of several cities of that
// name the most populous is taken and the others are returned as
// alternatives. A group is placed by its location's coordinates, else by
// its city in the gazetteer; a group with neither is found only by a
// search without a place. No token is needed: it reads public groups
// only.

import (
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/roster-dev/roster/geo"
	"github.com/roster-dev/roster/policy"
)

// Finder bounds.
const (
	// DefaultRadiusKm is the finder's travel radius when none is asked:
	// the two or three hours people travel to a LUG meeting.
	DefaultRadiusKm = 200
	// MaxRadiusKm bounds the radius: half the Earth's circumference.
	MaxRadiusKm = 20000
)

// gazetteer returns the configured gazetteer, loading the embedded one on
// first use.
func (s *Server) gazetteer() (*geo.Gazetteer, error) {
	s.gazOnce.Do(func() {
		if s.cfg.Gazetteer != nil {
			s.gaz = s.cfg.Gazetteer
			return
		}
		s.gaz, s.gazErr = geo.Cities()
	})
	return s.gaz, s.gazErr
}

// groupPoint is where g meets: its coordinates, else its city's.
func (s *Server) groupPoint(g policy.Group) (geo.Point, bool) {
	l := g.Location
	if l == nil {
		return geo.Point{}, false
	}
	if c := l.Coordinates; c != nil {
		return geo.Point{Lat: c.Lat, Lon: c.Lon}, true
	}
	if l.City == "" {
		return geo.Point{}, false
	}
	gz, err := s.gazetteer()
	if err != nil {
		return geo.Point{}, false
	}
	q := l.City
	if l.Country != "" {
		q += ", " + l.Country
	}
	if cs := gz.Lookup(q); len(cs) > 0 {
		return cs[0].Point, true
	}
	return geo.Point{}, false
}

// finderHit is one group the finder found, with its distance from the
// origin when a place was given.
type finderHit struct {
	publicGroupView
	DistanceKm *float64 `json:"distanceKm,omitempty"`
}

// finderAnswer is the finder's answer.
type finderAnswer struct {
	// Place is the city searched from; Origin the point (the city's, or
	// the one given); both absent for a search without a place.
	Place        *geo.City   `json:"place,omitempty"`
	Origin       *geo.Point  `json:"origin,omitempty"`
	RadiusKm     float64     `json:"radiusKm"`
	Alternatives []geo.City  `json:"alternatives,omitempty"`
	Items        []finderHit `json:"items"`
}

// finderQuery is a parsed finder request.
type finderQuery struct {
	place, topic, product, kind string
	point                       *geo.Point
	radius                      float64
}

func parseFinder(r *http.Request) (finderQuery, error) {
	q := r.URL.Query()
	fq := finderQuery{
		place:   strings.TrimSpace(q.Get("place")),
		topic:   strings.Join(policy.NormalizeTags([]string{q.Get("topic")}), ""),
		product: strings.Join(policy.NormalizeTags([]string{q.Get("product")}), ""),
		kind:    strings.TrimSpace(q.Get("kind")),
		radius:  DefaultRadiusKm,
	}
	if v := q.Get("radius"); v != "" {
		rad, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(rad) || rad <= 0 || rad > MaxRadiusKm {
			return fq, badRequest("radius must be a number of kilometres in (0, %d]", MaxRadiusKm)
		}
		fq.radius = rad
	}
	la, lo := q.Get("lat"), q.Get("lon")
	if la != "" || lo != "" {
		lat, err1 := strconv.ParseFloat(la, 64)
		lon, err2 := strconv.ParseFloat(lo, 64)
		if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return fq, badRequest("lat and lon must be given together, a latitude in [-90, 90] and a longitude in [-180, 180]")
		}
		if fq.place != "" {
			return fq, badRequest("give a place or lat and lon, not both")
		}
		fq.point = &geo.Point{Lat: lat, Lon: lon}
	}
	return fq, nil
}

// finder answers GET /api/v1/finder.
func (s *Server) finder(w http.ResponseWriter, r *http.Request) {
	fq, err := parseFinder(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	ans := finderAnswer{RadiusKm: fq.radius, Items: []finderHit{}, Origin: fq.point}
	if fq.place != "" {
		gz, err := s.gazetteer()
		if err != nil {
			writeErr(w, err)
			return
		}
		cs := gz.Lookup(fq.place)
		if len(cs) == 0 {
			writeErr(w, &Error{Status: http.StatusNotFound, Code: "unknown_place", Message: "no city called " + strconv.Quote(fq.place) + " in the gazetteer (GeoNames' cities of at least 15,000 people); try a larger city nearby, or add the country"})
			return
		}
		ans.Place, ans.Origin = &cs[0], &cs[0].Point
		if len(cs) > 1 {
			ans.Alternatives = cs[1:min(len(cs), 10)]
		}
	}
	ps, err := s.publicSet(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	for _, g := range ps.groups {
		if fq.topic != "" && !slices.Contains(g.Topics, fq.topic) || fq.product != "" && !slices.Contains(g.Products, fq.product) || fq.kind != "" && string(g.Kind) != fq.kind {
			continue
		}
		h := finderHit{publicGroupView: s.publicView(g, ps)}
		if ans.Origin != nil {
			if h.Point == nil {
				continue
			}
			d := geo.DistanceKm(*ans.Origin, *h.Point)
			if d > fq.radius {
				continue
			}
			d = math.Round(d*10) / 10
			h.DistanceKm = &d
		}
		ans.Items = append(ans.Items, h)
	}
	sort.SliceStable(ans.Items, func(i, j int) bool {
		a, b := ans.Items[i], ans.Items[j]
		if a.DistanceKm != nil && b.DistanceKm != nil && *a.DistanceKm != *b.DistanceKm {
			return *a.DistanceKm < *b.DistanceKm
		}
		return a.Name < b.Name
	})
	writeJSON(w, http.StatusOK, ans)
}
