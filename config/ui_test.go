package config

import (
	"strings"
	"testing"
)

// TestUIAndPortal checks the ui and portal sections: each mistake names
// its field.
func TestUIAndPortal(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	tests := []struct{ doc, field string }{
		{"ui: {primaryColor: 'red; background: url(x)'}", "ui.primaryColor"},
		{"ui: {logoURL: 'javascript:alert(1)'}", "ui.logoURL"},
		{"ui: {logoURL: '//evil.example/logo.png'}", "ui.logoURL"},
		{"portal: {clientID: portal, clientSecret: s3cret-s3cret}", "portal.clientID"},
		{"admin: {clients: [portal]}\nportal: {clientID: portal}", "portal.clientSecret"},
		{"portal: {clientSecret: s3cret}", "portal.clientID"},
		{"portal: {mapTiles: 'ftp://tiles.example/{z}/{x}/{y}.png'}", "portal.mapTiles"},
		{"portal: {mapTiles: 'https://tiles.example/tile.png'}", "portal.mapTiles"},
		{"portal: {mapTiles: 'https://tiles.example/{z}/{x}.png'}", "portal.mapTiles"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), env)
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%q: %v, want an error about %s", tt.doc, err, tt.field)
		}
	}
	c, err := Parse([]byte("admin: {clients: [portal]}\nportal: {clientID: portal, clientSecret: s3cret, mapTiles: 'https://{s}.tile.example/{z}/{x}/{y}.png', mapAttribution: '© Example'}\nui: {title: Groups, logoURL: /logo.svg, primaryColor: '#abc'}"), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.UI.Title != "Groups" || c.Portal.ClientID != "portal" || c.Portal.MapTiles != "https://{s}.tile.example/{z}/{x}/{y}.png" || c.Portal.MapAttribution != "© Example" {
		t.Errorf("parsed %+v %+v", c.UI, c.Portal)
	}
	if c, _ := Parse(nil, env); c.UI.Title != "Roster" || c.UI.PrimaryColor == "" {
		t.Errorf("defaults: %+v", c.UI)
	}
}
