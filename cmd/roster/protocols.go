package main

import (
	"context"
	"net/http"

	"github.com/roster-dev/roster/admin"
)

// mounted is one protocol handler and the pattern it serves.
type mounted struct {
	pattern   string
	component string
	handler   http.Handler
}

// protocolSet is what the protocol packages add to the server.
type protocolSet struct {
	handlers        []mounted
	adminExtensions []admin.Extension
	accessTokens    admin.AccessTokenVerifier
}

// protocols builds the SCIM, LDAP and OIDC components from the
// configuration.
func (a *app) protocols(ctx context.Context) (protocolSet, error) {
	var p protocolSet
	return p, nil
}
