package main

import (
	"errors"
	"net/http"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/oidc"
)

// oidcAdminErr translates the OIDC package's errors for the admin API,
// which cannot import it: a bad client definition is 400, an unknown
// client 404, a client from the configuration 409. Other errors pass
// through to the admin API's own translation (store errors, 500).
func oidcAdminErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oidc.ErrInvalidClient):
		return &admin.Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, oidc.ErrClientNotFound):
		return &admin.Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, oidc.ErrConfigClient):
		return &admin.Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error() + " (change it there)"}
	}
	return err
}
