package portal

import "testing"

// TestTileOrigin: the finder's Content-Security-Policy lets images come
// from the tile server's origin only, a {s} subdomain as a wildcard.
func TestTileOrigin(t *testing.T) {
	for _, tc := range []struct {
		tmpl, origin string
		valid        bool
	}{
		{"https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org", true},
		{"https://{s}.tile.example/{z}/{x}/{y}.png", "https://*.tile.example", true},
		{"http://127.0.0.1:8081/{z}/{x}/{y}.png", "http://127.0.0.1:8081", true},
		{"https://tiles.example/{z}/{x}.png", "https://tiles.example", false},
		{"ftp://tiles.example/{z}/{x}/{y}.png", "", false},
		{"https://evil.example; script-src *;/{z}/{x}/{y}.png", "", false},
		{"https://{z}.example/{z}/{x}/{y}.png", "", false},
		{"tiles/{z}/{x}/{y}.png", "", false},
	} {
		if got := tileOrigin(tc.tmpl); got != tc.origin {
			t.Errorf("tileOrigin(%q) = %q, want %q", tc.tmpl, got, tc.origin)
		}
		if got := ValidMapTiles(tc.tmpl); got != tc.valid {
			t.Errorf("ValidMapTiles(%q) = %v, want %v", tc.tmpl, got, tc.valid)
		}
	}
}
