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
	// PermFeedbackTriage: see, tag, answer and set the status of the
	// product feedback members send to the vendor. A role that grants it
	// may name products (Role.Products): then it covers feedback on those
	// products only, wherever the role is held; without products it
	// covers every product.
	PermFeedbackTriage Permission = "feedback.triage"
	// PermApplicationsReview: review applications to found a group under
	// this one (ask questions, approve, decline).
	PermApplicationsReview Permission = "applications.review"
	// PermStatsRead: see how this group (and, for a role that flows down,
	// the groups below it) is doing: members over time, meetings, RSVPs
	// and check-ins, feedback scores, charter ratio.
	PermStatsRead Permission = "stats.read"
)
