package main

import (
	"github.com/roster-dev/roster/portal"
)

// wirePortal mounts the web portal at /portal when the configuration names
// its OIDC client (portal.clientID, which config.Validate requires to be
// listed in admin.clients). The portal reaches the provider and the admin
// API over HTTP at the issuer, like any other client would.
func (a *app) wirePortal(p *protocolSet) error {
	pc := a.cfg.Portal
	if pc.ClientID == "" {
		return nil
	}
	h, err := portal.New(portal.Config{
		Logger:       a.log.With("component", "portal"),
		Issuer:       a.cfg.Issuer,
		ClientID:     pc.ClientID,
		ClientSecret: pc.ClientSecret,
		UI:           portal.UI{Title: a.cfg.UI.Title, LogoURL: a.cfg.UI.LogoURL, PrimaryColor: a.cfg.UI.PrimaryColor},
		// The LUG finder's map (portal/finder.go).
		MapTiles:       pc.MapTiles,
		MapAttribution: pc.MapAttribution,
	})
	if err != nil {
		return err
	}
	p.handlers = append(p.handlers, mounted{pattern: "/portal/", component: "portal", handler: h})
	for _, pat := range portal.PublicPatterns { // /g/{slug}: a public group page's short address
		p.handlers = append(p.handlers, mounted{pattern: pat, component: "portal", handler: h})
	}
	return nil
}
