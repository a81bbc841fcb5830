package admin

// Governance: a self-governing group's organizers govern it; above it the
// parent's admins keep oversight (see policy.Governance), which includes
// suspending the group, or one of its organizers, with a stated reason
// that the group's organizers see. The policy engine decides every
// permission; this file adds the suspension endpoints and what a caller
// sees of suspensions.

import (
	"net/http"
	"slices"
	"strings"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) governanceRoutes() {
	s.handle("POST /api/v1/groups/{group}/suspend", s.suspend)
	s.handle("POST /api/v1/groups/{group}/reinstate", s.reinstate)
}

// suspendEvent is the detail of a suspension audit entry.
type suspendEvent struct {
	Action string         `json:"action"` // suspend, reinstate
	Group  policy.GroupID `json:"group"`
	User   policy.UserID  `json:"user,omitempty"`
	Reason string         `json:"reason,omitempty"`
}

// suspendEventID is the audit ID of suspension events:
// "suspension/<group>[/<user>]", in the group's audit trail.
func suspendEventID(g policy.GroupID, u policy.UserID) string {
	if u == "" {
		return "suspension/" + string(g)
	}
	return "suspension/" + string(g) + "/" + string(u)
}

// suspend answers POST /api/v1/groups/{group}/suspend {reason, user?}:
// suspend the group (no user) or one person's roles in it, with a stated
// reason. Needs groups.suspend on the group: oversight, which the parent's
// admins keep above a self-governing group. While suspended, the roles
// held in the group itself give only group.read and meetings.read.
func (s *Server) suspend(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Reason string `json:"reason"`
		User   string `json:"user"`
		Tenant string `json:"tenant"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if strings.TrimSpace(in.Reason) == "" {
		writeErr(w, badRequest("reason is required: the group's organizers are told why"))
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermGroupsSuspend)
	if !ok {
		return
	}
	s.editSuspensions(w, r, p, g, in.User, in.Tenant, policy.OpCreate, func(cur *policy.Group, uid policy.UserID) (suspendEvent, error) {
		if uid == p.user && !p.admin {
			return suspendEvent{}, badRequest("you cannot suspend yourself")
		}
		su := policy.Suspension{User: uid, Reason: strings.TrimSpace(in.Reason), By: p.actor(), Since: s.cfg.Now().UTC()}
		cur.Suspensions = slices.DeleteFunc(cur.Suspensions, func(x policy.Suspension) bool { return x.User == uid })
		cur.Suspensions = append(cur.Suspensions, su)
		return suspendEvent{Action: "suspend", Group: g.ID, User: uid, Reason: su.Reason}, nil
	})
}

// editSuspensions changes the suspensions of g for the person named by
// user and tenant (see suspendee) with fn in one write, records the
// event fn returns as op, and answers the group as the caller sees it.
func (s *Server) editSuspensions(w http.ResponseWriter, r *http.Request, p principal, g policy.Group, user, tenant string, op policy.Op, fn func(cur *policy.Group, uid policy.UserID) (suspendEvent, error)) {
	var out policy.Group
	err := s.update(r, p, func(tx store.Tx) error {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return err
		}
		uid, err := s.suspendee(tx, user, tenant)
		if err != nil {
			return err
		}
		ev, err := fn(&cur, uid)
		if err != nil {
			return err
		}
		if out, err = tx.UpdateGroup(cur); err != nil {
			return err
		}
		return tx.Record("", op, suspendEventID(g.ID, uid), ev)
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewOf(s.forCaller(p, out)))
}

// reinstate answers POST /api/v1/groups/{group}/reinstate {user?}: lift
// the suspension of the group (no user) or of one person (groups.suspend).
func (s *Server) reinstate(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		User   string `json:"user"`
		Tenant string `json:"tenant"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermGroupsSuspend)
	if !ok {
		return
	}
	s.editSuspensions(w, r, p, g, in.User, in.Tenant, policy.OpDelete, func(cur *policy.Group, uid policy.UserID) (suspendEvent, error) {
		n := len(cur.Suspensions)
		cur.Suspensions = slices.DeleteFunc(cur.Suspensions, func(x policy.Suspension) bool { return x.User == uid })
		if len(cur.Suspensions) == n {
			return suspendEvent{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such suspension"}
		}
		return suspendEvent{Action: "reinstate", Group: g.ID, User: uid}, nil
	})
}

// suspendee resolves the person of a suspension: "" for the group itself,
// a user id, or a userName with its tenant.
func (s *Server) suspendee(tx store.Tx, user, tenant string) (policy.UserID, error) {
	if user == "" {
		return "", nil
	}
	if tenant == "" {
		return policy.UserID(user), nil
	}
	u, err := lookupUser(tx, policy.TenantID(tenant), user)
	if err != nil {
		return "", badRequest("no user %q in tenant %q", user, tenant)
	}
	return u.ID, nil
}

// redactSuspensions leaves, of g's suspensions, what p may see: the
// group's own suspension for everyone who reads the group; a person's
// suspension for that person, for those who manage the group's members
// (its organizers) and for those who may suspend.
func (s *Server) redactSuspensions(p principal, g policy.Group) policy.Group {
	if len(g.Suspensions) == 0 || p.admin || s.can(p, policy.PermMembersManage, g.ID) || s.can(p, policy.PermGroupsSuspend, g.ID) {
		return g
	}
	g.Suspensions = slices.DeleteFunc(slices.Clone(g.Suspensions), func(x policy.Suspension) bool {
		return x.User != "" && x.User != p.user
	})
	return g
}

// governingRoles returns the roles p holds directly in group g that
// manage its members and do not flow down: what a delegated caller who
// creates a subgroup of g is given in it, so that a self-governing group's
// organizers govern the SIGs they create.
func (s *Server) governingRoles(tx store.Tx, p principal, g policy.GroupID) ([]policy.RoleName, error) {
	if p.admin {
		return nil, nil
	}
	var out []policy.RoleName
	for _, m := range s.cfg.Engine.EffectiveGroups(p.user) {
		if m.Group != g {
			continue
		}
		ro, err := tx.Role(m.Role)
		if err != nil {
			continue
		}
		if !ro.Inherit && slices.Contains(ro.Permissions, policy.PermMembersManage) {
			out = append(out, ro.Name)
		}
	}
	return out, nil
}
