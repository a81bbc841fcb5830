// Package mail reaches the members of user groups by e-mail: announcements
// written by organizers (Markdown), notices when a meeting is created,
// moved or cancelled (with an iCalendar invitation, RFC 5546), a reminder
// the day before to those who RSVP'd going, and a weekly digest of
// upcoming meetings. It sends through an SMTP submission server (see
// SMTP) and keeps its outbox in the store, so a restart loses nothing.
//
// Recipients are the group's effective members as the policy engine knows
// them, read twice: when a job is expanded into one delivery per member,
// and again just before each delivery, so a member deactivated by the
// directory (or who left the group) in between gets nothing.
//
// Delivery is at least once: a delivery is marked sent only after the
// SMTP server accepted it; a temporary failure (4xx, a dropped
// connection) is retried with exponential backoff; a permanent one (5xx)
// or too many attempts is recorded as failed. Each delivery has a stable
// Message-ID derived from its key, the idempotency key of the outbox.
//
// Every message carries List-Id (RFC 2919), List-Unsubscribe with
// List-Unsubscribe-Post (RFC 8058 one-click) and a link to the member's
// preferences for the group (every message, a weekly digest, or nothing;
// or no mail at all). The links hold a signed, expiring token, so they
// work without signing in; Handler serves them.
//
// Records (namespace "mail"):
//
//	secret                 HMAC key of the unsubscribe tokens (32 random bytes)
//	cursor                 audit seq up to which meeting changes were turned into notices
//	digest                 the week (Monday's date) whose digest was queued
//	remind                 the time up to which RSVP reminders were queued
//	job/<job>              a job: an announcement, a meeting notice or a digest
//	pending/<job>          a job not yet expanded into deliveries
//	q/<job>/<user>         a delivery waiting (or waiting again) to be sent
//	m/<job>/<user>         a delivery done: sent, failed or dropped, with why
//	pref/<user>            the user's mail preferences
//
// Job ids begin with their creation time, so jobs are expanded and
// delivered oldest first.
package mail
