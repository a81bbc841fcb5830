// Package jsonreq builds the requests Roster's own HTTP clients send to a
// JSON API with a bearer token: the CLI and the portal to the admin API,
// outbound provisioning to a SCIM service provider. Each client reads the
// answer its own way (its error format, its size limits); only the
// request is shared.
package jsonreq

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// New returns a request to url carrying token as a bearer token (RFC 6750
// §2.1). When in is not nil, its JSON is the body, sent as contentType;
// otherwise the request has no body and no Content-Type.
func New(ctx context.Context, method, url, token, contentType string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}
