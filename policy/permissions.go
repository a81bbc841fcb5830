package policy

// The permissions Roster checks, named once. A role grants a list of these
// (Role.Permissions); the admin API, the demo world and the tests refer to
// them by these names rather than by string literals. The portal, which
// works through the admin API over HTTP only, uses the same strings.
const (
	// PermGroupRead: see a group, its members and its roles.
	PermGroupRead Permission = "group.read"
	// PermMeetingsRead: see a group's meetings (and RSVP to them).
	PermMeetingsRead Permission = "meetings.read"
	// PermMeetingsEdit: schedule, change and cancel a group's meetings;
	// run their call for talks (review, accept, decline), pick agenda
	// topics, keep the check-in list and read the meeting feedback.
	PermMeetingsEdit Permission = "meetings.edit"
	// PermTalksSubmit: propose a talk to a meeting's call for talks.
	PermTalksSubmit Permission = "talks.submit"
	// PermMembersManage: add and remove members, decide join requests.
	PermMembersManage Permission = "members.manage"
	// PermGroupsManage: create, change, archive and delete groups.
	PermGroupsManage Permission = "groups.manage"
	// PermRolesAssign: give and take roles.
	PermRolesAssign Permission = "roles.assign"
	// PermAuditRead: read a group's audit trail.
	PermAuditRead Permission = "audit.read"
	// PermGroupsSuspend: suspend a group or one of its organizers.
	PermGroupsSuspend Permission = "groups.suspend"
	// PermAnnouncementsSend: mail an announcement to a group's members.
	PermAnnouncementsSend Permission = "announcements.send"
)
