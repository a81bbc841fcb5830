package scim

import (
	"errors"
	"net/http"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

type resourceKind int

const (
	userKind resourceKind = iota
	groupKind
)

// resourceType is what /Users and /Groups do differently, as
// elimity-com/scim's ResourceHandler is: the names of the resource, and
// reading, creating, changing and deleting one record in a transaction.
// Everything around it (the request's body and projection, ETags, status
// codes) is resourceHandler's, the same for both.
type resourceType interface {
	core() string     // the core schema's URI
	endpoint() string // "Users" or "Groups"
	noun() string     // "User" or "Group", for messages and meta.resourceType
	// read returns the representation and version of tenant t's record id.
	read(tx store.Tx, t policy.TenantID, id string) (map[string]any, uint64, error)
	// create stores the decoded body as a new record and returns it.
	create(tx store.Tx, r request, body map[string]any) (res map[string]any, version uint64, id string, err error)
	// modify reads record id, checks If-Match, maps its representation
	// with change and stores the result unless nothing changed.
	modify(tx store.Tx, r request, id string, change changeFunc) (map[string]any, uint64, error)
	// remove deletes record id after checking If-Match.
	remove(tx store.Tx, r request, id string) error
	// byIndex answers "attr eq val" (attr as indexedEquality names it)
	// from the store's index; ok is false when that index is not there.
	byIndex(tx store.Tx, t policy.TenantID, attr, val string) (cands []map[string]any, ok bool, err error)
	// each renders every record of tenant t, in the store's order, until fn fails.
	each(tx store.Tx, t policy.TenantID, fn func(map[string]any) error) error
}

// changeFunc maps a resource's current representation to the new one.
type changeFunc func(store.Tx, map[string]any) (map[string]any, error)

// resourceHandler serves /Users or /Groups of one tenant.
type resourceHandler struct {
	s    *Server
	kind resourceKind
	rt   resourceType
	rs   *resourceSchema // the tenant's schemas of this resource type
}

// handler returns the handler of tenant t's /Users or /Groups.
func (s *Server) handler(t policy.TenantID, kind resourceKind) *resourceHandler {
	d := s.discFor(t)
	if kind == userKind {
		return &resourceHandler{s: s, kind: kind, rt: userType{s}, rs: d.user}
	}
	return &resourceHandler{s: s, kind: kind, rt: groupType{s}, rs: d.group}
}

func (h *resourceHandler) core() string     { return h.rt.core() }
func (h *resourceHandler) endpoint() string { return h.rt.endpoint() }
func (h *resourceHandler) noun() string     { return h.rt.noun() }

// userRes and groupRes render records for tenant t.
func (h *resourceHandler) userRes(t policy.TenantID, u policy.User) map[string]any {
	return userType{h.s}.res(t, u)
}

func (h *resourceHandler) groupRes(t policy.TenantID, g policy.DirGroup) map[string]any {
	return groupType{h.s}.res(t, g)
}

// get serves GET /{Users,Groups}/{id}.
func (h *resourceHandler) get(r request, id string) (response, error) {
	var res map[string]any
	var version uint64
	err := h.s.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		res, version, err = h.rt.read(tx, r.tenant, id)
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

// input reads a write's projection (attributes, excludedAttributes) and
// its JSON body, in that order.
func (h *resourceHandler) input(r request) (attrs, excl []string, body map[string]any, err error) {
	if attrs, excl, err = projection(r.URL.Query()); err != nil {
		return nil, nil, nil, err
	}
	body, err = readJSON(r)
	return attrs, excl, body, err
}

// resource reads a write that carries a whole resource (POST, PUT): its
// projection and its body, decoded against the served schemas.
func (h *resourceHandler) resource(r request) (attrs, excl []string, body map[string]any, err error) {
	if attrs, excl, body, err = h.input(r); err != nil {
		return nil, nil, nil, err
	}
	// id, meta and every other readOnly attribute are ignored
	// (RFC 7644 §3.5.1): Okta sends the whole resource back.
	if body, err = h.rs.decode(body); err != nil {
		return nil, nil, nil, err
	}
	return attrs, excl, body, checkPrimary(body)
}

// create serves POST /Users and POST /Groups.
func (h *resourceHandler) create(r request) (response, error) {
	attrs, excl, body, err := h.resource(r)
	if err != nil {
		return response{}, err
	}
	var out map[string]any
	var version uint64
	var id string
	err = h.s.update(r, func(tx store.Tx) error {
		var err error
		out, version, id, err = h.rt.create(tx, r, body)
		return err
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
	attrs, excl, body, err := h.resource(r)
	if err != nil {
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
	attrs, excl, body, err := h.input(r)
	if err != nil {
		return response{}, err
	}
	ops, err := parsePatchRequest(body, h.rs)
	if err != nil {
		return response{}, err
	}
	projected := len(attrs) != 0 || len(excl) != 0
	if h.kind == groupKind && r.Header.Get("If-Match") == "" && r.Header.Get("If-None-Match") == "" && !projected {
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
	case h.kind == groupKind && !projected:
		resp.status, resp.body = http.StatusNoContent, nil
	default:
		resp.body = h.rs.shape(resp.body.(map[string]any), attrs, excl)
	}
	return resp, err
}

// modify runs one read-modify-write of resource id in one transaction:
// change maps the current representation to the new one.
func (h *resourceHandler) modify(r request, id string, change changeFunc) (response, error) {
	var out map[string]any
	var version uint64
	err := h.s.update(r, func(tx store.Tx) error {
		var err error
		out, version, err = h.rt.modify(tx, r, id, change)
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: out, etag: etag(version)}, nil
}

// delete serves DELETE /{Users,Groups}/{id}: 204.
func (h *resourceHandler) delete(r request, id string) (response, error) {
	err := h.s.update(r, func(tx store.Tx) error { return h.rt.remove(tx, r, id) })
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}
