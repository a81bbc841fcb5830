package scim

import (
	"errors"
	"fmt"
	"net/http"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// statusClientClosed is the status recorded for a request whose client
// hung up before the answer (nginx's 499). It is not sent to anyone; it
// keeps such requests apart from server errors in metrics and logs.
const statusClientClosed = 499

// Error is a SCIM protocol error (RFC 7644 §3.12). It is what handlers
// return for client mistakes; anything else becomes a 500 without detail.
type Error = scimerr.ScimError

// errorf returns a copy of base with a detail message.
func errorf(base scimerr.ScimError, format string, args ...any) error {
	base.Detail = fmt.Sprintf(format, args...)
	return base
}

func errNotFound(kind, id string) error {
	return scimerr.ScimError{Status: http.StatusNotFound, Detail: fmt.Sprintf("%s %q not found", kind, id)}
}

var (
	errUnauthorized = scimerr.ScimError{Status: http.StatusUnauthorized, Detail: "missing or invalid bearer token"}
	errNoEndpoint   = scimerr.ScimError{Status: http.StatusNotFound, Detail: "no such endpoint"}
	errPrecondition = scimerr.ScimError{Status: http.StatusPreconditionFailed, Detail: "the resource has changed (If-Match)"}
	errInternal     = scimerr.ScimError{Status: http.StatusInternalServerError, Detail: "internal error"}
	// errCanceled is answered (to nobody) when the client hung up: 499,
	// nginx's "client closed request", so metrics count it apart from
	// 5xx.
	errCanceled = scimerr.ScimError{Status: statusClientClosed, Detail: "the request was canceled by the client"}
	// errStorage answers a write the storage medium refused: 507
	// Insufficient Storage (RFC 4918 §11.5), which says the server cannot
	// keep what the request needs, rather than a bug.
	errStorage = scimerr.ScimError{Status: http.StatusInsufficientStorage,
		Detail: "storage cannot take writes (out of space or read-only); nothing was changed, retry later"}
)

// toSCIMError translates any error into the SCIM error that is sent to the
// client, and reports whether it is an internal one (to be logged).
func toSCIMError(err error) (scimerr.ScimError, bool) {
	var se scimerr.ScimError
	var mbe *http.MaxBytesError
	var le *policy.LimitError
	switch {
	case errors.As(err, &se):
		return se, false
	case errors.As(err, &mbe):
		return scimerr.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}, false
	case errors.Is(err, store.ErrNotFound):
		return scimerr.ScimError{Status: http.StatusNotFound, Detail: "resource not found"}, false
	case errors.Is(err, store.ErrExists):
		return errorf(scimerr.ScimErrorUniqueness, "a unique attribute (userName, externalId or displayName) is already in use").(scimerr.ScimError), false
	case errors.Is(err, store.ErrVersion):
		return errPrecondition, false
	case errors.As(err, &le):
		// RFC 7644 §3.12: tooMany for more than the server will take,
		// invalidValue for a value it will not keep.
		base := scimerr.ScimErrorInvalidValue
		if le.TooMany() {
			base = scimerr.ScimErrorTooMany
		}
		return errorf(base, "%s", trimPrefix(le)).(scimerr.ScimError), false
	case errors.Is(err, policy.ErrInvalid), errors.Is(err, policy.ErrCycle):
		return errorf(scimerr.ScimErrorInvalidValue, "%s", trimPrefix(err)).(scimerr.ScimError), false
	case errors.Is(err, store.ErrStorage):
		// Logged once per condition by Server.update, not here.
		return errStorage, false
	case errors.Is(err, errFilter):
		return errorf(scimerr.ScimErrorInvalidFilter, "%s", err.Error()).(scimerr.ScimError), false
	}
	return errInternal, true
}

func trimPrefix(err error) string {
	msg := err.Error()
	for _, p := range []string{"store: ", "policy: "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			msg = msg[len(p):]
		}
	}
	return msg
}
