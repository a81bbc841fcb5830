package scim

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

type resourceKind int

const (
	userKind resourceKind = iota
	groupKind
)

// resourceHandler serves /Users or /Groups of one tenant.
type resourceHandler struct {
	s    *Server
	kind resourceKind
	rs   *resourceSchema // the tenant's schemas of this resource type
}

func (h *resourceHandler) core() string {
	if h.kind == userKind {
		return UserSchema
	}
	return GroupSchema
}

func (h *resourceHandler) endpoint() string {
	if h.kind == userKind {
		return "Users"
	}
	return "Groups"
}

func (h *resourceHandler) noun() string {
	if h.kind == userKind {
		return typeUser
	}
	return typeGroup
}

func (h *resourceHandler) locFn(t policy.TenantID) func(endpoint, id string) string {
	return func(endpoint, id string) string { return h.s.location(t, endpoint, id) }
}

// userRes and groupRes render records for tenant t.
func (h *resourceHandler) userRes(t policy.TenantID, u policy.User) map[string]any {
	return userToSCIM(u, h.s.location(t, "Users", string(u.ID)))
}

func (h *resourceHandler) groupRes(t policy.TenantID, g policy.DirGroup) map[string]any {
	return groupToSCIM(g, h.locFn(t))
}

// listParams are the query parameters of RFC 7644 §3.4.2.
type listParams struct {
	filter     string
	startIndex int
	count      int // -1: not given
	attrs      []string
	excluded   []string
	sortBy     string
	sortOrder  string
}

func listParamsFromQuery(q url.Values) (listParams, error) {
	p := listParams{filter: strings.TrimSpace(q.Get("filter")), startIndex: 1, count: -1}
	for _, k := range []string{"startIndex", "count"} {
		v := strings.TrimSpace(q.Get(k))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: n is clamped
			return p, errorf(scimerr.ScimErrorInvalidValue, "%s must be an integer", k)
		}
		if k == "count" {
			p.count = max(n, 0)
		} else {
			p.startIndex = n
		}
	}
	p.attrs = splitList(q.Get("attributes"))
	p.excluded = splitList(q.Get("excludedAttributes"))
	p.sortBy, p.sortOrder = strings.TrimSpace(q.Get("sortBy")), strings.TrimSpace(q.Get("sortOrder"))
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// search serves POST /{Users,Groups}/.search (RFC 7644 §3.4.3). The
// body must name the SearchRequest schema (400 invalidSyntax otherwise).
func (h *resourceHandler) search(r request) (response, error) {
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	if !listsSchema(body, searchRequestSchema) {
		return response{}, errorf(scimerr.ScimErrorInvalidSyntax, "schemas must name %s", searchRequestSchema)
	}
	p := listParams{startIndex: 1, count: -1}
	var ok bool
	if v := getKey(body, "filter"); v != nil {
		if p.filter, ok = v.(string); !ok {
			return response{}, errorf(scimerr.ScimErrorInvalidValue, "filter must be a string")
		}
	}
	for _, k := range []string{"startIndex", "count"} {
		v := getKey(body, k)
		if v == nil {
			continue
		}
		f, ok := toFloat(v)
		if !ok {
			return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must be an integer", k)
		}
		f = min(max(f, math.MinInt32), math.MaxInt32) // int(f) of a huge f is undefined
		if k == "count" {
			p.count = max(int(f), 0)
		} else {
			p.startIndex = int(f)
		}
	}
	for k, dst := range map[string]*string{"sortBy": &p.sortBy, "sortOrder": &p.sortOrder} {
		if v := getKey(body, k); v != nil {
			if *dst, ok = v.(string); !ok {
				return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must be a string", k)
			}
		}
	}
	for k, dst := range map[string]*[]string{"attributes": &p.attrs, "excludedAttributes": &p.excluded} {
		for _, a := range asList(getKey(body, k)) {
			s, ok := a.(string)
			if !ok {
				return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must hold strings", k)
			}
			*dst = append(*dst, splitList(s)...)
		}
	}
	return h.list(r, p)
}

// list serves GET /Users and GET /Groups: filter, pagination by id order
// and attribute projection. Equality on userName, externalId, id and
// emails.value (and on a group's displayName) is answered from the store's
// indexes; any other filter streams the tenant's records through the
// evaluator, under admission control (see plan).
func (h *resourceHandler) list(r request, p listParams) (response, error) {
	var f expr
	if p.filter != "" {
		var err error
		if f, err = parseFilter(p.filter); err != nil {
			return response{}, errorf(scimerr.ScimErrorInvalidFilter, "%v", err)
		}
		if err := h.rs.checkFilter(f, nil); err != nil {
			return response{}, err
		}
	}
	if err := validateAttrList(append(p.attrs, p.excluded...)); err != nil {
		return response{}, err
	}
	sorter, err := h.rs.parseSort(p.sortBy, p.sortOrder)
	if err != nil {
		return response{}, err
	}
	count := p.count
	if count < 0 {
		count = min(defaultCount, h.s.maxResults)
	}
	count = min(count, h.s.maxResults)
	start := max(p.startIndex, 1)
	if sorter != nil {
		return h.sortedList(r, p, f, sorter, start, count)
	}
	core := h.core()
	plan := h.plan(r.tenant, f, start, count)
	if plan.expensive {
		release, err := h.s.admit(r)
		if err != nil {
			return response{}, err
		}
		defer release()
	}

	var total int
	var page []any
	var last string // id of the last record of the page
	add := func(res map[string]any) {
		total++
		if total >= start && len(page) < count {
			page = append(page, h.rs.shape(res, p.attrs, p.excluded))
			last, _ = res["id"].(string)
		}
	}
	err = h.s.st.View(r.Context(), func(tx store.Tx) error {
		total, page = 0, nil
		if plan.indexed {
			cands, ok, err := h.indexLookup(tx, r.tenant, f)
			if err != nil {
				return err
			}
			if ok { // otherwise the store lost the index: scan
				for _, res := range cands {
					if matches(f, res, core) {
						add(res)
					}
				}
				return nil
			}
		}
		if h.kind == userKind {
			if f == nil {
				n, err := tx.CountUsers(r.tenant)
				if err != nil {
					return err
				}
				total = n
				if count == 0 {
					return nil
				}
				if plan.after != "" || start == 1 {
					us, err := tx.Users(r.tenant, store.Page{After: plan.after, Limit: count})
					for _, u := range us {
						page = append(page, h.rs.shape(h.userRes(r.tenant, u), p.attrs, p.excluded))
						last = string(u.ID)
					}
					return err
				}
				i := 0
				return tx.ForEachUser(r.tenant, func(u policy.User) error {
					i++
					if i < start {
						return nil
					}
					if len(page) >= count {
						return errStop
					}
					page = append(page, h.rs.shape(h.userRes(r.tenant, u), p.attrs, p.excluded))
					last = string(u.ID)
					return nil
				})
			}
			return tx.ForEachUser(r.tenant, func(u policy.User) error {
				if res := h.userRes(r.tenant, u); f == nil || matches(f, res, core) {
					add(res)
				}
				return nil
			})
		}
		return tx.ForEachDirGroup(r.tenant, func(g policy.DirGroup) error {
			if res := h.groupRes(r.tenant, g); f == nil || matches(f, res, core) {
				add(res)
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if isNotFound(err) {
		// The tenant has no data yet.
		err, total, page = nil, 0, nil
	}
	if err != nil {
		return response{}, err
	}
	if f == nil && h.kind == userKind && last != "" && len(page) == count {
		// The next sequential page resumes here.
		h.s.cursors.put(cursorKey{r.tenant, h.kind, start + len(page)}, last)
	}
	if page == nil {
		page = []any{}
	}
	return response{status: http.StatusOK, body: listResponse(total, start, page)}, nil
}

func listResponse(total, start int, resources []any) map[string]any {
	return map[string]any{
		"schemas":      []any{listResponseSchema},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
}

// indexLookup answers a filter whose top-level and-chain holds an equality
// on an indexed attribute from the store's index. ok is false when the
// filter has no such clause; the candidates must still be run through the
// whole filter.
func (h *resourceHandler) indexLookup(tx store.Tx, t policy.TenantID, f expr) (cands []map[string]any, ok bool, err error) {
	attr, val, ok := indexedEquality(f, h.kind, h.core())
	if !ok {
		return nil, false, nil
	}
	if h.kind == userKind {
		var u policy.User
		switch attr {
		case "emails.value":
			et, ok := tx.(store.EmailTx)
			if !ok {
				return nil, false, nil
			}
			us, err := et.UsersByEmail(t, val)
			if isNotFound(err) {
				return nil, true, nil
			}
			for _, u := range us {
				cands = append(cands, h.userRes(t, u))
			}
			return cands, true, err
		case "username":
			u, err = tx.UserByUserName(t, val)
		case "externalid":
			u, err = tx.UserByExternalID(t, val)
		case "id":
			u, err = tx.User(t, policy.UserID(val))
		}
		if isNotFound(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, err
		}
		return []map[string]any{h.userRes(t, u)}, true, nil
	}
	var gs []policy.DirGroup
	switch attr {
	case "displayname":
		gs, err = tx.DirGroupsByName(t, val)
	case "externalid":
		var g policy.DirGroup
		g, err = tx.DirGroupByExternalID(t, val)
		gs = []policy.DirGroup{g}
	case "id":
		var g policy.DirGroup
		g, err = tx.DirGroup(t, policy.DirGroupID(val))
		gs = []policy.DirGroup{g}
	}
	if isNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	for _, g := range gs {
		cands = append(cands, h.groupRes(t, g))
	}
	return cands, true, nil
}

// indexedEquality finds, in the and-chain at the top of f, a clause
// "attr eq "string"" on an indexed attribute.
func indexedEquality(f expr, kind resourceKind, core string) (attr, val string, ok bool) {
	switch e := f.(type) {
	case *logicalExpr:
		if e.Op != "and" {
			return "", "", false
		}
		if attr, val, ok = indexedEquality(e.L, kind, core); ok {
			return attr, val, ok
		}
		return indexedEquality(e.R, kind, core)
	case *valuePathExpr:
		// emails[type eq "work" and value eq "…"], which is also what
		// emails[type eq "work"].value eq "…" parses to.
		if kind != userKind || e.Path.Sub != "" || !strings.EqualFold(e.Path.Attr, "emails") || (e.Path.URI != "" && !strings.EqualFold(e.Path.URI, core)) {
			return "", "", false
		}
		if v, ok := emailEquality(e.Filter); ok {
			return "emails.value", v, true
		}
		return "", "", false
	case *compareExpr:
		s, isStr := e.Value.(string)
		if e.Op != "eq" || !isStr || (e.Path.URI != "" && !strings.EqualFold(e.Path.URI, core)) {
			return "", "", false
		}
		if e.Path.Sub != "" {
			if kind == userKind && strings.EqualFold(e.Path.Attr, "emails") && strings.EqualFold(e.Path.Sub, "value") {
				return "emails.value", s, true
			}
			return "", "", false
		}
		a := strings.ToLower(e.Path.Attr)
		switch {
		case a == "id" || a == "externalid":
		case a == "username" && kind == userKind:
		case a == "displayname" && kind == groupKind:
		default:
			return "", "", false
		}
		return a, s, true
	}
	return "", "", false
}

// validateAttrList checks the syntax of attributes / excludedAttributes.
func validateAttrList(list []string) error {
	for _, a := range list {
		p := &parser{s: a}
		if _, err := p.parseAttrPath(); err != nil || !p.eof() {
			return errorf(scimerr.ScimErrorInvalidValue, "bad attribute name %q", a)
		}
	}
	return nil
}

// project applies attributes / excludedAttributes (RFC 7644 §3.9). id and
// schemas are always returned.
func project(res map[string]any, attrs, excluded []string, core string) map[string]any {
	if len(attrs) == 0 && len(excluded) == 0 {
		return res
	}
	if len(attrs) > 0 {
		out := map[string]any{"id": res["id"], "schemas": res["schemas"]}
		for _, a := range attrs {
			p := &parser{s: a}
			ap, err := p.parseAttrPath()
			if err != nil {
				continue
			}
			copyPath(out, res, ap, core)
		}
		return out
	}
	out := make(map[string]any, len(res))
	for k, v := range res {
		out[k] = v
	}
	for _, a := range excluded {
		p := &parser{s: a}
		ap, err := p.parseAttrPath()
		if err != nil {
			continue
		}
		removePath(out, ap, core)
	}
	return out
}

func copyPath(dst, src map[string]any, ap attrPath, core string) {
	if ap.URI != "" && !strings.EqualFold(ap.URI, core) {
		k, ok := findKey(src, ap.URI)
		if !ok {
			return
		}
		ext, _ := src[k].(map[string]any)
		if ext == nil {
			return
		}
		if ap.Attr == "" {
			dst[k] = ext
			return
		}
		de, _ := dst[k].(map[string]any)
		if de == nil {
			de = map[string]any{}
			dst[k] = de
		}
		copyPath(de, ext, attrPath{Attr: ap.Attr, Sub: ap.Sub}, "")
		return
	}
	k, ok := findKey(src, ap.Attr)
	if !ok {
		return
	}
	v := src[k]
	if ap.Sub == "" {
		dst[k] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		dm, _ := dst[k].(map[string]any)
		if dm == nil {
			dm = map[string]any{}
			dst[k] = dm
		}
		if sk, ok := findKey(v, ap.Sub); ok {
			dm[sk] = v[sk]
		}
	case []any:
		var out []any
		for _, el := range v {
			if m, ok := el.(map[string]any); ok {
				if sk, ok := findKey(m, ap.Sub); ok {
					out = append(out, map[string]any{sk: m[sk]})
				}
			}
		}
		if out != nil {
			dst[k] = out
		}
	}
}

func removePath(m map[string]any, ap attrPath, core string) {
	if ap.URI != "" && !strings.EqualFold(ap.URI, core) {
		k, ok := findKey(m, ap.URI)
		if !ok {
			return
		}
		if ap.Attr == "" {
			delete(m, k)
			return
		}
		ext, _ := m[k].(map[string]any)
		if ext == nil {
			return
		}
		ext = copyMap(ext)
		m[k] = ext
		removePath(ext, attrPath{Attr: ap.Attr, Sub: ap.Sub}, "")
		return
	}
	k, ok := findKey(m, ap.Attr)
	if !ok || k == "id" || k == "schemas" {
		return
	}
	if ap.Sub == "" {
		delete(m, k)
		return
	}
	switch v := m[k].(type) {
	case map[string]any:
		v = copyMap(v)
		if sk, ok := findKey(v, ap.Sub); ok {
			delete(v, sk)
		}
		m[k] = v
	case []any:
		out := make([]any, len(v))
		for i, el := range v {
			if em, ok := el.(map[string]any); ok {
				em = copyMap(em)
				if sk, ok := findKey(em, ap.Sub); ok {
					delete(em, sk)
				}
				out[i] = em
			} else {
				out[i] = el
			}
		}
		m[k] = out
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// get serves GET /{Users,Groups}/{id}.
func (h *resourceHandler) get(r request, id string) (response, error) {
	var res map[string]any
	var version uint64
	err := h.s.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		res, version, err = h.read(tx, r.tenant, id)
		return err
	})
	if err != nil {
		return response{}, err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, version) {
		return response{status: http.StatusNotModified, etag: etag(version)}, nil
	}
	attrs, excl, err := projection(r.URL.Query())
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: h.rs.shape(res, attrs, excl), etag: etag(version)}, nil
}

// read returns the SCIM representation of the tenant's resource id.
func (h *resourceHandler) read(tx store.Tx, t policy.TenantID, id string) (map[string]any, uint64, error) {
	if h.kind == userKind {
		u, err := tx.User(t, policy.UserID(id))
		if isNotFound(err) {
			return nil, 0, errNotFound(h.noun(), id)
		}
		if err != nil {
			return nil, 0, err
		}
		return h.userRes(t, u), u.Version, nil
	}
	g, err := tx.DirGroup(t, policy.DirGroupID(id))
	if isNotFound(err) {
		return nil, 0, errNotFound(h.noun(), id)
	}
	if err != nil {
		return nil, 0, err
	}
	return h.groupRes(t, g), g.Version, nil
}

// create serves POST /Users and POST /Groups.
func (h *resourceHandler) create(r request) (response, error) {
	attrs, excl, err := projection(r.URL.Query())
	if err != nil {
		return response{}, err
	}
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	if body, err = h.rs.decode(body); err != nil {
		return response{}, err
	}
	if err := checkPrimary(body); err != nil {
		return response{}, err
	}
	var out map[string]any
	var version uint64
	var id string
	err = h.s.update(r, func(tx store.Tx) error {
		if h.kind == userKind {
			u, err := userFromSCIM(body)
			if err != nil {
				return err
			}
			if body["active"] == nil { // absent or null: unassigned
				u.Active = true
			}
			u.Tenant, u.Source = r.tenant, r.actor()
			if err := checkEmailDomains(tx, r.tenant, u, nil); err != nil {
				return err
			}
			c, err := tx.CreateUser(r.tenant, u)
			if err != nil {
				return err
			}
			out, version, id = h.userRes(r.tenant, c), c.Version, string(c.ID)
			return nil
		}
		g, err := groupFromSCIM(tx, r.tenant, body, nil)
		if err != nil {
			return err
		}
		if err := checkGroupName(tx, r.tenant, g.DisplayName, ""); err != nil {
			return err
		}
		g.Tenant, g.Source = r.tenant, r.actor()
		c, err := tx.CreateDirGroup(r.tenant, g)
		if err != nil {
			return err
		}
		out, version, id = h.groupRes(r.tenant, c), c.Version, string(c.ID)
		return nil
	})
	if err != nil {
		return response{}, h.tenantErr(err)
	}
	return response{status: http.StatusCreated, body: h.rs.shape(out, attrs, excl), etag: etag(version), loc: h.s.location(r.tenant, h.endpoint(), id)}, nil
}

// tenantErr turns "tenant not found" on a write into a clear 404.
func (h *resourceHandler) tenantErr(err error) error {
	var se Error
	if isNotFound(err) && !errors.As(err, &se) {
		return errorf(scimerr.ScimError{Status: http.StatusNotFound}, "tenant is not provisioned in Roster")
	}
	return err
}

// checkGroupName enforces that display names are unique within a tenant,
// case-insensitively (Entra ID requires it). It runs inside the writing
// transaction, so it is race-free.
func checkGroupName(tx store.Tx, t policy.TenantID, name string, self policy.DirGroupID) error {
	gs, err := tx.DirGroupsByName(t, name)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.ID != self && policy.FoldName(g.DisplayName) == policy.FoldName(name) {
			return errorf(scimerr.ScimErrorUniqueness, "a group named %q already exists", name)
		}
	}
	return nil
}

// replace serves PUT /{Users,Groups}/{id} (RFC 7644 §3.5.1).
func (h *resourceHandler) replace(r request, id string) (response, error) {
	attrs, excl, err := projection(r.URL.Query())
	if err != nil {
		return response{}, err
	}
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	// id, meta and every other readOnly attribute are ignored
	// (RFC 7644 §3.5.1): Okta sends the whole resource back.
	if body, err = h.rs.decode(body); err != nil {
		return response{}, err
	}
	if err := checkPrimary(body); err != nil {
		return response{}, err
	}
	resp, err := h.modify(r, id, func(tx store.Tx, res map[string]any) (map[string]any, error) {
		return body, nil
	})
	if err == nil {
		resp.body = h.rs.shape(resp.body.(map[string]any), attrs, excl)
	}
	return resp, err
}

// patch serves PATCH /{Users,Groups}/{id} (RFC 7644 §3.5.2). Users answer
// 200 with the resource; groups answer 204, as Entra ID expects, unless
// the request asks for attributes or excludedAttributes: then 200 with
// the resource so projected.
func (h *resourceHandler) patch(r request, id string) (response, error) {
	attrs, excl, err := projection(r.URL.Query())
	if err != nil {
		return response{}, err
	}
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	ops, err := parsePatchRequest(body, h.rs)
	if err != nil {
		return response{}, err
	}
	if h.kind == groupKind && r.Header.Get("If-Match") == "" && r.Header.Get("If-None-Match") == "" && len(attrs) == 0 && len(excl) == 0 {
		if u, ok := membersDelta(ops); ok {
			return h.patchMembers(r, id, u)
		}
	}
	resp, err := h.modify(r, id, func(tx store.Tx, res map[string]any) (map[string]any, error) {
		if err := applyPatch(res, ops, h.core(), id); err != nil {
			return nil, err
		}
		// The result is checked like a PUT: types, and nothing of no
		// served schema kept.
		return h.rs.decode(res)
	})
	switch {
	case err != nil:
	case h.kind == groupKind && len(attrs) == 0 && len(excl) == 0:
		resp.status, resp.body = http.StatusNoContent, nil
	default:
		resp.body = h.rs.shape(resp.body.(map[string]any), attrs, excl)
	}
	return resp, err
}

// modify runs one read-modify-write of resource id in one transaction:
// change maps the current representation to the new one.
func (h *resourceHandler) modify(r request, id string, change func(store.Tx, map[string]any) (map[string]any, error)) (response, error) {
	var out map[string]any
	var version uint64
	err := h.s.update(r, func(tx store.Tx) error {
		if h.kind == userKind {
			cur, err := tx.User(r.tenant, policy.UserID(id))
			if isNotFound(err) {
				return errNotFound(h.noun(), id)
			}
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, cur.Version); err != nil {
				return err
			}
			res, err := change(tx, h.userRes(r.tenant, cur))
			if err != nil {
				return err
			}
			nu, err := userFromSCIM(res)
			if err != nil {
				return err
			}
			if res["active"] == nil { // absent or null: unassigned
				nu.Active = cur.Active
			}
			nu.ID, nu.Tenant, nu.Source, nu.Created, nu.Version = cur.ID, cur.Tenant, cur.Source, cur.Created, cur.Version
			if err := checkEmailDomains(tx, r.tenant, nu, cur.Emails); err != nil {
				return err
			}
			if sameUser(cur, nu) {
				out, version = h.userRes(r.tenant, cur), cur.Version
				return nil
			}
			up, err := tx.UpdateUser(r.tenant, nu)
			if err != nil {
				return err
			}
			out, version = h.userRes(r.tenant, up), up.Version
			return nil
		}
		cur, err := tx.DirGroup(r.tenant, policy.DirGroupID(id))
		if isNotFound(err) {
			return errNotFound(h.noun(), id)
		}
		if err != nil {
			return err
		}
		if err := checkIfMatch(r, cur.Version); err != nil {
			return err
		}
		res, err := change(tx, h.groupRes(r.tenant, cur))
		if err != nil {
			return err
		}
		ng, err := groupFromSCIM(tx, r.tenant, res, knownMembers(cur))
		if err != nil {
			return err
		}
		if err := checkNoCycle(tx, r.tenant, cur.ID, cur.MemberGroups, ng.MemberGroups); err != nil {
			return err
		}
		if policy.FoldName(ng.DisplayName) != policy.FoldName(cur.DisplayName) {
			if err := checkGroupName(tx, r.tenant, ng.DisplayName, cur.ID); err != nil {
				return err
			}
		}
		ng.ID, ng.Tenant, ng.Source, ng.Created, ng.Version = cur.ID, cur.Tenant, cur.Source, cur.Created, cur.Version
		if sameGroup(cur, ng) {
			out, version = h.groupRes(r.tenant, cur), cur.Version
			return nil
		}
		up, err := tx.UpdateDirGroup(r.tenant, ng)
		if err != nil {
			return err
		}
		out, version = h.groupRes(r.tenant, up), up.Version
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: out, etag: etag(version)}, nil
}

// delete serves DELETE /{Users,Groups}/{id}: 204.
func (h *resourceHandler) delete(r request, id string) (response, error) {
	err := h.s.update(r, func(tx store.Tx) error {
		if h.kind == userKind {
			cur, err := tx.User(r.tenant, policy.UserID(id))
			if isNotFound(err) {
				return errNotFound(h.noun(), id)
			}
			if err != nil {
				return err
			}
			if err := checkIfMatch(r, cur.Version); err != nil {
				return err
			}
			return tx.DeleteUser(r.tenant, cur.ID)
		}
		cur, err := tx.DirGroup(r.tenant, policy.DirGroupID(id))
		if isNotFound(err) {
			return errNotFound(h.noun(), id)
		}
		if err != nil {
			return err
		}
		if err := checkIfMatch(r, cur.Version); err != nil {
			return err
		}
		return tx.DeleteDirGroup(r.tenant, cur.ID)
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}

// serviceProviderConfig tells the truth about what this server does
// (RFC 7643 §5).
func (s *Server) serviceProviderConfig(r request) map[string]any {
	return map[string]any{
		"schemas":          []any{spcSchema},
		"documentationUri": "https://github.com/roster-dev/roster#scim",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": s.bulkMaxOps, "maxPayloadSize": s.bulkMax},
		"filter":           map[string]any{"supported": true, "maxResults": s.maxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A per-tenant bearer token in the Authorization header.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     s.location(r.tenant, "ServiceProviderConfig", ""),
		},
	}
}

// resourceTypes serves /ResourceTypes and /ResourceTypes/{name}
// (RFC 7644 §4). Query parameters are ignored.
func (s *Server) resourceTypes(r request, name string) (response, error) {
	return s.discovery(r, s.discFor(r.tenant).resourceTypes, "ResourceType", "ResourceTypes", "name", name)
}

// schemas serves /Schemas and /Schemas/{urn} (RFC 7644 §4).
func (s *Server) schemas(r request, id string) (response, error) {
	return s.discovery(r, s.discFor(r.tenant).schemas, "Schema", "Schemas", "id", id)
}

// discovery serves a discovery listing, or its item whose key attribute
// equals want (case-insensitively) when want is set.
func (s *Server) discovery(r request, items []map[string]any, resourceType, endpoint, key, want string) (response, error) {
	var all []any
	for _, it := range items {
		m := copyMap(it)
		m["meta"] = map[string]any{"resourceType": resourceType, "location": s.location(r.tenant, endpoint, it[key].(string))}
		if want != "" && strings.EqualFold(want, it[key].(string)) {
			return response{status: http.StatusOK, body: m}, nil
		}
		all = append(all, m)
	}
	if want != "" {
		return response{}, errNotFound(resourceType, want)
	}
	return response{status: http.StatusOK, body: listResponse(len(all), 1, all)}, nil
}
