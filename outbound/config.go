package outbound

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Defaults of a target's delivery settings.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultRetryInitial = time.Second
	DefaultRetryMax     = 5 * time.Minute
	DefaultPauseAfter   = 20
	DefaultGuardCount   = 10
	DefaultResyncEvery  = 24 * time.Hour
)

// Event categories a webhook target may subscribe to (TargetConfig.Events).
const (
	CategoryUser       = "user"
	CategoryGroup      = "group"
	CategoryMembership = "membership"
	CategoryMeeting    = "meeting"
	// CategoryFeedback: product feedback members send to the vendor
	// (feedback.created, feedback.changed), as the vendor may see it.
	CategoryFeedback = "feedback"
	// CategoryApplication: applications to found a group, each step
	// (application.created, application.changed).
	CategoryApplication = "application"
	// CategoryAnnouncement: announcements organizers send to their
	// members (announcement.created, with subject and Markdown body), so
	// a chat or forum tool can post them too.
	CategoryAnnouncement = "announcement"
)

var categories = []string{CategoryUser, CategoryGroup, CategoryMembership, CategoryMeeting, CategoryFeedback, CategoryApplication, CategoryAnnouncement}

// TargetConfig is one entry of the top-level `outbound:` section: a SCIM
// service provider Roster pushes users and groups to, or a webhook
// receiver Roster posts signed events to. Exactly one of SCIM and Webhook
// is set.
type TargetConfig struct {
	// ID names the target in status, metrics and the CLI; lower-case
	// letters, digits and dashes.
	ID      string         `yaml:"id" json:"id"`
	SCIM    *SCIMTarget    `yaml:"scim" json:"scim,omitempty"`
	Webhook *WebhookTarget `yaml:"webhook" json:"webhook,omitempty"`
	// Groups selects the user groups pushed to a SCIM target: Root and
	// every group below it, with their effective members.
	Groups GroupSelection `yaml:"groups" json:"groups,omitzero"`
	// GroupName is what a pushed group's displayName is: "slug" (the
	// default) or "name".
	GroupName string `yaml:"groupName" json:"groupName,omitempty"`
	// Events are the categories a webhook receives (user, group,
	// membership, meeting, feedback, application); empty: all of them.
	Events []string `yaml:"events" json:"events,omitempty"`
	// InsecureSkipVerify turns TLS certificate verification off. For
	// tests only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify" json:"insecureSkipVerify,omitempty"`
	// AllowLinkLocal lets the target's URL resolve to link-local
	// addresses (169.254.0.0/16, fe80::/10), where cloud metadata
	// services live; refused by default.
	AllowLinkLocal bool `yaml:"allowLinkLocal" json:"allowLinkLocal,omitempty"`
	// Timeout bounds one HTTP request (default 10s).
	Timeout time.Duration `yaml:"timeout" json:"-"`
	// Retry sets the backoff between failed attempts.
	Retry RetryConfig `yaml:"retry" json:"-"`
	// DeletionGuard bounds how many users one SCIM run may deactivate
	// at the target without an approval (default 10 users).
	DeletionGuard GuardConfig `yaml:"deletionGuard" json:"deletionGuard,omitzero"`
	// ResyncEvery is how often a SCIM target is reconciled in full, its
	// users and groups read back (default 24h).
	//
	// Timeout, Retry and ResyncEvery are settings of the configuration
	// file only: a target created through the admin API (JSON) has the
	// defaults.
	ResyncEvery time.Duration `yaml:"resyncEvery" json:"-"`
}

// SCIMTarget is a SCIM 2.0 service provider (RFC 7644) Roster is a client
// of.
type SCIMTarget struct {
	// URL is the base URL, e.g. https://wiki.example.com/scim/v2.
	URL string `yaml:"url" json:"url"`
	// Token is the bearer token Roster presents.
	Token string `yaml:"token" json:"token,omitempty"`
}

// WebhookTarget is a receiver of Standard Webhooks.
type WebhookTarget struct {
	URL string `yaml:"url" json:"url"`
	// Secret keys the HMAC-SHA256 signatures: "whsec_" followed by
	// base64 (the Standard Webhooks form), or any other string, used as
	// it is.
	Secret string `yaml:"secret" json:"secret,omitempty"`
}

// GroupSelection selects user groups by the slug of the root of a subtree.
type GroupSelection struct {
	Root string `yaml:"root" json:"root"`
}

// RetryConfig is exponential backoff with full jitter: the n-th
// consecutive failure waits a random time up to min(Max, Initial·2ⁿ); after
// PauseAfter consecutive failures the target is paused until resumed.
type RetryConfig struct {
	Initial    time.Duration `yaml:"initial"`
	Max        time.Duration `yaml:"max"`
	PauseAfter int           `yaml:"pauseAfter"`
}

// GuardConfig is the outbound deletion guard: a SCIM run that would
// deactivate more than Count users, or more than Share of the users
// pushed, holds the deactivations until approved. Count 0 and Share 0
// together mean the default (Count 10); Count -1 turns the guard off.
type GuardConfig struct {
	Count int     `yaml:"count" json:"count,omitempty"`
	Share float64 `yaml:"share" json:"share,omitempty"`
}

// Kind says what a target is: "scim" or "webhook".
func (c TargetConfig) Kind() string {
	if c.SCIM != nil {
		return "scim"
	}
	return "webhook"
}

// URL returns the target's URL.
func (c TargetConfig) URL() string {
	if c.SCIM != nil {
		return c.SCIM.URL
	}
	if c.Webhook != nil {
		return c.Webhook.URL
	}
	return ""
}

// wants reports whether a webhook target subscribed to category.
func (c TargetConfig) wants(category string) bool {
	return len(c.Events) == 0 || slices.Contains(c.Events, category)
}

func (c *TargetConfig) applyDefaults() {
	if c.GroupName == "" {
		c.GroupName = "slug"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = DefaultRetryInitial
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = DefaultRetryMax
	}
	if c.Retry.PauseAfter == 0 {
		c.Retry.PauseAfter = DefaultPauseAfter
	}
	if c.DeletionGuard.Count == 0 && c.DeletionGuard.Share == 0 {
		c.DeletionGuard.Count = DefaultGuardCount
	}
	if c.ResyncEvery == 0 {
		c.ResyncEvery = DefaultResyncEvery
	}
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// FieldError is a validation error about one field of a target, relative
// to the target (e.g. "scim.url").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "outbound: " + e.Field + ": " + e.Msg }

// Validate applies the defaults and checks c. It does not resolve the URL:
// addresses are checked at each connection (see AllowLinkLocal).
func (c *TargetConfig) Validate() error {
	c.applyDefaults()
	if !idRE.MatchString(c.ID) {
		return &FieldError{"id", fmt.Sprintf("%q must be lower-case letters, digits and dashes", c.ID)}
	}
	switch {
	case (c.SCIM == nil) == (c.Webhook == nil):
		return &FieldError{"scim", "set exactly one of scim and webhook"}
	case c.SCIM != nil:
		if err := checkURL(c.SCIM.URL); err != nil {
			return &FieldError{"scim.url", err.Error()}
		}
		if c.SCIM.Token == "" {
			return &FieldError{"scim.token", "required"}
		}
		if c.Groups.Root == "" {
			return &FieldError{"groups.root", "required: the slug of the user group whose subtree is pushed"}
		}
		if c.GroupName != "slug" && c.GroupName != "name" {
			return &FieldError{"groupName", fmt.Sprintf("%q is not one of slug, name", c.GroupName)}
		}
		if len(c.Events) > 0 {
			return &FieldError{"events", "applies to webhook targets only"}
		}
	default:
		if err := checkURL(c.Webhook.URL); err != nil {
			return &FieldError{"webhook.url", err.Error()}
		}
		if len(c.Webhook.Secret) < 16 {
			return &FieldError{"webhook.secret", "must be at least 16 characters"}
		}
		if _, err := signingKey(c.Webhook.Secret); err != nil {
			return &FieldError{"webhook.secret", err.Error()}
		}
		if c.Groups.Root != "" {
			return &FieldError{"groups", "applies to scim targets only"}
		}
		for i, e := range c.Events {
			if !slices.Contains(categories, e) {
				return &FieldError{fmt.Sprintf("events[%d]", i), fmt.Sprintf("%q is not one of user, group, membership, meeting", e)}
			}
		}
	}
	switch {
	case c.Timeout < 0:
		return &FieldError{"timeout", "must not be negative"}
	case c.Retry.Initial < 0 || c.Retry.Max < c.Retry.Initial:
		return &FieldError{"retry", "initial must be positive and not above max"}
	case c.Retry.PauseAfter < 0:
		return &FieldError{"retry.pauseAfter", "must not be negative"}
	case c.DeletionGuard.Count < -1 || c.DeletionGuard.Share < 0 || c.DeletionGuard.Share > 1:
		return &FieldError{"deletionGuard", "count must be -1 (off) or more, share within [0, 1]"}
	case c.ResyncEvery < 0:
		return &FieldError{"resyncEvery", "must not be negative"}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials")
	}
	return nil
}
