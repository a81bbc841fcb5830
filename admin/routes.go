package admin

// This file maps every admin API route to its handler; each resource's handlers live in a file named for it.

import (
	"net/http"
)

func (s *Server) routes() {
	// Tenants, users and directory groups (read).
	s.handle("GET /api/v1/tenants", s.adminOrEveryRoot(PermTenants, s.listTenants))
	s.handle("GET /api/v1/tenants/{tenant}", s.adminOnly(s.getTenant))
	s.handle("GET /api/v1/tenants/{tenant}/users", s.adminOnly(s.listUsers))
	s.handle("GET /api/v1/tenants/{tenant}/users/{user}", s.adminOnly(s.getUser))
	s.handle("GET /api/v1/tenants/{tenant}/users/{user}/groups", s.adminOnly(s.userGroups))
	s.handle("GET /api/v1/tenants/{tenant}/dirgroups", s.adminOnly(s.listDirGroups))
	s.handle("GET /api/v1/tenants/{tenant}/dirgroups/{id}", s.adminOnly(s.getDirGroup))
	s.handle("GET /api/v1/me", s.me)

	// User groups.
	s.handle("GET /api/v1/groups", s.listGroups)
	s.handle("POST /api/v1/groups", s.createGroup)
	s.handle("GET /api/v1/groups/{group}", s.getGroup)
	s.handle("PATCH /api/v1/groups/{group}", s.patchGroup)
	s.handle("DELETE /api/v1/groups/{group}", s.deleteGroup)
	s.handle("POST /api/v1/groups/{group}/move", s.moveGroup)
	s.archiveRoutes() // admin/archive.go
	s.handle("GET /api/v1/groups/{group}/members", s.groupMembers)
	s.handle("GET /api/v1/groups/{group}/charter", s.groupCharter)
	s.handle("GET /api/v1/groups/{group}/memberships", s.listMemberships)
	s.handle("POST /api/v1/groups/{group}/memberships", s.addMembership)
	s.handle("DELETE /api/v1/groups/{group}/memberships/{user}/{role}", s.removeMembership)

	// Roles and rules.
	s.handle("GET /api/v1/roles", s.listRoles)
	s.handle("PUT /api/v1/roles/{name}", s.adminOnly(s.putRole))
	s.handle("DELETE /api/v1/roles/{name}", s.adminOnly(s.deleteRole))
	s.handle("GET /api/v1/rules", s.adminOnly(s.listRules))
	s.handle("POST /api/v1/rules", s.adminOnly(s.createRule))
	s.handle("DELETE /api/v1/rules/{id}", s.adminOnly(s.deleteRule))

	// Explain, audit, backup.
	s.handle("GET /api/v1/explain", s.explain)
	s.handle("GET /api/v1/audit", s.adminOnly(s.audit))
	s.handle("GET /api/v1/backup", s.adminOnly(s.backup))
	s.quarantineRoutes()
	s.portalRoutes()          // admin/portal.go
	s.joinRoutes()            // admin/join.go
	s.meetingRoutes()         // admin/meetings.go
	s.talkRoutes()            // admin/talks.go
	s.meetingFeedbackRoutes() // admin/meetingfeedback.go
	s.governanceRoutes()      // admin/governance.go
	s.mailingListRoutes()     // admin/mailinglist.go
	s.profileRoutes()         // admin/profile.go
	s.mailPrefsRoutes()       // admin/mailprefs.go
	s.reachRoutes()           // admin/announce.go, admin/public.go
	s.feedbackRoutes()        // admin/feedback.go
	s.applicationRoutes()     // admin/applications.go
	s.statsRoutes()           // admin/stats.go
}

// errNoGroup answers both a missing group and one the caller may not read.
var errNoGroup = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such group"}
