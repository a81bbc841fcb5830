package admin

// Archiving: a retired group keeps its history, members and meetings
// (policy.Group.Archived) but takes no new members, meetings, binding
// rules or subgroups. Archiving and unarchiving are updates of the group
// record, so they are in the audit trail as such.
//
// A group is archived only when its subgroups are (archive from the
// leaves up) and unarchived only when its parent is not: an active group
// never sits under an archived one.

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) archiveRoutes() {
	s.handle("POST /api/v1/groups/{group}/archive", s.setArchived(true))
	s.handle("POST /api/v1/groups/{group}/unarchive", s.setArchived(false))
}

// errArchived answers a change an archived group refuses (409 archived).
func errArchived(g policy.Group) error {
	return &Error{Status: http.StatusConflict, Code: "archived", Message: fmt.Sprintf("group %s is archived: unarchive it first", g.Slug)}
}

// refuseArchived answers 409 archived for a group that is, and reports
// whether it did.
func (s *Server) refuseArchived(w http.ResponseWriter, g policy.Group) bool {
	if !g.Archived {
		return false
	}
	writeErr(w, errArchived(g))
	return true
}

// setArchived answers POST /api/v1/groups/{group}/archive and /unarchive:
// the group as it is now. It needs groups.manage on the group or on its
// parent (retiring a group is also its parent's decision, as dissolving
// it is, when the group governs itself). Archiving an archived group, or
// unarchiving an active one, changes nothing.
func (s *Server) setArchived(archived bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		var g policy.Group
		if err := s.view(r, func(tx store.Tx) (err error) { g, err = lookupGroup(tx, r.PathValue("group")); return }); err != nil {
			writeErr(w, err)
			return
		}
		if !s.can(p, policy.PermGroupsManage, g.ID) && (g.Parent == "" || !s.can(p, policy.PermGroupsManage, g.Parent)) {
			if !s.readable(p, g) && (g.Parent == "" || !s.can(p, policy.PermGroupRead, g.Parent)) {
				writeErr(w, errNoGroup)
			} else {
				writeErr(w, errForbidden)
			}
			return
		}
		write(s, w, r, p, http.StatusOK, func(tx store.Tx) (groupView, error) {
			cur, err := tx.Group(g.ID)
			if err != nil {
				return groupView{}, err
			}
			if cur.Archived == archived {
				return s.viewOf(cur), nil
			}
			all, err := tx.Groups()
			if err != nil {
				return groupView{}, err
			}
			var active []string
			for _, o := range all {
				if archived && o.Parent == cur.ID && !o.Archived {
					active = append(active, o.Slug)
				}
				if !archived && o.ID == cur.Parent && o.Archived {
					return groupView{}, &Error{Status: http.StatusConflict, Code: "archived", Message: fmt.Sprintf("its parent %s is archived: unarchive that first", o.Slug)}
				}
			}
			if len(active) > 0 {
				return groupView{}, &Error{Status: http.StatusConflict, Code: "has_subgroups", Message: "archive its subgroups first: " + strings.Join(active, ", ")}
			}
			cur.Archived = archived
			cur, err = tx.UpdateGroup(cur)
			return s.viewOf(cur), err
		})
	}
}
