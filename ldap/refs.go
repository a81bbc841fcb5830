package ldap

import "github.com/roster-dev/roster/policy"

// entryKind says whether a directory entry is a user or a group.
type entryKind byte

// The entry kinds; the bytes are those the DN index stores.
const (
	entryUser  entryKind = 'u'
	entryGroup entryKind = 'g'
)

// entryRef names a user or a group read from the directory by its
// external id. The DN index stores it as "u:<ext>" or "g:<ext>" (String,
// parseEntryRef); the zero entryRef names nothing.
type entryRef struct {
	kind entryKind
	ext  string
}

func userEntry(ext string) entryRef  { return entryRef{kind: entryUser, ext: ext} }
func groupEntry(ext string) entryRef { return entryRef{kind: entryGroup, ext: ext} }

// String is the form the DN index stores.
func (e entryRef) String() string { return string(e.kind) + ":" + e.ext }

// parseEntryRef reads a DN index value; a malformed one gives the zero
// entryRef.
func parseEntryRef(s string) entryRef {
	if len(s) < 3 || s[1] != ':' || (s[0] != byte(entryUser) && s[0] != byte(entryGroup)) {
		return entryRef{}
	}
	return entryRef{kind: entryKind(s[0]), ext: s[2:]}
}

// heldKind says what a removal the deletion guard may hold does.
type heldKind byte

// The removals the guard weighs.
const (
	heldDeleteUser heldKind = iota + 1
	heldDeactivate
	heldDeleteGroup
	heldRemoveUser  // a user leaves a group
	heldRemoveGroup // a group leaves a group
)

// heldKey names one removal the guard may hold: a user or group by store
// id, and for a membership removal the group it leaves.
type heldKey struct {
	kind  heldKind
	group policy.DirGroupID // heldRemoveUser, heldRemoveGroup
	id    string
}

func deleteUserKey(u policy.UserID) heldKey { return heldKey{kind: heldDeleteUser, id: string(u)} }
func deactivateKey(u policy.UserID) heldKey { return heldKey{kind: heldDeactivate, id: string(u)} }
func deleteGroupKey(g policy.DirGroupID) heldKey {
	return heldKey{kind: heldDeleteGroup, id: string(g)}
}
func removeUserKey(g policy.DirGroupID, u policy.UserID) heldKey {
	return heldKey{kind: heldRemoveUser, group: g, id: string(u)}
}
func removeGroupKey(g, m policy.DirGroupID) heldKey {
	return heldKey{kind: heldRemoveGroup, group: g, id: string(m)}
}
