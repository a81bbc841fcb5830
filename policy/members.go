package policy

import "slices"

// MemberKind says what a member of a directory group is.
type MemberKind string

// Member kinds. A MemberRef whose Kind is MemberAny names an id that is
// either, to be resolved by the store (user ids and directory-group ids
// share one id space, so the id alone says which record it is).
const (
	MemberAny   MemberKind = ""
	MemberUser  MemberKind = "user"
	MemberGroup MemberKind = "group"
)

// MemberRef names one member of a directory group: a user or a nested
// directory group of the same tenant.
type MemberRef struct {
	Kind MemberKind `json:"kind,omitempty"`
	ID   string     `json:"id"`
}

// UserMember returns the reference to user u.
func UserMember(u UserID) MemberRef { return MemberRef{Kind: MemberUser, ID: string(u)} }

// GroupMember returns the reference to directory group g.
func GroupMember(g DirGroupID) MemberRef { return MemberRef{Kind: MemberGroup, ID: string(g)} }

// MembersChange is a delta to the member lists of one directory group:
// the members to add and the members to take out. It is the one shape of a
// membership change, whatever its source (a SCIM PATCH, an LDAP sync), and
// the body of a Change with Op OpMembers.
type MembersChange struct {
	Add    []MemberRef `json:"add,omitempty"`
	Remove []MemberRef `json:"remove,omitempty"`
}

// Empty reports whether c changes nothing.
func (c MembersChange) Empty() bool { return len(c.Add) == 0 && len(c.Remove) == 0 }

// Canonical returns c in canonical form: each id at most once in each
// list, its first occurrence kept. Removals apply before additions, so an
// id in both lists is a member afterwards, listed last (it was taken out
// and put back).
func (c MembersChange) Canonical() MembersChange {
	return MembersChange{Add: uniqueRefs(c.Add), Remove: uniqueRefs(c.Remove)}
}

func uniqueRefs(s []MemberRef) []MemberRef {
	seen := make(map[string]bool, len(s))
	var out []MemberRef
	for _, r := range s {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// UniqueMembers returns s without repeated ids, keeping the first
// occurrence of each: the canonical form of a directory group's member
// list. Order is kept, not sorted, because a group's member list is shown
// back (SCIM, the admin API) in the order it was written; the Engine keeps
// its own sorted copy for lookups. s itself is not modified.
func UniqueMembers[T ~string](s []T) []T {
	if len(s) < 2 || ascending(s) {
		return s // no duplicates: nothing to drop
	}
	seen := make(map[T]struct{}, len(s))
	out := make([]T, 0, len(s))
	for _, x := range s {
		if _, ok := seen[x]; !ok {
			seen[x] = struct{}{}
			out = append(out, x)
		}
	}
	return out
}

// ascending reports whether s is in strictly ascending order (and so has
// no duplicates): the sorted lists of a directory sync, checked in one pass
// instead of a map.
func ascending[T ~string](s []T) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// ApplyMembers returns the member lists of g with c applied: removed ids
// dropped, then added ids not listed appended in order (users to
// MemberUsers, groups to MemberGroups), and the lists in canonical form.
// Every Kind in c.Add must be MemberUser or MemberGroup. g is not modified.
func ApplyMembers(g DirGroup, c MembersChange) ([]UserID, []DirGroupID) {
	c = c.Canonical()
	drop := make(map[string]bool, len(c.Remove))
	for _, r := range c.Remove {
		drop[r.ID] = true
	}
	users := slices.DeleteFunc(slices.Clone(UniqueMembers(g.MemberUsers)), func(u UserID) bool { return drop[string(u)] })
	groups := slices.DeleteFunc(slices.Clone(UniqueMembers(g.MemberGroups)), func(m DirGroupID) bool { return drop[string(m)] })
	for _, a := range c.Add {
		switch a.Kind {
		case MemberUser:
			users = append(users, UserID(a.ID))
		case MemberGroup:
			groups = append(groups, DirGroupID(a.ID))
		}
	}
	return UniqueMembers(users), UniqueMembers(groups)
}

// MembersDiff returns the change that turns g's member lists into users
// and groups (both taken as sets), removals before additions, each list in
// the order of its source.
func MembersDiff(g DirGroup, users []UserID, groups []DirGroupID) MembersChange {
	var c MembersChange
	diff := func(old, cur []string, kind MemberKind) {
		in := make(map[string]bool, len(cur))
		for _, x := range cur {
			in[x] = true
		}
		was := make(map[string]bool, len(old))
		for _, x := range old {
			was[x] = true
			if !in[x] {
				c.Remove = append(c.Remove, MemberRef{Kind: kind, ID: x})
			}
		}
		for _, x := range cur {
			if !was[x] {
				c.Add = append(c.Add, MemberRef{Kind: kind, ID: x})
				was[x] = true
			}
		}
	}
	diff(idStrings(g.MemberUsers), idStrings(users), MemberUser)
	diff(idStrings(g.MemberGroups), idStrings(groups), MemberGroup)
	return c
}

func idStrings[T ~string](s []T) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}
