package ldap

// This file holds Active Directory's primary groups (primaryGroupID), which no member attribute lists.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// fetchPrimaryGroups reads the groups that users read by an incremental
// run join or leave as their primary group (Active Directory), among
// those the run did not read as changed: their members change though
// their entries do not.
func (r *run) fetchPrimaryGroups(ctx context.Context, c *searchConn, users []dirUser, groups []dirGroup) ([]dirGroup, error) {
	s := r.s
	stored := make(map[string]string, len(users)) // external id → primary group SID
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, du := range users {
			u, err := tx.UserByExternalID(s.tenant, du.user.ExternalID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return err
			case u.Source == s.source:
				stored[du.user.ExternalID], _ = u.Attributes[attrPrimary].(string)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	read := make(map[string]bool, len(groups))
	for _, g := range groups {
		read[g.sid] = true
	}
	var want []string
	add := func(sid string) {
		if sid != "" && !read[sid] {
			read[sid] = true
			want = append(want, sid)
		}
	}
	for _, du := range users {
		now, _ := du.user.Attributes[attrPrimary].(string)
		if was := stored[du.user.ExternalID]; was != now {
			add(was)
			add(now)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	// AD (and Samba) match objectSid against the SID's string form.
	var f strings.Builder
	f.WriteString("(&" + s.dir.Groups.Filter + "(|")
	for _, sid := range want {
		f.WriteString("(" + attrObjectSid + "=" + goldap.EscapeFilter(sid) + ")")
	}
	f.WriteString("))")
	var out []dirGroup
	err = s.pagedSearch(ctx, c, s.dir.Groups.BaseDN, f.String(), s.groupAttrs(), func(page []*goldap.Entry) error {
		for _, e := range page {
			if g, ok := s.mapGroup(e); ok {
				// Its change mark says nothing of the changes
				// this run has seen.
				g.fetched, g.mark = true, ""
				out = append(out, g)
			}
		}
		return nil
	})
	if err == nil {
		err = s.fetchRanges(ctx, c, out)
	}
	return out, err
}

// keepPrimaryMembers finds, for each group an incremental run read, the
// stored members that are there as users whose primary group it is and
// that the run did not read (so that desiredGroup keeps them): among the
// stored members its member attribute does not list, those whose stored
// primary group is this one. A group read only because primary groups
// moved (fetched) has not changed since the last run, so all of these are.
// The users the run read join their primary groups through run.primary.
func (r *run) keepPrimaryMembers(tx store.Tx, users []dirUser, groups []dirGroup) error {
	s := r.s
	read := make(map[policy.UserID]bool, len(users))
	for _, du := range users {
		if id, ok := r.userID[du.user.ExternalID]; ok {
			read[id] = true
		}
	}
	for _, g := range groups {
		old, ok := r.oldGroups[g.ext]
		if g.sid == "" || !ok {
			continue
		}
		listed := make(map[policy.UserID]bool, len(g.members))
		for _, m := range g.members {
			if kv := r.dnKind[m]; kv.kind == entryUser {
				if id, ok := r.userID[kv.ext]; ok {
					listed[id] = true
				}
			}
		}
		for _, id := range old.MemberUsers {
			if listed[id] || read[id] {
				continue
			}
			if !g.fetched {
				u, err := tx.User(s.tenant, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if pg, _ := u.Attributes[attrPrimary].(string); u.Source != s.source || pg != g.sid {
					continue
				}
			}
			r.primaryIDs[g.sid] = append(r.primaryIDs[g.sid], id)
		}
	}
	return nil
}
