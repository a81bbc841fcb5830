package admin

// Endpoints that delegated administration needs beyond the admin-only
// listings: the group tree with member counts, a people search for those
// who manage members, a person's memberships as the caller may see them,
// the audit trail of a group, explanations about a group's members and
// binding rules scoped to a group. The portal works on these; each is
// checked by the policy engine like every other endpoint, so a caller
// never learns or changes more than their roles allow.

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) portalRoutes() {
	s.handle("GET /api/v1/grouptree", s.groupTree)
	s.handle("GET /api/v1/people", s.searchPeople)
	s.handle("GET /api/v1/people/{tenant}/{user}", s.person)
	s.handle("GET /api/v1/groups/{group}/audit", s.groupAudit)
	s.handle("GET /api/v1/groups/{group}/explain", s.groupExplain)
	s.handle("GET /api/v1/groups/{group}/rules", s.groupRules)
	s.handle("POST /api/v1/groups/{group}/rules", s.createGroupRule)
}

// treeNode is one group of GET /grouptree: the group, its charter status
// and the number of distinct people who hold a role in it.
type treeNode struct {
	groupView
	MemberCount int `json:"memberCount"`
}

// groupTree answers GET /api/v1/grouptree: the groups the caller may read,
// each with its member count (group.read on each).
func (s *Server) groupTree(w http.ResponseWriter, r *http.Request, p principal) {
	var gs []policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		writeErr(w, err)
		return
	}
	if ref := r.URL.Query().Get("around"); ref != "" {
		gs = around(gs, ref)
	}
	out := []treeNode{}
	for _, g := range gs {
		if !s.readable(p, g) {
			continue
		}
		out = append(out, treeNode{groupView: s.viewOf(s.forCaller(p, g)), MemberCount: s.cfg.Engine.MemberCount(g.ID)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	writeJSON(w, http.StatusOK, list[treeNode]{Items: out})
}

// around keeps of gs the group ref (by id or slug), its ancestors and its
// children: what a group page shows of the tree, without the whole tree.
func around(gs []policy.Group, ref string) []policy.Group {
	byID := make(map[policy.GroupID]policy.Group, len(gs))
	var g policy.Group
	for _, x := range gs {
		byID[x.ID] = x
		if string(x.ID) == ref || x.Slug == ref {
			g = x
		}
	}
	if g.ID == "" {
		return nil
	}
	out := []policy.Group{g}
	for p, n := g.Parent, 0; p != "" && n < 64; n++ {
		a, ok := byID[p]
		if !ok {
			break
		}
		out = append(out, a)
		p = a.Parent
	}
	for _, x := range gs {
		if x.Parent == g.ID {
			out = append(out, x)
		}
	}
	return out
}

// managesAny reports whether p holds perm on at least one group.
func (s *Server) managesAny(tx store.Tx, p principal, perm policy.Permission) (bool, error) {
	if p.admin {
		return true, nil
	}
	gs, err := tx.Groups()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(gs, func(g policy.Group) bool { return s.can(p, perm, g.ID) }), nil
}

// personHit is one result of the people search.
type personHit struct {
	ID          policy.UserID   `json:"id"`
	Tenant      policy.TenantID `json:"tenant"`
	UserName    string          `json:"userName"`
	DisplayName string          `json:"displayName,omitempty"`
	Email       string          `json:"email,omitempty"`
}

// searchPeople answers GET /api/v1/people?q=TEXT&limit=N: active people of
// every company whose user name, display name, given and family name or
// e-mail contain TEXT (case-insensitive, at least 2 characters). For admins
// and for callers who manage the members of at least one group, who need it
// to add people by hand.
func (s *Server) searchPeople(w http.ResponseWriter, r *http.Request, p principal) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if len([]rune(q)) < 2 {
		writeErr(w, badRequest("q must have at least 2 characters"))
		return
	}
	limit := 20
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			writeErr(w, badRequest("limit must be an integer from 1 to 100"))
			return
		}
		limit = n
	}
	errFull := errors.New("full")
	read(s, w, r, func(tx store.Tx) (list[personHit], error) {
		ok, err := s.managesAny(tx, p, policy.PermMembersManage)
		if err != nil {
			return list[personHit]{}, err
		}
		if !ok {
			return list[personHit]{}, errForbidden
		}
		ts, err := tx.Tenants()
		if err != nil {
			return list[personHit]{}, err
		}
		out := []personHit{}
		for _, t := range ts {
			err := tx.ForEachUser(t.ID, func(u policy.User) error {
				if !u.Active || !matchesPerson(u, q) {
					return nil
				}
				out = append(out, personHit{ID: u.ID, Tenant: u.Tenant, UserName: u.UserName, DisplayName: u.DisplayName, Email: u.PrimaryEmail()})
				if len(out) == limit {
					return errFull
				}
				return nil
			})
			if errors.Is(err, errFull) {
				break
			}
			if err != nil {
				return list[personHit]{}, err
			}
		}
		return list[personHit]{Items: out}, nil
	})
}

func matchesPerson(u policy.User, q string) bool {
	fields := []string{u.UserName, u.DisplayName, u.GivenName + " " + u.FamilyName}
	for _, e := range u.Emails {
		fields = append(fields, e.Value)
	}
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// personGroup is one role a person holds in one group, with the
// permissions the role grants there and where it comes from.
type personGroup struct {
	policy.EffectiveMembership
	Slug        string              `json:"slug"`
	Name        string              `json:"name"`
	Permissions []policy.Permission `json:"permissions"`
	// Rules are the binding rules among Origins, with their directory
	// groups named.
	Rules []ruleView `json:"rules,omitempty"`
}

// person answers GET /api/v1/people/{tenant}/{user} (user id or userName):
// the person and their effective roles. Admins and the person themself see
// every role; others see only the roles in groups whose members they
// manage, and a person with none of those is "not found".
func (s *Server) person(w http.ResponseWriter, r *http.Request, p principal) {
	errNoPerson := &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such person"}
	read(s, w, r, func(tx store.Tx) (map[string]any, error) {
		u, err := lookupUser(tx, policy.TenantID(r.PathValue("tenant")), r.PathValue("user"))
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoPerson
		}
		if err != nil {
			return nil, err
		}
		self := !p.admin && u.ID == p.user
		roles, err := tx.Roles()
		if err != nil {
			return nil, err
		}
		perms := map[policy.RoleName][]policy.Permission{}
		for _, ro := range roles {
			perms[ro.Name] = ro.Permissions
		}
		out := []personGroup{}
		for _, m := range s.cfg.Engine.EffectiveGroups(u.ID) {
			if !p.admin && !self && !s.can(p, policy.PermMembersManage, m.Group) {
				continue
			}
			pg := personGroup{EffectiveMembership: m, Permissions: nonNil(perms[m.Role])}
			if g, err := tx.Group(m.Group); err == nil {
				pg.Slug, pg.Name = g.Slug, g.Name
			}
			for _, o := range m.Origins {
				id, ok := strings.CutPrefix(string(o), "rule:")
				if !ok {
					continue
				}
				if ru, err := tx.Rule(policy.RuleID(id)); err == nil {
					v := ruleView{Rule: ru}
					if d, err := tx.DirGroup(ru.Tenant, ru.DirGroup); err == nil {
						v.DirGroupName, v.DirGroupSource = d.DisplayName, d.Source
					}
					pg.Rules = append(pg.Rules, v)
				}
			}
			out = append(out, pg)
		}
		if !p.admin && !self && len(out) == 0 {
			return nil, errNoPerson
		}
		return map[string]any{
			"id": u.ID, "tenant": u.Tenant, "userName": u.UserName, "displayName": u.DisplayName,
			"email": u.PrimaryEmail(), "active": u.Active, "source": u.Source, "groups": out,
		}, nil
	})
}

// auditQuery is the filter of a group's audit trail.
type auditQuery struct {
	after        uint64
	limit        int
	person       string
	source       string
	since, until time.Time
}

func parseAuditQuery(r *http.Request) (auditQuery, error) {
	q := r.URL.Query()
	aq := auditQuery{limit: 50, person: q.Get("person"), source: q.Get("source")}
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return aq, badRequest("after must be a sequence number")
		}
		aq.after = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return aq, badRequest("limit must be an integer from 1 to 1000")
		}
		aq.limit = n
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.since}, {"until", &aq.until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse(time.DateOnly, v)
			if err == nil && f.name == "until" {
				t = t.Add(24 * time.Hour) // the whole day
			}
		}
		if err != nil {
			return aq, badRequest("%s must be a date (2006-01-02) or an RFC 3339 time", f.name)
		}
		*f.dst = t
	}
	return aq, nil
}

// auditGroup returns the user group an audit entry is about, if any.
func auditGroup(c policy.Change) policy.GroupID {
	switch c.Kind {
	case policy.KindGroup:
		return policy.GroupID(c.ID)
	case policy.KindMembership:
		g, _, _ := strings.Cut(c.ID, "/")
		return policy.GroupID(g)
	case policy.KindEvent:
		// Membership requests, meetings, RSVPs, suspensions and charter
		// status: "<ns>/<group>/…".
		for _, ns := range []string{"join/", "meeting/", "rsvp/", "suspension/", "charter/"} {
			if rest, ok := strings.CutPrefix(c.ID, ns); ok {
				g, _, _ := strings.Cut(rest, "/")
				return policy.GroupID(g)
			}
		}
	case policy.KindRule:
		var rule struct {
			Group policy.GroupID `json:"group"`
		}
		for _, b := range []json.RawMessage{c.After, c.Before} {
			if len(b) > 0 && json.Unmarshal(b, &rule) == nil && rule.Group != "" {
				return rule.Group
			}
		}
	}
	return ""
}

// auditScan bounds the entries one request of a group's audit reads.
const auditScan = 20000

// groupAudit answers GET /api/v1/groups/{group}/audit: the changes to the
// group, its memberships and its rules, and to those of the groups below it
// that the caller also manages, oldest first. Filters: person (a user id:
// their memberships and what they did), source (the actor's prefix: user,
// admin, ldap, scim, config…), since and until (dates or RFC 3339 times).
// Paging: ?after=SEQ; "next" is set while the log may hold more. Needs
// groups.manage or members.manage on the group.
func (s *Server) groupAudit(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok {
		return
	}
	manages := func(id policy.GroupID) bool {
		return s.can(p, policy.PermGroupsManage, id) || s.can(p, policy.PermMembersManage, id) || s.can(p, policy.PermAuditRead, id)
	}
	if !manages(g.ID) {
		writeErr(w, errForbidden)
		return
	}
	aq, err := parseAuditQuery(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	scope := map[policy.GroupID]bool{g.ID: true}
	for queue := []policy.GroupID{g.ID}; len(queue) > 0; queue = queue[1:] {
		for _, c := range s.cfg.Engine.Children(queue[0]) {
			if !scope[c] && manages(c) {
				scope[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := list[policy.Change]{Items: []policy.Change{}}
	err = s.view(r, func(tx store.Tx) error {
		after, scanned := aq.after, 0
		for scanned < auditScan {
			cs, err := tx.Audit(after, 500)
			if err != nil {
				return err
			}
			for _, c := range cs {
				after = c.Seq
				scanned++
				if !scope[auditGroup(c)] || !aq.match(c) {
					continue
				}
				out.Items = append(out.Items, c)
				if len(out.Items) == aq.limit {
					out.Next = strconv.FormatUint(c.Seq, 10)
					return nil
				}
			}
			if len(cs) < 500 {
				return nil // the end of the log
			}
		}
		out.Next = strconv.FormatUint(after, 10)
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (aq auditQuery) match(c policy.Change) bool {
	if !aq.since.IsZero() && c.Time.Before(aq.since) || !aq.until.IsZero() && !c.Time.Before(aq.until) {
		return false
	}
	if aq.source != "" && c.Actor != aq.source && !strings.HasPrefix(c.Actor, aq.source+":") {
		return false
	}
	if aq.person != "" {
		about := c.Kind == policy.KindMembership && strings.Contains(c.ID, "/"+aq.person+"/") ||
			c.Kind == policy.KindEvent && strings.HasPrefix(c.ID, "join/") && strings.HasSuffix(c.ID, "/"+aq.person)
		if !about && !strings.HasSuffix(c.Actor, "/"+aq.person) {
			return false
		}
	}
	return true
}

// groupExplain answers GET /api/v1/groups/{group}/explain?user=U&permission=P,
// U a user id or tenant/userName: why U may or may not do P in the group.
// For admins, for the user themself, and for those who manage the group's
// members.
func (s *Server) groupExplain(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withReadableGroup(w, r, p)
	if !ok {
		return
	}
	uref, perm := r.URL.Query().Get("user"), r.URL.Query().Get("permission")
	if uref == "" || perm == "" {
		writeErr(w, badRequest("user and permission are required"))
		return
	}
	uid := policy.UserID(uref)
	if t, name, ok := strings.Cut(uref, "/"); ok {
		err := s.view(r, func(tx store.Tx) error {
			u, err := tx.UserByUserName(policy.TenantID(t), name)
			uid = u.ID
			return err
		})
		if err != nil {
			writeErr(w, err)
			return
		}
	}
	if !p.admin && uid != p.user && !s.can(p, policy.PermMembersManage, g.ID) {
		writeErr(w, errForbidden)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Engine.Explain(uid, policy.Permission(perm), g.ID))
}

// ruleView is a binding rule with its directory group's name.
type ruleView struct {
	policy.Rule
	DirGroupName   string `json:"dirGroupName,omitempty"`
	DirGroupSource string `json:"dirGroupSource,omitempty"`
}

// groupRules answers GET /api/v1/groups/{group}/rules: the binding rules
// that give roles in the group (members.manage).
func (s *Server) groupRules(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMembersManage)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[ruleView], error) {
		rs, err := tx.Rules()
		out := []ruleView{}
		for _, ru := range rs {
			if ru.Group != g.ID {
				continue
			}
			v := ruleView{Rule: ru}
			if d, err := tx.DirGroup(ru.Tenant, ru.DirGroup); err == nil {
				v.DirGroupName, v.DirGroupSource = d.DisplayName, d.Source
			}
			out = append(out, v)
		}
		return list[ruleView]{Items: out}, err
	})
}

// createGroupRule answers POST /api/v1/groups/{group}/rules
// {tenant,dirGroup,role}: bind a directory group (id, externalId or name)
// to a role in the group. The caller needs what granting the role by hand
// needs (see canGrant), so a rule never hands out more than its author
// holds.
func (s *Server) createGroupRule(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Tenant   string `json:"tenant"`
		DirGroup string `json:"dirGroup"`
		Role     string `json:"role"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Tenant == "" || in.DirGroup == "" || in.Role == "" {
		writeErr(w, badRequest("tenant, dirGroup and role are required"))
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (policy.Rule, error) {
		role, err := tx.Role(policy.RoleName(in.Role))
		if errors.Is(err, store.ErrNotFound) {
			return policy.Rule{}, badRequest("role %q: no such role", in.Role)
		}
		if err != nil {
			return policy.Rule{}, err
		}
		if !s.canGrant(p, role, g.ID) {
			return policy.Rule{}, errForbidden
		}
		t := policy.TenantID(in.Tenant)
		d, err := lookupDirGroup(tx, t, in.DirGroup)
		if errors.Is(err, store.ErrNotFound) {
			return policy.Rule{}, badRequest("no directory group %q in tenant %q", in.DirGroup, in.Tenant)
		}
		if err != nil {
			return policy.Rule{}, err
		}
		return tx.CreateRule(policy.Rule{Tenant: t, DirGroup: d.ID, Group: g.ID, Role: role.Name})
	})
}
