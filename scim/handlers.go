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
