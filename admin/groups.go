package admin

// This file holds the user-group handlers (/api/v1/groups): list, create, read, edit, move, delete, members, charter.

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

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
	s.editGroup(w, r, p, g.ID, in.Version, func(tx store.Tx, cur *policy.Group) error {
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
		if err := s.applyPlace(in, cur); err != nil {
			return err
		}
		if in.Kind != nil || in.Name != nil {
			return s.checkPlacement(tx, *cur)
		}
		return nil
	})
}

// editGroup answers a change of group id: fn edits the stored group in
// one write, after a check that version (0: any) is still the stored
// one; the edited group is stored and answered.
func (s *Server) editGroup(w http.ResponseWriter, r *http.Request, p principal, id policy.GroupID, version uint64, fn func(tx store.Tx, cur *policy.Group) error) {
	var g policy.Group
	err := s.update(r, p, func(tx store.Tx) error {
		cur, err := tx.Group(id)
		if err != nil {
			return err
		}
		if version != 0 && version != cur.Version {
			return store.ErrVersion
		}
		if err := fn(tx, &cur); err != nil {
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
	s.editGroup(w, r, p, g.ID, in.Version, func(tx store.Tx, cur *policy.Group) error {
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
		return s.checkPlacement(tx, *cur)
	})
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
