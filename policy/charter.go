package policy

import "fmt"

// This file holds the charter rule: whether a group has enough members
// who also belong to its reference group.

// thresholdScale is the precision with which thresholds are compared:
// Threshold is rounded to millionths, and the comparison is made in
// integers so that exactly 60% is 60%.
const thresholdScale = 1_000_000

// Charter computes the charter status of group g under the Engine's
// CharterRule. The rule applies when g is of kind Kind and has an ancestor
// of kind Parent (the nearest is used: the reference group). g is
// chartered when at least Threshold of its distinct members are effective
// members, in any role, of the reference group, or when at least Threshold
// of the distinct subscribers of its mailing list are; Basis says which
// qualified, and both ratios are given. The counts are only made when the
// rule applies (they are 0 otherwise).
//
// Results are memoized until the next Load or Apply, so that listing every
// group with its charter status stays cheap.
func (e *Engine) Charter(g GroupID) CharterStatus {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return memoized(e, e.charters, g, e.charterOf)
}

// charterOf computes Charter; the caller holds e.mu.
func (e *Engine) charterOf(g GroupID) CharterStatus {
	cr := e.charter
	st := CharterStatus{Group: g, Threshold: cr.Threshold}
	gr, ok := e.groups[g]
	if !ok || gr.Kind != cr.Kind {
		return st
	}
	for _, a := range e.ancestors(g) {
		if e.groups[a].Kind == cr.Parent {
			st.Parent = a
			break
		}
	}
	st.ReferenceKind = cr.Parent
	if st.Parent == "" {
		st.Reason = fmt.Sprintf("no %s group above it: the charter rule cannot be computed", cr.Parent)
		return st
	}
	st.Applies = true
	st.Reference = e.groups[st.Parent].Slug
	members := map[UserID]struct{}{}
	e.forEachMember(g, func(u UserID, _ RoleName, _ Origin) { members[u] = struct{}{} })
	st.Members = len(members)
	for u := range members {
		if e.isMember(u, st.Parent) {
			st.InParent++
		}
	}
	st.InReference = st.InParent
	need := int64(cr.Threshold*thresholdScale + 0.5)
	byMembers, byList := false, false
	if st.Members > 0 {
		st.Ratio = float64(st.InParent) / float64(st.Members)
		byMembers = int64(st.InParent)*thresholdScale >= need*int64(st.Members)
	}
	if l := gr.MailingList; l != nil {
		subs := map[string]UserID{} // "u:<id>" or "a:<address>" → user ("" for an address of nobody)
		for _, d := range l.DirGroups {
			if dr := e.dir(d); dr != nil {
				e.walkDown(d, func(u UserID) { subs["u:"+string(u)] = u })
			}
		}
		for _, a := range l.Addresses {
			addr := FoldAddress(a.Address)
			if u, ok := e.activeByEmail(addr); ok {
				subs["u:"+string(u)] = u
			} else {
				subs["a:"+addr] = ""
			}
		}
		st.Subscribers = len(subs)
		for _, u := range subs {
			if u != "" && e.isMember(u, st.Parent) {
				st.SubscribersInReference++
			}
		}
		if st.Subscribers > 0 {
			st.SubscriberRatio = float64(st.SubscribersInReference) / float64(st.Subscribers)
			byList = int64(st.SubscribersInReference)*thresholdScale >= need*int64(st.Subscribers)
		}
	}
	st.Chartered = byMembers || byList
	switch {
	case byMembers && byList:
		st.Basis = BasisBoth
	case byMembers:
		st.Basis = BasisMembers
	case byList:
		st.Basis = BasisMailingList
	}
	return st
}
