// Package scim is Roster's SCIM 2.0 service provider (RFC 7643, RFC 7644):
// partner companies' identity providers (Microsoft Entra ID, Okta) push
// their users and groups to it.
//
// One Server serves every tenant under /scim/v2/{tenant}/: Users (core
// schema plus the enterprise extension), Groups (the tenant's directory
// groups), and the discovery endpoints ServiceProviderConfig, ResourceTypes
// and Schemas. Each tenant authenticates with its own bearer tokens, given
// in the configuration or created with Server.CreateToken; a token of one tenant
// is rejected on another tenant's URL exactly like an unknown token.
//
// Every request is applied in one store.Update on behalf of the actor
// "scim:<tenant>", so a rejected request changes nothing, and the change
// reaches the policy engine through the store's change feed.
//
// The schema definitions and the error type come from
// github.com/elimity-com/scim. Routing, filtering (RFC 7644 §3.4.2.2) and
// PATCH application (§3.5.2) are done here, because the interoperability
// quirks of Entra ID and Okta (capitalised ops, string booleans, dotted and
// URN-qualified keys, value-array member removal) need control the library
// does not give: its PATCH support only validates, its filter evaluator
// misses multi-valued sub-attributes, and its router has no per-tenant
// prefix, 405, body limit or ETag handling.
//
// The served schemas (core User and Group, the enterprise extension and
// the tenant's Extensions) are the source of truth of what a resource may
// hold: a body is checked against them (schemas.go), attributes of no
// served schema are ignored, and a PATCH path or a filter naming one is
// refused.
//
// Requests whose work grows with the tenant (unindexed filters, deep pages
// out of sequence, unfiltered group listings) run under an
// admission.Controller and are refused with 429 and Retry-After beyond
// its bounds; cheap ones never wait for them. A write the storage medium
// refuses answers 507; a client that hangs up is recorded as 499.
//
// Sorting (RFC 7644 §3.4.2.3) never sorts the tenant per page: userName
// pages from the store's index, other attributes from orders kept in
// memory and fed by the change feed, filtered sorts through a bounded
// heap (sort.go, sortcache.go). /Bulk (RFC 7644 §3.7) runs each operation through
// the handler of its own request (bulk.go). The package does not
// implement /Me or password changes.
package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/admission"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// PathPrefix is where the Server expects to be mounted; tenants live
// below it: PathPrefix + "{tenant}/Users".
const PathPrefix = "/scim/v2/"

// Defaults of Config.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxResults   = 1000
	defaultCount        = 100
)

// Config configures a Server.
type Config struct {
	// Logger receives internal errors. Default: a logger that discards.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now. Record timestamps (meta.created,
	// meta.lastModified) are set by the store, not by this clock.
	Now func() time.Time
	// Store keeps users, groups and stored tokens. Required.
	Store store.Store
	// BaseURL is the public URL of Roster (the OIDC issuer), used for
	// absolute meta.location and $ref values, e.g.
	// "https://roster.example.com". Required.
	BaseURL string
	// Tenants configures the tenants whose bearer tokens are given in the
	// configuration. Tenants with tokens created by CreateToken need no
	// entry.
	Tenants map[policy.TenantID]TenantConfig
	// MaxBodyBytes limits request bodies; larger ones get 413.
	// Default: DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// MaxResults caps the count of a list page (ServiceProviderConfig
	// filter.maxResults). Default: DefaultMaxResults.
	MaxResults int
	// Admission bounds the expensive requests (unindexed filters, deep
	// pages, full listings) that run at once, per tenant and globally;
	// beyond it they get 429 with Retry-After. Cheap requests never go
	// through it. Default: admission.New with its default bounds.
	Admission *admission.Controller
	// BulkMaxOperations and BulkMaxBytes bound a /Bulk request (RFC 7644
	// §3.7: maxOperations, maxPayloadSize); beyond them it gets 413.
	// Defaults: DefaultBulkMaxOperations, DefaultBulkMaxBytes.
	BulkMaxOperations int
	BulkMaxBytes      int64
}

// TenantConfig is the configuration of one tenant's SCIM endpoint.
type TenantConfig struct {
	// Tokens are plain bearer tokens. The Server keeps only their
	// SHA-256.
	Tokens []string
	// Extensions are the tenant's custom schema extensions (RFC 7643
	// §3.3), served at /Schemas beside the core and enterprise schemas.
	Extensions []Extension
}

// Server is the SCIM 2.0 HTTP handler for every tenant. Mount it at
// PathPrefix. It is safe for concurrent use.
type Server struct {
	log        *slog.Logger
	now        func() time.Time
	st         store.Store
	base       string
	tokens     []configToken
	maxBody    int64
	maxResults int
	disc       *discovery                     // tenants without extensions
	tenantDisc map[policy.TenantID]*discovery // tenants with extensions

	adm        *admission.Controller
	bulkMaxOps int
	bulkMax    int64
	cursors    cursorTable
	sorts      *sortOrders // sort orders kept between pages
	emailIndex bool        // the store looks users up by e-mail (store.EmailTx)

	// storageFailing is set while the store refuses writes (see update).
	storageFailing atomic.Bool
}

type configToken struct {
	tenant policy.TenantID
	hash   [sha256.Size]byte
}

var _ http.Handler = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("scim: Config.Store is required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("scim: Config.BaseURL %q must be an absolute URL", cfg.BaseURL)
	}
	s := &Server{
		log:        cfg.Logger,
		now:        cfg.Now,
		st:         cfg.Store,
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		maxBody:    cfg.MaxBodyBytes,
		maxResults: cfg.MaxResults,
		adm:        cfg.Admission,
		bulkMaxOps: cfg.BulkMaxOperations,
		bulkMax:    cfg.BulkMaxBytes,
		emailIndex: probeEmailIndex(cfg.Store),
	}
	if s.adm == nil {
		s.adm = admission.New(admission.Config{})
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.cursors.now = s.now
	s.sorts = &sortOrders{st: s.st}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxResults <= 0 {
		s.maxResults = DefaultMaxResults
	}
	if s.bulkMaxOps <= 0 {
		s.bulkMaxOps = DefaultBulkMaxOperations
	}
	if s.bulkMax <= 0 {
		s.bulkMax = DefaultBulkMaxBytes
	}
	for t, tc := range cfg.Tenants {
		if t == "" || strings.Contains(string(t), "/") {
			return nil, fmt.Errorf("scim: bad tenant id %q", t)
		}
		for _, tok := range tc.Tokens {
			if len(tok) < 16 {
				return nil, fmt.Errorf("scim: tenant %s: tokens must be at least 16 characters", t)
			}
			s.tokens = append(s.tokens, configToken{tenant: t, hash: hashToken(tok)})
		}
	}
	if s.disc, err = newDiscovery(nil); err != nil {
		return nil, fmt.Errorf("scim: discovery documents: %w", err)
	}
	s.tenantDisc = map[policy.TenantID]*discovery{}
	for t, tc := range cfg.Tenants {
		if len(tc.Extensions) == 0 {
			continue
		}
		if s.tenantDisc[t], err = newDiscovery(tc.Extensions); err != nil {
			return nil, fmt.Errorf("scim: tenant %s: %w", t, err)
		}
	}
	return s, nil
}

// discFor returns the discovery documents and resource schemas of tenant t.
func (s *Server) discFor(t policy.TenantID) *discovery {
	if d, ok := s.tenantDisc[t]; ok {
		return d
	}
	return s.disc
}

// request is one authenticated request, scoped to its tenant.
type request struct {
	*http.Request
	tenant policy.TenantID
	bulk   *bulkTx // set for an operation of a Bulk request
}

func (r request) actor() string { return "scim:" + string(r.tenant) }

// response is what a handler answers.
type response struct {
	status int
	body   any
	etag   string
	loc    string
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/scim+json")
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		s.writeError(w, r, errNoEndpoint)
		return
	}
	tenant, sub, _ := strings.Cut(rest, "/")
	t := policy.TenantID(tenant)
	if !s.authenticate(r.Context(), t, r) {
		if err := r.Context().Err(); err != nil {
			s.writeError(w, r, err) // the client hung up during the lookup
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		s.writeError(w, r, errUnauthorized)
		return
	}
	if r.Body != nil {
		limit := s.maxBody
		if strings.EqualFold(strings.TrimSuffix(sub, "/"), "bulk") {
			limit = s.bulkMax
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	resp, err := s.route(request{Request: r, tenant: t}, strings.TrimSuffix(sub, "/"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, resp)
}

func (s *Server) route(r request, sub string) (response, error) {
	first, id, hasID := strings.Cut(sub, "/")
	if hasID && id == "" {
		hasID = false
	}
	var h *resourceHandler
	switch strings.ToLower(first) {
	case "serviceproviderconfig", "resourcetypes", "schemas":
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("filter") {
			// RFC 7644 §4: a filter on a discovery endpoint SHOULD
			// get 403; the other query parameters are ignored.
			return response{}, errorf(scimerr.ScimError{Status: http.StatusForbidden}, "discovery endpoints do not filter")
		}
	}
	switch strings.ToLower(first) {
	case "users":
		h = s.handler(r.tenant, userKind)
	case "groups":
		h = s.handler(r.tenant, groupKind)
	case "serviceproviderconfig":
		if hasID {
			return response{}, errNoEndpoint
		}
		if err := allow(r, http.MethodGet); err != nil {
			return response{}, err
		}
		return response{status: http.StatusOK, body: s.serviceProviderConfig(r)}, nil
	case "resourcetypes":
		if err := allow(r, http.MethodGet); err != nil {
			return response{}, err
		}
		return s.resourceTypes(r, id)
	case "schemas":
		if err := allow(r, http.MethodGet); err != nil {
			return response{}, err
		}
		return s.schemas(r, id)
	case "bulk":
		if hasID {
			return response{}, errNoEndpoint
		}
		return s.bulk(r)
	case "me":
		// RFC 7644 §3.11: an unsupported /Me SHOULD answer 501.
		return response{}, errorf(scimerr.ScimError{Status: http.StatusNotImplemented}, "/%s is not supported", first)
	default:
		return response{}, errNoEndpoint
	}
	switch {
	case !hasID:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			p, err := listParamsFromQuery(r.URL.Query())
			if err != nil {
				return response{}, err
			}
			return h.list(r, p)
		case http.MethodPost:
			return h.create(r)
		}
		return response{}, methodNotAllowed(r, http.MethodGet, http.MethodHead, http.MethodPost)
	case id == ".search":
		if err := allow(r, http.MethodPost); err != nil {
			return response{}, err
		}
		return h.search(r)
	case strings.Contains(id, "/"):
		return response{}, errNoEndpoint
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(r, id)
	case http.MethodPut:
		return h.replace(r, id)
	case http.MethodPatch:
		return h.patch(r, id)
	case http.MethodDelete:
		return h.delete(r, id)
	}
	return response{}, methodNotAllowed(r, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete)
}

type methodError struct {
	se    Error
	allow string
}

func (e methodError) Error() string { return e.se.Error() }

// allow accepts only method, and HEAD wherever GET is accepted
// (RFC 9110 §9.3.2; net/http drops the body of a HEAD response).
func allow(r request, method string) error {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return nil
	}
	if method == http.MethodGet {
		return methodNotAllowed(r, method, http.MethodHead)
	}
	return methodNotAllowed(r, method)
}

func methodNotAllowed(r request, methods ...string) error {
	return methodError{
		se:    scimerr.ScimError{Status: http.StatusMethodNotAllowed, Detail: fmt.Sprintf("method %s not allowed", r.Method)},
		allow: strings.Join(methods, ", "),
	}
}

// authenticate checks the bearer token against the configured tokens of
// every tenant (in constant time, whatever the tenant) and then against
// the stored tokens. A token of another tenant fails exactly like an
// unknown one.
func (s *Server) authenticate(ctx context.Context, tenant policy.TenantID, r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || tenant == "" {
		return false
	}
	sum := hashToken(tok)
	match := 0
	for _, ct := range s.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], ct.hash[:])
		same := subtle.ConstantTimeCompare([]byte(ct.tenant), []byte(tenant))
		match |= eq & same
	}
	if match == 1 {
		return true
	}
	var info TokenInfo
	err := s.st.View(ctx, func(tx store.Tx) error {
		v, err := tx.GetRecord(TokenNamespace, hex.EncodeToString(sum[:]))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &info)
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "scim: token lookup", "err", err)
		}
		return false
	}
	return subtle.ConstantTimeCompare([]byte(info.Tenant), []byte(tenant)) == 1
}

func (s *Server) write(w http.ResponseWriter, resp response) {
	if resp.etag != "" {
		w.Header().Set("ETag", resp.etag)
	}
	if resp.loc != "" {
		w.Header().Set("Location", resp.loc)
	}
	if resp.body == nil {
		w.WriteHeader(resp.status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp.body); err != nil {
		s.log.Error("scim: encode response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	se, internal := toSCIMError(err)
	var me methodError
	var busy tooBusyError
	switch {
	case errors.As(err, &me):
		w.Header().Set("Allow", me.allow)
		se, internal = me.se, false
	case errors.As(err, &busy):
		// RFC 6585 §4 with RFC 9110 §10.2.3.
		w.Header().Set("Retry-After", strconv.Itoa(busy.retryAfter))
		se, internal = busy.scim(), false
	}
	switch {
	case internal && (errors.Is(err, context.Canceled) || r.Context().Err() != nil):
		// The client hung up: not an error of the server. 499 keeps
		// it apart from 5xx in the HTTP metrics; nobody reads the body.
		se = errCanceled
		s.log.DebugContext(r.Context(), "scim: request canceled by the client", "method", r.Method, "path", r.URL.Path)
	case internal:
		s.log.ErrorContext(r.Context(), "scim: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	b, _ := json.Marshal(se)
	w.WriteHeader(se.Status)
	_, _ = w.Write(b)
}

// location returns the absolute URL of a resource of tenant.
func (s *Server) location(tenant policy.TenantID, endpoint, id string) string {
	u := s.base + PathPrefix + url.PathEscape(string(tenant)) + "/" + endpoint
	if id != "" {
		u += "/" + url.PathEscape(id)
	}
	return u
}

// readJSON reads a request body holding one JSON object. Both
// application/scim+json and application/json are accepted (Okta posts the
// latter).
func readJSON(r request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/scim+json" || mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return nil, scimerr.ScimError{Status: http.StatusUnsupportedMediaType,
				Detail: "Content-Type must be application/scim+json or application/json"}
		}
	}
	if r.Body == nil {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "empty body")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "reading body: %v", err)
	}
	if !utf8.Valid(data) {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "body is not valid UTF-8")
	}
	if policy.JSONTooDeep(data, maxBodyDepth) {
		return nil, &policy.LimitError{Field: "request body", Limit: policy.LimitDepth, Max: maxBodyDepth}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "body is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "trailing data after the JSON object")
	}
	if err := caseDuplicate(m); err != nil {
		return nil, err
	}
	return normalize(m).(map[string]any), nil
}

// checkIfMatch enforces the preconditions of a write (PUT, PATCH, DELETE)
// against the current version of a record: If-Match (RFC 7644 §3.14) must
// match it, and If-None-Match must not (RFC 9110 §13.1.2: "*" always
// matches an existing record). A failed one wraps store.ErrVersion (412).
func checkIfMatch(r request, version uint64) error {
	if h := r.Header.Get("If-Match"); h != "" && !etagListMatches(h, version) {
		return fmt.Errorf("scim: If-Match %s: %w", h, store.ErrVersion)
	}
	if h := r.Header.Get("If-None-Match"); h != "" && etagListMatches(h, version) {
		return fmt.Errorf("scim: If-None-Match %s: %w", h, store.ErrVersion)
	}
	return nil
}

func etagListMatches(h string, version uint64) bool {
	want := strings.TrimPrefix(etag(version), "W/")
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// maxBodyDepth bounds the nesting of a request body: the deepest
// attribute a record may keep (policy.MaxAttrDepth) plus the levels of a
// PATCH request around it ({"Operations":[{"value":…}]}) and a complex
// attribute's own object.
const maxBodyDepth = policy.MaxAttrDepth + 4
