package ldap

// This file holds how a directory entry becomes a user: the diff against the stored user and the merge of mapped attributes.

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// diffUser compares a directory user with the store and appends the
// write it needs, if any.
func (r *run) diffUser(du dirUser, ops []op) []op {
	if r.seenUsers[du.user.ExternalID] {
		r.recordErr(&r.st.Users, fmt.Sprintf("user %s: duplicate %s %s", du.dn, r.s.dir.Attributes.ID, du.user.ExternalID))
		return ops
	}
	// The strings kept in the run's maps are copies: those of the entry
	// share one buffer with the whole entry (see decodeEntry).
	ext := strings.Clone(du.user.ExternalID)
	v := userEntry(ext)
	du.user.ExternalID = ext
	norm := strings.Clone(du.norm)
	r.seenUsers[ext] = true
	if k, _ := du.user.Attributes[attrPrimary].(string); k != "" {
		r.primary[k] = append(r.primary[k], ext)
	}
	r.dnKind[norm] = v
	if r.s.dir.Membership == MembershipMemberUID || r.index == nil {
		// Needed to resolve memberUid values, and by incremental runs.
		r.userByName[strings.Clone(policy.FoldUserName(du.user.UserName))] = ext
	}
	r.usersMark = laterMark(r.usersMark, du.mark)
	if r.index != nil && r.index[norm] != v {
		// A full run writes the DN index along with the users.
		ops = append(ops, op{kind: opPutDN, key: r.s.dnPrefix() + norm, val: v.String()})
		r.index[norm] = v
	}
	old, ok := r.oldUsers[ext]
	if !ok {
		if r.preIDs {
			// Its id is chosen now (ascending, as the store would
			// choose them): the groups can name the user before it
			// is written.
			du.user.ID = policy.UserID(store.NewID())
			r.userID[ext] = du.user.ID
		}
		return append(ops, op{kind: opCreateUser, user: du.user})
	}
	if old.fp == r.s.fingerprint(du.user) {
		r.st.Users.Unchanged++
		return ops
	}
	// The update is merged into the stored record when it is written
	// (mergeUser), provided that record still has the version read here.
	nu := du.user
	nu.ID, nu.Version = old.id, old.version
	if old.active && !nu.Active {
		r.deactivate = append(r.deactivate, nu)
		return ops
	}
	return append(ops, op{kind: opUpdateUser, user: nu})
}

// userRef is what a run keeps of a stored user: enough to diff, update
// and delete it without holding the record.
type userRef struct {
	id       policy.UserID
	version  uint64
	fp       uint64
	active   bool
	userName string
}

func (s *Source) refOf(u policy.User) userRef {
	return userRef{id: u.ID, version: u.Version, fp: s.fingerprint(u), active: u.Active, userName: u.UserName}
}

// fingerprint hashes the fields a directory entry maps to (see mapUser):
// two users with the same fingerprint need no update.
func (s *Source) fingerprint(u policy.User) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	str := func(v string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.WriteString(v)
	}
	str(u.UserName)
	str(u.GivenName)
	str(u.FamilyName)
	str(u.DisplayName)
	str(u.ExternalID)
	if s.mapsLocation() {
		if l := u.Location; l != nil {
			str(l.City)
			str(l.Region)
			str(l.Country)
		} else {
			str("\x00no location")
		}
	}
	dn, isStr := u.Attributes[attrDN].(string)
	if !isStr && u.Attributes[attrDN] != nil {
		dn = fmt.Sprint(u.Attributes[attrDN]) + "\x00not a string"
	}
	str(dn)
	pg, isStr := u.Attributes[attrPrimary].(string)
	if !isStr && u.Attributes[attrPrimary] != nil {
		pg = fmt.Sprint(u.Attributes[attrPrimary]) + "\x00not a string"
	}
	str(pg)
	if s.dir.Attributes.Phone != "" {
		ph, _ := u.Attributes[attrPhone].(string)
		str(ph)
	}
	flags := byte(0)
	if u.Active {
		flags = 1
	}
	h.WriteByte(flags)
	for _, e := range u.Emails {
		str(e.Value)
		str(e.Type)
		if e.Primary {
			h.WriteByte(1)
		} else {
			h.WriteByte(0)
		}
	}
	h.WriteByte(byte(len(u.Emails)))
	return h.Sum64()
}

// mapsLocation reports whether this directory's attribute map reads a
// location (then the directory owns the users' Location).
func (s *Source) mapsLocation() bool {
	a := s.dir.Attributes
	return a.City != "" || a.Region != "" || a.Country != ""
}

// mergeUser applies the directory's view d of a user to the stored record
// cur: the mapped fields are replaced, other attributes are kept.
func mergeUser(cur, d policy.User, mapsLocation, mapsPhone bool) policy.User {
	nu := cur
	nu.UserName = d.UserName
	nu.GivenName = d.GivenName
	nu.FamilyName = d.FamilyName
	nu.DisplayName = d.DisplayName
	nu.Emails = d.Emails
	nu.Active = d.Active
	if mapsLocation {
		nu.Location = d.Location
	}
	nu.Attributes = make(map[string]any, len(cur.Attributes)+1)
	for k, v := range cur.Attributes {
		nu.Attributes[k] = v
	}
	nu.Attributes[attrDN] = d.Attributes[attrDN]
	if pg, ok := d.Attributes[attrPrimary]; ok {
		nu.Attributes[attrPrimary] = pg
	} else {
		delete(nu.Attributes, attrPrimary)
	}
	if mapsPhone {
		if ph, ok := d.Attributes[attrPhone]; ok {
			nu.Attributes[attrPhone] = ph
		} else {
			delete(nu.Attributes, attrPhone)
		}
	}
	return nu
}
