package oidc

import (
	"errors"
	"testing"
)

// TestClientRedirectURIs checks what redirect URIs a client may register
// (RFC 6749 §3.1.2: absolute, no fragment; RFC 9700 §4.1.3: matched
// exactly, so what is registered is what is used).
func TestClientRedirectURIs(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"https://portal.example/cb", true},
		{"http://127.0.0.1:8765/callback", true},
		{"https://portal.example/cb?x=1", true},
		{"https://portal.example/cb#frag", false},
		{"https://portal.example/cb#", false},
		{"/cb", false},
		{"", false},
	}
	for _, tc := range tests {
		for _, logout := range []bool{false, true} {
			c := ClientConfig{ID: "c", Public: true, RedirectURIs: []string{"https://portal.example/cb"}}
			if logout {
				c.PostLogoutRedirectURIs = []string{tc.uri}
			} else {
				c.RedirectURIs = []string{tc.uri}
			}
			err := c.normalize("")
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidClient)) {
				t.Errorf("%q (logout %v): %v, want ok %v", tc.uri, logout, err, tc.ok)
			}
		}
	}
}
