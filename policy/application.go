package policy

import (
	"slices"
	"strings"
	"time"
)

// ApplicationStatus is where an application to found a group stands.
type ApplicationStatus string

// Application statuses: pending (new, or answered by the founder),
// questions (a reviewer asked something), approved (the group exists),
// declined. Approved and declined are final.
const (
	ApplicationPending   ApplicationStatus = "pending"
	ApplicationQuestions ApplicationStatus = "questions"
	ApplicationApproved  ApplicationStatus = "approved"
	ApplicationDeclined  ApplicationStatus = "declined"
)

// Final reports whether no more change is possible.
func (s ApplicationStatus) Final() bool {
	return s == ApplicationApproved || s == ApplicationDeclined
}

// MaxCoFounders bounds the co-founders an application names.
const MaxCoFounders = 20

// CoFounderAnswer is a named co-founder's answer to being named: nobody
// becomes an organizer of a group they did not agree to found.
type CoFounderAnswer string

// Co-founder answers. A co-founder is pending until they answer, and may
// change their answer until the application is decided.
const (
	CoFounderPending  CoFounderAnswer = "pending"
	CoFounderAccepted CoFounderAnswer = "accepted"
	CoFounderDeclined CoFounderAnswer = "declined"
)

// Founder names one founder: a user of a tenant (from any company). Answer
// and Answered are a co-founder's (the applicant's own consent is the
// application).
type Founder struct {
	Tenant   TenantID        `json:"tenant"`
	User     UserID          `json:"user"`
	UserName string          `json:"userName,omitempty"`
	Answer   CoFounderAnswer `json:"answer,omitempty"`
	Answered time.Time       `json:"answered,omitzero"`
}

// ApplicationMessage is one question or answer on an application.
type ApplicationMessage struct {
	Author   UserID    `json:"author,omitempty"`
	Name     string    `json:"name"`
	Reviewer bool      `json:"reviewer"`
	Text     string    `json:"text"`
	Time     time.Time `json:"time"`
}

// Application asks to found a local group under Parent (a regional
// group), with the applicant and the co-founders as its organizers.
type Application struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
	// Parent is the group the new one will sit under; its reviewers
	// (PermApplicationsReview) decide.
	Parent     GroupID              `json:"parent"`
	Location   Location             `json:"location"`
	Remit      string               `json:"remit"`
	Founder    Founder              `json:"founder"`
	CoFounders []Founder            `json:"coFounders,omitempty"`
	Status     ApplicationStatus    `json:"status"`
	Messages   []ApplicationMessage `json:"messages,omitempty"`
	// Reason is the reviewer's word with a decision.
	Reason string `json:"reason,omitempty"`
	// Group is the group an approval created.
	Group   GroupID   `json:"group,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Version uint64    `json:"version"`
}

// ValidateApplication checks an application: a name, a slug of lower-case
// letters, digits and dashes, a city and a country, a remit, a parent, a
// founder, at most MaxCoFounders distinct co-founders other than the
// founder.
func ValidateApplication(a Application) error {
	switch {
	case strings.TrimSpace(a.Name) == "":
		return invalid("name", "the group needs a name")
	case !slugRE.MatchString(a.Slug):
		return invalid("slug", "%q must be 1 to 63 lower-case letters, digits and dashes", a.Slug)
	case strings.TrimSpace(a.Location.City) == "":
		return invalid("city", "say where the group will meet")
	case a.Location.Country == "":
		return invalid("country", "say in which country (a two-letter code such as GB)")
	case strings.TrimSpace(a.Remit) == "":
		return invalid("remit", "say what the group is for")
	case a.Parent == "":
		return invalid("parent", "say which region the group belongs to")
	case a.Founder.User == "":
		return invalid("founder", "an application needs its founder")
	case len(a.CoFounders) > MaxCoFounders:
		return invalid("coFounders", "at most %d co-founders", MaxCoFounders)
	}
	if err := ValidateLocation(a.Location); err != nil {
		return err
	}
	if a.Founder.Answer != "" {
		return invalid("founder", "only a co-founder answers")
	}
	seen := []UserID{a.Founder.User}
	for _, c := range a.CoFounders {
		if slices.Contains(seen, c.User) {
			return invalid("coFounders", "%s is named twice", c.UserName)
		}
		if !slices.Contains([]CoFounderAnswer{CoFounderPending, CoFounderAccepted, CoFounderDeclined}, c.Answer) {
			return invalid("answer", "%q is not one of pending, accepted, declined", c.Answer)
		}
		seen = append(seen, c.User)
	}
	if err := checkLens(MaxNameBytes, "name", a.Name, "slug", a.Slug, "reason", a.Reason); err != nil {
		return err
	}
	return checkLen("remit", a.Remit, MaxTextBytes)
}

// NearbyGroup is an existing group near a proposed one.
type NearbyGroup struct {
	Group GroupID `json:"group"`
	Slug  string  `json:"slug"`
	Name  string  `json:"name"`
	City  string  `json:"city,omitempty"`
	Km    float64 `json:"km"`
}

// NearbyGroups returns the live (not archived) groups that have
// coordinates within radiusKm of at, nearest first, measured by dist (a
// great-circle distance in kilometres).
func NearbyGroups(groups []Group, at Coordinates, radiusKm float64, dist func(a, b Coordinates) float64) []NearbyGroup {
	var out []NearbyGroup
	for _, g := range groups {
		if g.Archived || g.Location == nil || g.Location.Coordinates == nil {
			continue
		}
		if d := dist(at, *g.Location.Coordinates); d <= radiusKm {
			out = append(out, NearbyGroup{Group: g.ID, Slug: g.Slug, Name: g.Name, City: g.Location.City, Km: d})
		}
	}
	slices.SortStableFunc(out, func(a, b NearbyGroup) int {
		switch {
		case a.Km < b.Km:
			return -1
		case a.Km > b.Km:
			return 1
		}
		return strings.Compare(a.Slug, b.Slug)
	})
	return out
}

// Founders returns the founder and the co-founders.
func (a Application) Founders() []Founder {
	return append([]Founder{a.Founder}, a.CoFounders...)
}

// Organizers returns the founders an approval makes organizers: the
// applicant and the co-founders who accepted, never one who did not.
func (a Application) Organizers() []Founder {
	out := []Founder{a.Founder}
	for _, c := range a.CoFounders {
		if c.Answer == CoFounderAccepted {
			out = append(out, c)
		}
	}
	return out
}

// CoFounder returns the index in CoFounders of u, or -1.
func (a Application) CoFounder(u UserID) int {
	return slices.IndexFunc(a.CoFounders, func(f Founder) bool { return f.User == u })
}

// HasFounder reports whether u is one of the application's founders.
func (a Application) HasFounder(u UserID) bool {
	return slices.ContainsFunc(a.Founders(), func(f Founder) bool { return f.User == u })
}
