package geo

import (
	"math"
	"strings"
	"testing"
)

func load(t *testing.T) *Gazetteer {
	t.Helper()
	g, err := Cities()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDistanceKm(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Point
		want float64 // km, published great-circle figures
	}{
		{"London–Paris", Point{51.5074, -0.1278}, Point{48.8566, 2.3522}, 343.5},
		{"New York–Los Angeles", Point{40.7128, -74.0060}, Point{34.0522, -118.2437}, 3935.7},
		{"Sydney–Tokyo", Point{-33.8688, 151.2093}, Point{35.6762, 139.6503}, 7826},
		{"same point", Point{10, 10}, Point{10, 10}, 0},
		{"antipodes", Point{0, 0}, Point{0, 180}, math.Pi * EarthRadiusKm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DistanceKm(tc.a, tc.b)
			if math.Abs(got-tc.want) > 0.005*tc.want+0.01 {
				t.Errorf("DistanceKm = %.1f, want %.1f ±0.5%%", got, tc.want)
			}
			if back := DistanceKm(tc.b, tc.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %v vs %v", got, back)
			}
		})
	}
}

func TestCitiesEmbedded(t *testing.T) {
	g := load(t)
	if n := g.Len(); n < 20000 || n > 30000 {
		t.Errorf("%d cities, want the ~24,000 above 15,000 people", n)
	}
	for _, c := range g.cities {
		if c.Population < 15000 {
			t.Fatalf("%v has %d people", c, c.Population)
		}
	}
}

func TestLookup(t *testing.T) {
	g := load(t)
	for _, tc := range []struct {
		q       string
		first   string // "Name, CC" of the first answer; "" for none
		atLeast int
	}{
		{"London", "London, GB", 2},
		{"london, ca", "London, CA", 1},
		{"London, Canada", "London, CA", 1},
		{"London, United Kingdom", "London, GB", 1},
		{"London, UK", "London, GB", 1},
		{"  LONDON ,  gb ", "London, GB", 1},
		{"zurich", "Zürich, CH", 1},
		{"Zürich", "Zürich, CH", 1},
		{"sao paulo", "São Paulo, BR", 1},
		{"New York City", "New York City, US", 1},
		{"Paris, US", "Paris, US", 1},
		{"London, Narnia", "", 0},
		{"Xyzzyville", "", 0},
		{"", "", 0},
	} {
		t.Run(tc.q, func(t *testing.T) {
			got := g.Lookup(tc.q)
			if len(got) < tc.atLeast || tc.first == "" && len(got) != 0 {
				t.Fatalf("Lookup(%q) = %v, want at least %d", tc.q, got, tc.atLeast)
			}
			if tc.first != "" && got[0].String() != tc.first {
				t.Errorf("Lookup(%q)[0] = %v, want %s", tc.q, got[0], tc.first)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Population > got[i-1].Population {
					t.Errorf("not most populous first: %v", got)
				}
			}
		})
	}
}

func TestNearestAndWithin(t *testing.T) {
	g := load(t)
	// Hyde Park is in London, among its districts (Bayswater).
	park := Point{51.5073, -0.1657}
	if c := g.Nearest(park); c.Country != "GB" || DistanceKm(park, c.Point) > 5 {
		t.Errorf("Nearest(Hyde Park) = %v", c)
	}
	if c := g.Nearest(Point{35.68, 139.76}); c.String() != "Tokyo, JP" {
		t.Errorf("Nearest(Tokyo station) = %v", c)
	}
	reading := g.Lookup("Reading, GB")[0]
	near := g.Within(reading.Point, 60)
	var names []string
	for i, c := range near {
		if d := DistanceKm(reading.Point, c.Point); d > 60 {
			t.Errorf("%v is %.0f km away", c, d)
		}
		if i > 0 && DistanceKm(reading.Point, c.Point) < DistanceKm(reading.Point, near[i-1].Point) {
			t.Errorf("not nearest first at %v", c)
		}
		names = append(names, c.String())
	}
	all := strings.Join(names, "; ")
	if !strings.Contains(all, "London, GB") || strings.Contains(all, "Birmingham, GB") {
		t.Errorf("within 60 km of Reading: %s", all)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"# only a comment\n",
		"London\tGB\t51.5\n",
		"London\tGB\t95\t0\t100\n",
		"London\tGBR\t51.5\t0\t100\n",
		"London\tGB\tx\t0\t100\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

// BenchmarkCities parses the embedded gazetteer (done once per process).
func BenchmarkCities(b *testing.B) {
	for b.Loop() {
		if _, err := Cities(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup finds a city by name and country.
func BenchmarkLookup(b *testing.B) {
	g, err := Cities()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if len(g.Lookup("London, United Kingdom")) == 0 {
			b.Fatal("no London")
		}
	}
}

// BenchmarkNearest scans every city for the one nearest a point.
func BenchmarkNearest(b *testing.B) {
	g, err := Cities()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = g.Nearest(Point{51.45, -0.97})
	}
}
