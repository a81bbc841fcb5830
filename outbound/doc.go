// Package outbound keeps the groups' tools in step with Roster: it pushes
// users and user groups to SCIM 2.0 service providers (RFC 7644) and posts
// signed events to webhook receivers (the Standard Webhooks convention),
// both driven by the store's audit log, which is its change feed.
//
// Delivery is at least once and in order: each target has one worker that
// reads the audit log after its cursor, delivers what the entries imply,
// and moves the cursor only past what the target acknowledged. A failure is
// retried with exponential backoff and full jitter; a target that keeps
// failing is paused (and reported) until resumed. The cursor and the rest
// of a target's state are store records, so a restart loses nothing and
// resends nothing acknowledged and committed.
//
// Webhook targets receive one event per fact (a user, user group, meeting
// or manual membership created, changed or removed; a product feedback
// item or an application to found a group sent or changed) and one per change of
// a user's effective memberships, computed by the policy engine and diffed
// against what the target was last told. SCIM targets are reconciled: the
// users who are effective members of the selected user groups, and those
// groups with their effective members, are compared with what was pushed
// before, and only the differences are sent.
//
// Records (namespace "outbound"):
//
//	target/<target>                 a target created through the API, its secret AES-GCM sealed
//	cursor/<target>                 cursor: audit seq acknowledged, pause, resync and approval flags
//	eff/<target>/<user>             effective memberships ("group/role", sorted) the webhook was told of
//	scim/<target>/u/<user>          the target's id of a pushed user, its last representation and hash
//	scim/<target>/g/<group>         the target's id of a pushed group, its name and members
package outbound
