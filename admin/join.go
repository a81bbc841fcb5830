package admin

// Membership requests: a group's join policy (policy.JoinPolicy) lets
// people join an open group with one call, ask to join a request-only
// group, and leave. Requests are kept as records (namespace
// "join-requests", key "<group>/<user>"); every ask, approval, decline,
// join and leave is audited with tx.Record in the same transaction, as an
// event with ID "join/<group>/<user>", so a group's audit trail shows it.

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// nsJoinRequests is the record namespace of membership requests.
const nsJoinRequests = "join-requests"

func (s *Server) joinRoutes() {
	s.handle("GET /api/v1/groups/{group}/join", s.joinStatus)
	s.handle("POST /api/v1/groups/{group}/join", s.join)
	s.handle("POST /api/v1/groups/{group}/leave", s.leave)
	s.handle("GET /api/v1/groups/{group}/join-requests", s.listJoinRequests)
	s.handle("POST /api/v1/groups/{group}/join-requests", s.askToJoin)
	s.handle("POST /api/v1/groups/{group}/join-requests/{user}/approve", s.decideJoin(true))
	s.handle("POST /api/v1/groups/{group}/join-requests/{user}/decline", s.decideJoin(false))
}

// joinEvent is the detail of a membership-request audit entry.
type joinEvent struct {
	Action  string              `json:"action"` // join, ask, approve, decline, withdraw, leave
	Group   policy.GroupID      `json:"group"`
	User    policy.UserID       `json:"user"`
	State   policy.RequestState `json:"state,omitempty"`
	Message string              `json:"message,omitempty"`
	Reason  string              `json:"reason,omitempty"`
}

// joinEventID is the audit ID of membership-request events.
func joinEventID(g policy.GroupID, u policy.UserID) string {
	return "join/" + policy.JoinRequestKey(g, u)
}

func recordJoin(tx store.Tx, tenant policy.TenantID, op policy.Op, ev joinEvent) error {
	return tx.Record(tenant, op, joinEventID(ev.Group, ev.User), ev)
}

// readable reports whether p may see that g exists and read its record:
// group.read on it, or a group anyone may join or ask to join.
func (s *Server) readable(p principal, g policy.Group) bool {
	return g.Join.Discoverable() || s.can(p, policy.PermGroupRead, g.ID)
}

// withReadableGroup resolves {group} for an endpoint open to everyone who
// may see the group (see readable).
func (s *Server) withReadableGroup(w http.ResponseWriter, r *http.Request, p principal) (policy.Group, bool) {
	var g policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { g, err = lookupGroup(tx, r.PathValue("group")); return }); err != nil {
		writeErr(w, err)
		return g, false
	}
	if !s.readable(p, g) {
		writeErr(w, errNoGroup)
		return g, false
	}
	return g, true
}

// person requires a delegated caller: joining is for people, not for
// admin tokens.
func (p principal) person() error {
	if p.admin {
		return badRequest("an admin token is not a person: sign in as the member to join, ask or leave")
	}
	return nil
}

func getJoinRequest(tx store.Tx, g policy.GroupID, u policy.UserID) (policy.JoinRequest, bool, error) {
	var jr policy.JoinRequest
	b, err := tx.GetRecord(nsJoinRequests, policy.JoinRequestKey(g, u))
	if errors.Is(err, store.ErrNotFound) {
		return jr, false, nil
	}
	if err != nil {
		return jr, false, err
	}
	if err := json.Unmarshal(b, &jr); err != nil {
		return jr, false, err
	}
	return jr, true, nil
}

func putJoinRequest(tx store.Tx, jr policy.JoinRequest) error {
	if err := policy.ValidateJoinRequest(jr); err != nil {
		return err
	}
	b, err := json.Marshal(jr)
	if err != nil {
		return err
	}
	return tx.PutRecord(nsJoinRequests, policy.JoinRequestKey(jr.Group, jr.User), b)
}

// manualMember reports whether u holds the member role in g by hand.
func manualMember(tx store.Tx, g policy.GroupID, u policy.UserID) (bool, error) {
	ms, err := tx.MembershipsOfUser(u)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ms, func(m policy.Membership) bool { return m.Group == g && m.Role == "member" }), nil
}

// isMember reports whether u holds any role in g (effective, any origin).
func (s *Server) isMember(g policy.GroupID, u policy.UserID) bool {
	return slices.ContainsFunc(s.cfg.Engine.EffectiveGroups(u), func(m policy.EffectiveMembership) bool { return m.Group == g })
}

// joinState is the answer of GET /groups/{g}/join: the group's join
// policy and where the caller stands.
type joinState struct {
	Group policy.GroupID    `json:"group"`
	Join  policy.JoinPolicy `json:"join"`
	// Member: the caller holds a role in the group; CanLeave: they are a
	// member by hand, so they may leave (a role that comes from a
	// directory group ends only when they leave that group).
	Member   bool                `json:"member"`
	CanLeave bool                `json:"canLeave"`
	Request  *policy.JoinRequest `json:"request,omitempty"`
}

func (s *Server) stateOf(tx store.Tx, p principal, g policy.Group) (joinState, error) {
	st := joinState{Group: g.ID, Join: g.Join.Effective()}
	if p.admin {
		return st, nil
	}
	st.Member = s.isMember(g.ID, p.user)
	var err error
	if st.CanLeave, err = manualMember(tx, g.ID, p.user); err != nil {
		return st, err
	}
	jr, ok, err := getJoinRequest(tx, g.ID, p.user)
	if ok {
		st.Request = &jr
	}
	return st, err
}

// joinStatus answers GET /api/v1/groups/{group}/join.
func (s *Server) joinStatus(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withReadableGroup(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (joinState, error) { return s.stateOf(tx, p, g) })
}

var (
	errJoinClosed    = &Error{Status: http.StatusForbidden, Code: "join_closed", Message: "this group is closed: its organizers add members"}
	errJoinByRequest = &Error{Status: http.StatusForbidden, Code: "join_by_request", Message: "this group takes membership requests: ask with POST /api/v1/groups/{group}/join-requests"}
)

// join answers POST /api/v1/groups/{group}/join: in an open group the
// caller becomes a member (manual membership, role member) at once.
func (s *Server) join(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withReadableGroup(w, r, p)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (joinState, error) {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return joinState{}, err
		}
		switch cur.Join.Effective() {
		case policy.JoinClosed:
			return joinState{}, errJoinClosed
		case policy.JoinOnRequest:
			return joinState{}, errJoinByRequest
		}
		already, err := manualMember(tx, g.ID, p.user)
		if err != nil || already {
			st, _ := s.stateOf(tx, p, cur)
			return st, err
		}
		if _, err := tx.AddMembership(policy.Membership{User: p.user, Group: g.ID, Role: "member", Origin: policy.OriginManual}); err != nil {
			return joinState{}, err
		}
		if err := recordJoin(tx, p.tenant, policy.OpCreate, joinEvent{Action: "join", Group: g.ID, User: p.user}); err != nil {
			return joinState{}, err
		}
		st, err := s.stateOf(tx, p, cur)
		st.Member, st.CanLeave = true, true
		return st, err
	})
}

// leave answers POST /api/v1/groups/{group}/leave: the caller gives up
// their manual member role and withdraws a pending request. A role that
// comes from a directory group, or one given as organizer or speaker, is
// not touched: 409 when there is nothing to leave.
func (s *Server) leave(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withReadableGroup(w, r, p)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (joinState, error) {
		manual, err := manualMember(tx, g.ID, p.user)
		if err != nil {
			return joinState{}, err
		}
		jr, pending, err := getJoinRequest(tx, g.ID, p.user)
		if err != nil {
			return joinState{}, err
		}
		pending = pending && jr.State == policy.RequestPending
		if !manual && !pending {
			msg := "you are not a member of this group"
			if s.isMember(g.ID, p.user) {
				msg = "your membership does not come from joining: it is given by a directory group or an organizer, and ends there"
			}
			return joinState{}, &Error{Status: http.StatusConflict, Code: "not_joined", Message: msg}
		}
		if manual {
			if err := tx.RemoveMembership(g.ID, p.user, "member"); err != nil {
				return joinState{}, err
			}
			if err := recordJoin(tx, p.tenant, policy.OpDelete, joinEvent{Action: "leave", Group: g.ID, User: p.user}); err != nil {
				return joinState{}, err
			}
		}
		if pending || manual {
			// A request, pending or decided, goes with the membership.
			if err := tx.DeleteRecord(nsJoinRequests, policy.JoinRequestKey(g.ID, p.user)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return joinState{}, err
			}
		}
		if pending {
			if err := recordJoin(tx, p.tenant, policy.OpDelete, joinEvent{Action: "withdraw", Group: g.ID, User: p.user, State: jr.State}); err != nil {
				return joinState{}, err
			}
		}
		return joinState{Group: g.ID, Join: g.Join.Effective(), Member: false}, nil
	})
}

// listJoinRequests answers GET /api/v1/groups/{group}/join-requests
// [?state=pending|approved|declined]: every request for those who manage
// the group's members, the caller's own for everyone else who may see the
// group. Pending first, then newest first.
func (s *Server) listJoinRequests(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withReadableGroup(w, r, p)
	if !ok {
		return
	}
	state := policy.RequestState(r.URL.Query().Get("state"))
	if state != "" && state != policy.RequestPending && state != policy.RequestApproved && state != policy.RequestDeclined {
		writeErr(w, badRequest("state is pending, approved or declined"))
		return
	}
	all := s.can(p, policy.PermMembersManage, g.ID)
	read(s, w, r, func(tx store.Tx) (list[joinRequestView], error) {
		out := []joinRequestView{}
		prefix := string(g.ID) + "/"
		if !all {
			prefix = policy.JoinRequestKey(g.ID, p.user)
		}
		err := tx.ScanRecords(nsJoinRequests, prefix, func(_ string, v []byte) error {
			var jr policy.JoinRequest
			if err := json.Unmarshal(v, &jr); err != nil {
				return err
			}
			if jr.Group == g.ID && (all || jr.User == p.user) && (state == "" || jr.State == state) {
				v := joinRequestView{JoinRequest: jr}
				if u, err := tx.User(jr.Tenant, jr.User); err == nil {
					v.UserName, v.DisplayName = u.UserName, u.DisplayName
				}
				out = append(out, v)
			}
			return nil
		})
		sort.SliceStable(out, func(i, j int) bool {
			pi, pj := out[i].State == policy.RequestPending, out[j].State == policy.RequestPending
			if pi != pj {
				return pi
			}
			return out[i].Created.After(out[j].Created)
		})
		return list[joinRequestView]{Items: out}, err
	})
}

// joinRequestView is a request with the asker's names: whoever may decide
// must know whom they let in.
type joinRequestView struct {
	policy.JoinRequest
	UserName    string `json:"userName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// optionalBody decodes a JSON body into v when the request has one.
func (s *Server) optionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	return s.body(w, r)(v)
}

// askToJoin answers POST /api/v1/groups/{group}/join-requests {message?}:
// the caller asks to become a member of a request-only group. Asking again
// while a request is pending returns it unchanged (200); after a decline
// it starts a new one (201).
func (s *Server) askToJoin(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	var in struct {
		Message string `json:"message"`
	}
	if err := s.optionalBody(w, r, &in); err != nil {
		writeErr(w, err)
		return
	}
	in.Message = strings.TrimSpace(in.Message)
	g, ok := s.withReadableGroup(w, r, p)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	status := http.StatusCreated
	var out policy.JoinRequest
	err := s.update(r, p, func(tx store.Tx) error {
		status = http.StatusCreated // fn may run again (a retried transaction)
		cur, err := tx.Group(g.ID)
		if err != nil {
			return err
		}
		switch cur.Join.Effective() {
		case policy.JoinClosed:
			return errJoinClosed
		case policy.JoinOpen:
			return &Error{Status: http.StatusConflict, Code: "join_open", Message: "this group is open: join it with POST /api/v1/groups/{group}/join"}
		}
		if s.isMember(g.ID, p.user) {
			return &Error{Status: http.StatusConflict, Code: "conflict", Message: "you are already a member of this group"}
		}
		jr, ok, err := getJoinRequest(tx, g.ID, p.user)
		if err != nil {
			return err
		}
		if ok && jr.State == policy.RequestPending {
			out, status = jr, http.StatusOK
			return nil
		}
		out = policy.JoinRequest{Group: g.ID, User: p.user, Tenant: p.tenant, State: policy.RequestPending, Message: in.Message, Created: s.cfg.Now().UTC()}
		if err := putJoinRequest(tx, out); err != nil {
			return err
		}
		return recordJoin(tx, p.tenant, policy.OpCreate, joinEvent{Action: "ask", Group: g.ID, User: p.user, State: out.State, Message: out.Message})
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, status, out)
}

// decideJoin answers POST /api/v1/groups/{group}/join-requests/{user}/approve
// and …/decline {reason?}: members.manage on the group. Approving makes
// the person a member (manual membership, role member) in the same
// transaction.
func (s *Server) decideJoin(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		var in struct {
			Reason string `json:"reason"`
		}
		if err := s.optionalBody(w, r, &in); err != nil {
			writeErr(w, err)
			return
		}
		g, ok := s.withGroup(w, r, p, policy.PermMembersManage)
		if !ok || approve && s.refuseArchived(w, g) {
			return
		}
		u := policy.UserID(r.PathValue("user"))
		write(s, w, r, p, http.StatusOK, func(tx store.Tx) (policy.JoinRequest, error) {
			jr, ok, err := getJoinRequest(tx, g.ID, u)
			if err != nil {
				return jr, err
			}
			if !ok {
				return jr, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no request of this person to join this group"}
			}
			if jr.State != policy.RequestPending {
				return jr, &Error{Status: http.StatusConflict, Code: "conflict", Message: "the request is already " + string(jr.State)}
			}
			jr, err = jr.Decide(approve, p.actor(), strings.TrimSpace(in.Reason), s.cfg.Now().UTC())
			if err != nil {
				return jr, err
			}
			if err := putJoinRequest(tx, jr); err != nil {
				return jr, err
			}
			action := "decline"
			if approve {
				action = "approve"
				if _, err := tx.AddMembership(policy.Membership{User: u, Group: g.ID, Role: "member", Origin: policy.OriginManual}); err != nil {
					return jr, err
				}
			}
			return jr, recordJoin(tx, jr.Tenant, policy.OpUpdate, joinEvent{Action: action, Group: g.ID, User: u, State: jr.State, Reason: jr.Reason})
		})
	}
}
