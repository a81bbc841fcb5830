package policy

import (
	"fmt"
	"time"
)

// JoinPolicy says how people become members of a user group on their own.
// The zero value is JoinClosed.
type JoinPolicy string

// Join policies.
const (
	// JoinClosed: members are added by organizers, rules or directories
	// only (the default).
	JoinClosed JoinPolicy = "closed"
	// JoinOpen: any signed-in person joins with one click, as a member.
	JoinOpen JoinPolicy = "open"
	// JoinOnRequest: a person asks; someone who manages the group's members
	// approves or declines.
	JoinOnRequest JoinPolicy = "request"
)

// Effective returns p, or JoinClosed when p is empty.
func (p JoinPolicy) Effective() JoinPolicy {
	if p == "" {
		return JoinClosed
	}
	return p
}

// Valid reports whether p is empty or one of the three policies.
func (p JoinPolicy) Valid() bool {
	switch p {
	case "", JoinClosed, JoinOpen, JoinOnRequest:
		return true
	}
	return false
}

// Discoverable reports whether people outside the group may see that it
// exists and ask to be in it: open and request-only groups.
func (p JoinPolicy) Discoverable() bool { return p == JoinOpen || p == JoinOnRequest }

// RequestState is where a membership request stands.
type RequestState string

// Request states.
const (
	RequestPending  RequestState = "pending"
	RequestApproved RequestState = "approved"
	RequestDeclined RequestState = "declined"
)

// JoinRequest is one person's request to become a member of a user group
// whose join policy is JoinOnRequest. There is at most one per group and
// person: asking again after a decline replaces it.
type JoinRequest struct {
	Group   GroupID      `json:"group"`
	User    UserID       `json:"user"`
	Tenant  TenantID     `json:"tenant"`
	State   RequestState `json:"state"`
	Message string       `json:"message,omitempty"`
	Created time.Time    `json:"created"`
	// Decided and DecidedBy (an audit actor) are set once an organizer
	// approved or declined; Reason is what they said.
	Decided   time.Time `json:"decided,omitzero"`
	DecidedBy string    `json:"decidedBy,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// JoinRequestKey is the key of a request among the "join-requests"
// records and the ID of its audit entries: "<group>/<user>".
func JoinRequestKey(g GroupID, u UserID) string { return string(g) + "/" + string(u) }

// ValidateJoinRequest checks a membership request record.
func ValidateJoinRequest(r JoinRequest) error {
	switch {
	case r.Group == "" || r.User == "":
		return fmt.Errorf("%w: a request needs a group and a user", ErrInvalid)
	case r.State != RequestPending && r.State != RequestApproved && r.State != RequestDeclined:
		return fmt.Errorf("%w: request state %q is not pending, approved or declined", ErrInvalid, r.State)
	}
	return checkLens(MaxNameBytes, "message", r.Message, "reason", r.Reason)
}

// Decide moves a pending request to approved or declined. A request that
// is no longer pending cannot be decided again.
func (r JoinRequest) Decide(approve bool, actor, reason string, now time.Time) (JoinRequest, error) {
	if r.State != RequestPending {
		return r, fmt.Errorf("%w: the request is already %s", ErrInvalid, r.State)
	}
	r.State, r.Decided, r.DecidedBy, r.Reason = RequestDeclined, now, actor, reason
	if approve {
		r.State = RequestApproved
	}
	return r, ValidateJoinRequest(r)
}
