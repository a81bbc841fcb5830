package admin

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) routes() {
	// Tenants, users and directory groups (read).
	s.handle("GET /api/v1/tenants", s.adminOrEveryRoot(PermTenants, s.listTenants))
	s.handle("GET /api/v1/tenants/{tenant}", s.adminOnly(s.getTenant))
	s.handle("GET /api/v1/tenants/{tenant}/users", s.adminOnly(s.listUsers))
	s.handle("GET /api/v1/tenants/{tenant}/users/{user}", s.adminOnly(s.getUser))
	s.handle("GET /api/v1/tenants/{tenant}/users/{user}/groups", s.adminOnly(s.userGroups))
	s.handle("GET /api/v1/tenants/{tenant}/dirgroups", s.adminOnly(s.listDirGroups))
	s.handle("GET /api/v1/tenants/{tenant}/dirgroups/{id}", s.adminOnly(s.getDirGroup))
	s.handle("GET /api/v1/me", s.me)

	// User groups.
	s.handle("GET /api/v1/groups", s.listGroups)
	s.handle("POST /api/v1/groups", s.createGroup)
	s.handle("GET /api/v1/groups/{group}", s.getGroup)
	s.handle("PATCH /api/v1/groups/{group}", s.patchGroup)
	s.handle("DELETE /api/v1/groups/{group}", s.deleteGroup)
	s.handle("POST /api/v1/groups/{group}/move", s.moveGroup)
	s.archiveRoutes() // admin/archive.go
	s.handle("GET /api/v1/groups/{group}/members", s.groupMembers)
	s.handle("GET /api/v1/groups/{group}/charter", s.groupCharter)
	s.handle("GET /api/v1/groups/{group}/memberships", s.listMemberships)
	s.handle("POST /api/v1/groups/{group}/memberships", s.addMembership)
	s.handle("DELETE /api/v1/groups/{group}/memberships/{user}/{role}", s.removeMembership)

	// Roles and rules.
	s.handle("GET /api/v1/roles", s.listRoles)
	s.handle("PUT /api/v1/roles/{name}", s.adminOnly(s.putRole))
	s.handle("DELETE /api/v1/roles/{name}", s.adminOnly(s.deleteRole))
	s.handle("GET /api/v1/rules", s.adminOnly(s.listRules))
	s.handle("POST /api/v1/rules", s.adminOnly(s.createRule))
	s.handle("DELETE /api/v1/rules/{id}", s.adminOnly(s.deleteRule))

	// Explain, audit, backup.
	s.handle("GET /api/v1/explain", s.explain)
	s.handle("GET /api/v1/audit", s.adminOnly(s.audit))
	s.handle("GET /api/v1/backup", s.adminOnly(s.backup))
	s.quarantineRoutes()
	s.portalRoutes()          // admin/portal.go
	s.joinRoutes()            // admin/join.go
	s.meetingRoutes()         // admin/meetings.go
	s.talkRoutes()            // admin/talks.go
	s.meetingFeedbackRoutes() // admin/meetingfeedback.go
	s.governanceRoutes()      // admin/governance.go
	s.mailingListRoutes()     // admin/mailinglist.go
	s.profileRoutes()         // admin/profile.go
	s.mailPrefsRoutes()       // admin/mailprefs.go
	s.reachRoutes()           // admin/announce.go, admin/public.go
	s.feedbackRoutes()        // admin/feedback.go
	s.applicationRoutes()     // admin/applications.go
	s.statsRoutes()           // admin/stats.go
}

func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if !p.admin {
			writeErr(w, errForbidden)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) view(r *http.Request, fn func(store.Tx) error) error {
	return s.cfg.Store.View(r.Context(), fn)
}

func (s *Server) update(r *http.Request, p principal, fn func(store.Tx) error) error {
	// A change of charter status that the write causes is recorded by
	// WatchCharters, off the request path.
	return s.cfg.Store.Update(r.Context(), p.actor(), fn)
}

// read answers a request with what fn reads in one read transaction.
func read[T any](s *Server, w http.ResponseWriter, r *http.Request, fn func(tx store.Tx) (T, error)) {
	var v T
	if err := s.view(r, func(tx store.Tx) (err error) { v, err = fn(tx); return }); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// write answers a request with what fn writes in one read-write
// transaction: status and the JSON of fn's result, or an empty 204 when
// status is http.StatusNoContent.
func write[T any](s *Server, w http.ResponseWriter, r *http.Request, p principal, status int, fn func(tx store.Tx) (T, error)) {
	var v T
	if err := s.update(r, p, func(tx store.Tx) (err error) { v, err = fn(tx); return }); err != nil {
		writeErr(w, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// none is the result of a write that answers 204.
type none struct{}

// readPage answers a paged listing: fetch reads one page, key names an
// item for ?after=.
func readPage[T any](s *Server, w http.ResponseWriter, r *http.Request, fetch func(tx store.Tx, pg store.Page) ([]T, error), key func(T) string) {
	pg, err := page(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (list[T], error) {
		items, err := fetch(tx, pg)
		out := list[T]{Items: nonNil(items)}
		if len(items) == pg.Limit {
			out.Next = key(items[len(items)-1])
		}
		return out, err
	})
}

// page reads ?after= and ?limit= (default 100, at most 1000).
func page(r *http.Request) (store.Page, error) {
	p := store.Page{After: r.URL.Query().Get("after"), Limit: 100}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return p, badRequest("limit must be an integer from 1 to 1000")
		}
		p.Limit = n
	}
	return p, nil
}

// list is the envelope of a paged listing.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Tenant], error) {
		ts, err := tx.Tenants()
		return list[policy.Tenant]{Items: nonNil(ts)}, err
	})
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.Tenant, error) { return tx.Tenant(policy.TenantID(r.PathValue("tenant"))) })
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p principal) {
	readPage(s, w, r, func(tx store.Tx, pg store.Page) ([]policy.User, error) {
		return tx.Users(policy.TenantID(r.PathValue("tenant")), pg)
	}, func(u policy.User) string { return string(u.ID) })
}

// lookupUser finds a user of tenant by id or userName.
func lookupUser(tx store.Tx, tenant policy.TenantID, ref string) (policy.User, error) {
	u, err := tx.User(tenant, policy.UserID(ref))
	if errors.Is(err, store.ErrNotFound) {
		u, err = tx.UserByUserName(tenant, ref)
	}
	return u, err
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.User, error) {
		return lookupUser(tx, policy.TenantID(r.PathValue("tenant")), r.PathValue("user"))
	})
}

// effectiveGroup is one line of a user's effective groups.
type effectiveGroup struct {
	policy.EffectiveMembership
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *Server) userGroups(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (map[string]any, error) {
		u, err := lookupUser(tx, policy.TenantID(r.PathValue("tenant")), r.PathValue("user"))
		if err != nil {
			return nil, err
		}
		out := []effectiveGroup{}
		for _, m := range s.cfg.Engine.EffectiveGroups(u.ID) {
			eg := effectiveGroup{EffectiveMembership: m}
			if g, err := tx.Group(m.Group); err == nil {
				eg.Slug, eg.Name = g.Slug, g.Name
			}
			out = append(out, eg)
		}
		return map[string]any{"user": u.ID, "userName": u.UserName, "groups": out}, nil
	})
}

func (s *Server) listDirGroups(w http.ResponseWriter, r *http.Request, p principal) {
	readPage(s, w, r, func(tx store.Tx, pg store.Page) ([]policy.DirGroup, error) {
		return tx.DirGroups(policy.TenantID(r.PathValue("tenant")), pg)
	}, func(g policy.DirGroup) string { return string(g.ID) })
}

func (s *Server) getDirGroup(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.DirGroup, error) {
		return tx.DirGroup(policy.TenantID(r.PathValue("tenant")), policy.DirGroupID(r.PathValue("id")))
	})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p principal) {
	if p.admin {
		writeJSON(w, http.StatusOK, map[string]any{"admin": true})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"admin": false, "user": p.user, "groups": nonNil(s.cfg.Engine.EffectiveGroups(p.user))})
}

// lookupGroup finds a user group by id or slug.
//
// A group that does not exist answers errNoGroup, the very answer a caller
// gets for a group they may not read, so neither reveals which slugs exist.
func lookupGroup(tx store.Tx, ref string) (policy.Group, error) {
	var g policy.Group
	var err error
	if _, perr := uuid.Parse(ref); perr == nil {
		g, err = tx.Group(policy.GroupID(ref))
	} else {
		g, err = tx.GroupBySlug(ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return g, errNoGroup
	}
	return g, err
}

// lookupVisibleGroup is lookupGroup for a parent named in a request body.
// A delegated caller gets 403 for a missing parent exactly as for one they
// may not manage, so the answer never tells which slugs exist.
func (s *Server) lookupVisibleGroup(tx store.Tx, p principal, ref string) (policy.Group, error) {
	g, err := lookupGroup(tx, ref)
	if !p.admin && (errors.Is(err, errNoGroup) || err == nil && !s.can(p, policy.PermGroupRead, g.ID)) {
		return policy.Group{}, errForbidden
	}
	if err != nil {
		return g, badRequest("parent %q: no such group", ref)
	}
	return g, nil
}

// errNoGroup answers both a missing group and one the caller may not read.
var errNoGroup = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such group"}

// groupView is a user group with its computed charter status and the
// governance mode in force (its own, else its kind's).
type groupView struct {
	policy.Group
	GovernanceMode policy.Governance     `json:"governanceMode"`
	Charter        *policy.CharterStatus `json:"charter,omitempty"`
}

func (s *Server) viewOf(g policy.Group) groupView {
	v := groupView{Group: g, GovernanceMode: s.cfg.Hierarchy.GovernanceOf(g)}
	if c := s.cfg.Engine.Charter(g.ID); c.Applies || c.Reason != "" {
		v.Charter = &c
	}
	return v
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p principal) {
	var gs []policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		writeErr(w, err)
		return
	}
	q := r.URL.Query()
	match := func(g policy.Group) bool {
		if t := q.Get("type"); t != "" && string(g.Type) != t {
			return false
		}
		if t := q.Get("kind"); t != "" && string(g.Kind) != t {
			return false
		}
		if t := q.Get("topic"); t != "" && !slices.Contains(g.Topics, strings.ToLower(strings.TrimSpace(t))) {
			return false
		}
		if t := q.Get("product"); t != "" && !slices.Contains(g.Products, strings.ToLower(strings.TrimSpace(t))) {
			return false
		}
		if c := q.Get("country"); c != "" && (g.Location == nil || !strings.EqualFold(g.Location.Country, c)) {
			return false
		}
		if c := q.Get("city"); c != "" && (g.Location == nil || !strings.EqualFold(g.Location.City, c)) {
			return false
		}
		return true
	}
	out := []groupView{}
	for _, g := range gs {
		if match(g) && s.readable(p, g) {
			out = append(out, s.viewOf(s.forCaller(p, g)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	writeJSON(w, http.StatusOK, list[groupView]{Items: out})
}

// groupInput is the body of a group create or patch.
type groupInput struct {
	Slug        *string `json:"slug"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Kind        *string `json:"kind"`
	Parent      *string `json:"parent"`
	// Join is the join policy: open, request or closed.
	Join *string `json:"join"`
	// Governance overrides the kind's mode: self, managed, or "" for
	// the kind's (admin tokens only).
	Governance *string `json:"governance"`
	// Location, type, topics and products: place and subject.
	Location *policy.Location `json:"location"`
	Type     *string          `json:"type"`
	Topics   *[]string        `json:"topics"`
	Products *[]string        `json:"products"`
	// Public gives the group a public page and lists it in the finder.
	Public  *bool  `json:"public"`
	Version uint64 `json:"version"`
}

// applyPlace sets the place and subject fields of in on g: topics and
// products are normalized, products must be configured ones, an empty
// location clears it.
func (s *Server) applyPlace(in groupInput, g *policy.Group) error {
	if in.Location != nil {
		g.Location = in.Location
		if in.Location.IsZero() {
			g.Location = nil
		}
	}
	if in.Type != nil {
		g.Type = policy.GroupType(*in.Type)
	}
	if in.Public != nil {
		g.Public = *in.Public
	}
	if in.Topics != nil {
		g.Topics = policy.NormalizeTags(*in.Topics)
	}
	if in.Products != nil {
		g.Products = policy.NormalizeTags(*in.Products)
		for _, pr := range g.Products {
			if !slices.Contains(s.cfg.Products, pr) {
				return badRequest("product %q is not one of the configured products %v (policy.products)", pr, s.cfg.Products)
			}
		}
	}
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p principal) {
	var in groupInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	g := policy.Group{Slug: deref(in.Slug), Name: deref(in.Name), Description: deref(in.Description), Kind: policy.GroupKind(deref(in.Kind)), Join: policy.JoinPolicy(deref(in.Join)), Governance: policy.Governance(deref(in.Governance))}
	if err := s.checkKind(g.Kind); err != nil {
		writeErr(w, err)
		return
	}
	if in.Governance != nil && !p.admin {
		// Who governs a group is the deployment's decision.
		writeErr(w, errForbidden)
		return
	}
	if err := s.applyPlace(in, &g); err != nil {
		writeErr(w, err)
		return
	}
	g0 := g
	err := s.update(r, p, func(tx store.Tx) error {
		g = g0 // fn may run more than once (store.Store.Update)
		if ref := deref(in.Parent); ref != "" {
			parent, err := s.lookupVisibleGroup(tx, p, ref)
			if err != nil {
				return err
			}
			g.Parent = parent.ID
		}
		if g.Parent == "" && !p.admin || g.Parent != "" && !s.can(p, policy.PermGroupsManage, g.Parent) {
			return errForbidden
		}
		if err := s.checkPlacement(tx, g); err != nil {
			return err
		}
		var err error
		if g, err = tx.CreateGroup(g); err != nil {
			return err
		}
		// A delegated creator governs what they create as they govern
		// its parent (the organizers of a self-governing LUG, its SIGs).
		roles, err := s.governingRoles(tx, p, g.Parent)
		if err != nil {
			return err
		}
		for _, ro := range roles {
			if _, err := tx.AddMembership(policy.Membership{User: p.user, Group: g.ID, Role: ro, Origin: policy.OriginManual}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/groups/"+string(g.ID))
	writeJSON(w, http.StatusCreated, s.viewOf(g))
}

// withGroup resolves the {group} path value and checks perm on it.
func (s *Server) withGroup(w http.ResponseWriter, r *http.Request, p principal, perm policy.Permission) (policy.Group, bool) {
	var g policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { g, err = lookupGroup(tx, r.PathValue("group")); return }); err != nil {
		writeErr(w, err)
		return g, false
	}
	if !s.can(p, perm, g.ID) {
		// A caller who may not even see the group learns nothing of it.
		if !s.readable(p, g) {
			writeErr(w, errNoGroup)
		} else {
			writeErr(w, errForbidden)
		}
		return g, false
	}
	return g, true
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p principal) {
	if g, ok := s.withReadableGroup(w, r, p); ok {
		writeJSON(w, http.StatusOK, s.viewOf(s.forCaller(p, g)))
	}
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupsManage)
	if !ok {
		return
	}
	var in groupInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Parent != nil {
		writeErr(w, badRequest("use POST /api/v1/groups/{group}/move to change the parent"))
		return
	}
	if in.Kind != nil {
		// A group's kind decides charter rules for the groups below it:
		// only an admin changes it.
		if !p.admin && policy.GroupKind(*in.Kind) != g.Kind {
			writeErr(w, errForbidden)
			return
		}
		if err := s.checkKind(policy.GroupKind(*in.Kind)); err != nil {
			writeErr(w, err)
			return
		}
	}
	if in.Governance != nil && !p.admin && policy.Governance(*in.Governance) != g.Governance {
		// Who governs a group is the deployment's decision.
		writeErr(w, errForbidden)
		return
	}
	err := s.update(r, p, func(tx store.Tx) error {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return err
		}
		if in.Version != 0 && in.Version != cur.Version {
			return store.ErrVersion
		}
		if in.Slug != nil {
			cur.Slug = *in.Slug
		}
		if in.Name != nil {
			cur.Name = *in.Name
		}
		if in.Description != nil {
			cur.Description = *in.Description
		}
		if in.Kind != nil {
			cur.Kind = policy.GroupKind(*in.Kind)
		}
		if in.Join != nil {
			cur.Join = policy.JoinPolicy(*in.Join)
		}
		if in.Governance != nil {
			cur.Governance = policy.Governance(*in.Governance)
		}
		if err := s.applyPlace(in, &cur); err != nil {
			return err
		}
		if in.Kind != nil || in.Name != nil {
			if err := s.checkPlacement(tx, cur); err != nil {
				return err
			}
		}
		g, err = tx.UpdateGroup(cur)
		return err
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewOf(g))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupsManage)
	if !ok {
		return
	}
	if g.Parent != "" && !s.can(p, policy.PermGroupsManage, g.Parent) {
		// Dissolving a group is its parent's decision, also when the
		// group governs itself.
		writeErr(w, errForbidden)
		return
	}
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		if err := tx.DeleteGroup(g.ID); err != nil {
			return none{}, err
		}
		return none{}, deleteGroupRecords(tx, g.ID) // admin/groupdelete.go
	})
}

func (s *Server) moveGroup(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupsManage)
	if !ok {
		return
	}
	var in struct {
		Parent  string `json:"parent"`
		Version uint64 `json:"version"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	err := s.update(r, p, func(tx store.Tx) error {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return err
		}
		if in.Version != 0 && in.Version != cur.Version {
			return store.ErrVersion
		}
		cur.Parent = ""
		if in.Parent != "" {
			parent, err := s.lookupVisibleGroup(tx, p, in.Parent)
			if err != nil {
				return err
			}
			cur.Parent = parent.ID
		}
		if cur.Parent == "" && !p.admin || cur.Parent != "" && !s.can(p, policy.PermGroupsManage, cur.Parent) {
			return errForbidden
		}
		if err := s.checkPlacement(tx, cur); err != nil {
			return err
		}
		g, err = tx.UpdateGroup(cur)
		return err
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewOf(g))
}

// groupMembers answers GET /api/v1/groups/{group}/members: the
// effective members, each as the caller may see them (see memberFor).
func (s *Server) groupMembers(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok {
		return
	}
	ms := s.cfg.Engine.Members(g.ID)
	out := make([]memberView, 0, len(ms))
	organizer := s.can(p, policy.PermMembersManage, g.ID)
	err := s.view(r, func(tx store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		type person struct {
			u  policy.User
			t  policy.Tenant
			pr policy.Profile
		}
		people := map[policy.UserID]*person{}
		for _, m := range ms {
			pe := people[m.User]
			if pe == nil {
				pe = &person{}
				pe.u, pe.t, _ = userInAnyTenant(tx, ts, m.User)
				if pe.pr, err = getProfile(tx, m.User); err != nil {
					return err
				}
				people[m.User] = pe
			}
			out = append(out, memberFor(p, organizer, m, pe.u, pe.t, pe.pr))
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g.ID, "slug": g.Slug, "members": out})
}

func (s *Server) groupCharter(w http.ResponseWriter, r *http.Request, p principal) {
	if g, ok := s.withReadableGroup(w, r, p); ok {
		writeJSON(w, http.StatusOK, s.cfg.Engine.Charter(g.ID))
	}
}

func (s *Server) listMemberships(w http.ResponseWriter, r *http.Request, p principal) {
	if g, ok := s.withGroup(w, r, p, policy.PermGroupRead); ok {
		read(s, w, r, func(tx store.Tx) (list[policy.Membership], error) {
			ms, err := tx.MembershipsOfGroup(g.ID)
			return list[policy.Membership]{Items: nonNil(ms)}, err
		})
	}
}

func (s *Server) addMembership(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		User   string `json:"user"`
		Tenant string `json:"tenant"`
		Role   string `json:"role"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.User == "" || in.Role == "" {
		writeErr(w, badRequest("user and role are required"))
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (policy.Membership, error) {
		role, err := tx.Role(policy.RoleName(in.Role))
		if err != nil {
			return policy.Membership{}, err
		}
		if !s.canGrant(p, role, g.ID) {
			return policy.Membership{}, errForbidden
		}
		uid := policy.UserID(in.User)
		if in.Tenant != "" {
			u, err := lookupUser(tx, policy.TenantID(in.Tenant), in.User)
			if errors.Is(err, store.ErrNotFound) {
				// One text for a missing tenant and a missing user.
				return policy.Membership{}, badRequest("no user %q in tenant %q", in.User, in.Tenant)
			}
			if err != nil {
				return policy.Membership{}, err
			}
			uid = u.ID
		}
		return tx.AddMembership(policy.Membership{User: uid, Group: g.ID, Role: role.Name, Origin: policy.OriginManual})
	})
}

func (s *Server) removeMembership(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		role, err := tx.Role(policy.RoleName(r.PathValue("role")))
		if err != nil {
			return none{}, err
		}
		if !s.canGrant(p, role, g.ID) {
			return none{}, errForbidden
		}
		return none{}, tx.RemoveMembership(g.ID, policy.UserID(r.PathValue("user")), role.Name)
	})
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Role], error) {
		rs, err := tx.Roles()
		return list[policy.Role]{Items: nonNil(rs)}, err
	})
}

func (s *Server) putRole(w http.ResponseWriter, r *http.Request, p principal) {
	var in policy.Role
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	name := policy.RoleName(r.PathValue("name"))
	if in.Name != "" && in.Name != name {
		writeErr(w, badRequest("name in body %q differs from the path %q", in.Name, name))
		return
	}
	in.Name = name
	if len(in.Permissions) == 0 {
		writeErr(w, badRequest("at least one permission is required"))
		return
	}
	in.Products = policy.NormalizeTags(in.Products)
	for _, pr := range in.Products {
		if !slices.Contains(s.cfg.Products, pr) {
			writeErr(w, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "products", Message: badRequest("product %q is not one of the configured products %v (policy.products)", pr, s.cfg.Products).Message})
			return
		}
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (policy.Role, error) {
		in := in // fn may run more than once: the version read is this run's
		if in.Version == 0 {
			if cur, err := tx.Role(name); err == nil {
				in.Version = cur.Version
			}
		}
		return tx.PutRole(in)
	})
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, p principal) {
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.DeleteRole(policy.RoleName(r.PathValue("name")))
	})
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Rule], error) {
		rs, err := tx.Rules()
		return list[policy.Rule]{Items: nonNil(rs)}, err
	})
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Tenant   string `json:"tenant"`
		DirGroup string `json:"dirGroup"` // id, externalId or display name
		Group    string `json:"group"`    // id or slug
		Role     string `json:"role"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Tenant == "" || in.DirGroup == "" || in.Group == "" || in.Role == "" {
		writeErr(w, badRequest("tenant, dirGroup, group and role are required"))
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (policy.Rule, error) {
		t := policy.TenantID(in.Tenant)
		d, err := lookupDirGroup(tx, t, in.DirGroup)
		if err != nil {
			return policy.Rule{}, badRequest("dirGroup %q: %v", in.DirGroup, err)
		}
		g, err := lookupGroup(tx, in.Group)
		if err != nil {
			return policy.Rule{}, badRequest("group %q: no such group", in.Group)
		}
		if _, err := tx.Role(policy.RoleName(in.Role)); err != nil {
			return policy.Rule{}, badRequest("role %q: %v", in.Role, err)
		}
		return tx.CreateRule(policy.Rule{Tenant: t, DirGroup: d.ID, Group: g.ID, Role: policy.RoleName(in.Role)})
	})
}

// lookupDirGroup finds a directory group by id, externalId or unique name.
func lookupDirGroup(tx store.Tx, t policy.TenantID, ref string) (policy.DirGroup, error) {
	if d, err := tx.DirGroup(t, policy.DirGroupID(ref)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	if d, err := tx.DirGroupByExternalID(t, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	ds, err := tx.DirGroupsByName(t, ref)
	switch {
	case err != nil:
		return policy.DirGroup{}, err
	case len(ds) == 0:
		return policy.DirGroup{}, store.ErrNotFound
	case len(ds) > 1:
		return policy.DirGroup{}, badRequest("%d directory groups are named %q; use the id", len(ds), ref)
	}
	return ds[0], nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request, p principal) {
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.DeleteRule(policy.RuleID(r.PathValue("id")))
	})
}

// explain answers GET /api/v1/explain?user=U&permission=P&group=G, where U
// is a user id or tenant/userName and G a group id or slug. A member may
// explain their own permissions; an admin anyone's.
func (s *Server) explain(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	uref, perm, gref := q.Get("user"), q.Get("permission"), q.Get("group")
	if uref == "" || perm == "" || gref == "" {
		writeErr(w, badRequest("user, permission and group are required"))
		return
	}
	var uid policy.UserID
	var gid policy.GroupID
	err := s.view(r, func(tx store.Tx) error {
		if t, name, ok := strings.Cut(uref, "/"); ok {
			u, err := tx.UserByUserName(policy.TenantID(t), name)
			if err != nil {
				return err
			}
			uid = u.ID
		} else {
			uid = policy.UserID(uref)
		}
		g, err := lookupGroup(tx, gref)
		if err != nil {
			return err
		}
		gid = g.ID
		return nil
	})
	if !p.admin {
		// A member may explain only their own permissions, and learns
		// nothing about other users or groups they cannot read.
		switch {
		case uid != p.user:
			err = errForbidden
		case errors.Is(err, errNoGroup) || err == nil && !s.can(p, policy.PermGroupRead, gid):
			err = errNoGroup
		}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Engine.Explain(uid, policy.Permission(perm), gid))
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	var after uint64
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeErr(w, badRequest("after must be a sequence number"))
			return
		}
		after = n
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeErr(w, badRequest("limit must be an integer from 1 to 1000"))
			return
		}
		limit = n
	}
	var cs []policy.Change
	if err := s.view(r, func(tx store.Tx) (err error) { cs, err = tx.Audit(after, limit); return }); err != nil {
		writeErr(w, err)
		return
	}
	out := list[policy.Change]{Items: nonNil(cs)}
	if len(cs) == limit {
		out.Next = strconv.FormatUint(cs[len(cs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) backup(w http.ResponseWriter, r *http.Request, p principal) {
	// A backup may take longer than the server's WriteTimeout: lift it
	// for this response alone.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="roster-`+s.cfg.Now().UTC().Format("20060102T150405Z")+`.db"`)
	if _, err := s.cfg.Store.Backup(r.Context(), w); err != nil {
		if r.Context().Err() != nil {
			s.cfg.Logger.Debug("backup canceled by the client")
		} else {
			s.cfg.Logger.Error("backup failed", "err", err)
		}
		// The status is already sent: abort the connection so the client
		// sees a broken transfer, never a complete-looking backup.
		panic(http.ErrAbortHandler)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
