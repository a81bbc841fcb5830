package policy

import (
	"slices"
	"strings"
	"time"
)

// FeedbackCategory is what kind of product feedback a member sends.
type FeedbackCategory string

// Feedback categories.
const (
	FeedbackIdea     FeedbackCategory = "idea"
	FeedbackProblem  FeedbackCategory = "problem"
	FeedbackQuestion FeedbackCategory = "question"
	FeedbackPraise   FeedbackCategory = "praise"
)

// FeedbackCategories lists the categories in the order forms show them.
var FeedbackCategories = []FeedbackCategory{FeedbackIdea, FeedbackProblem, FeedbackQuestion, FeedbackPraise}

// FeedbackStatus is where the vendor's product team is with an item.
type FeedbackStatus string

// Feedback statuses. An item starts as received.
const (
	FeedbackReceived    FeedbackStatus = "received"
	FeedbackConsidering FeedbackStatus = "under-consideration"
	FeedbackPlanned     FeedbackStatus = "planned"
	FeedbackAnswered    FeedbackStatus = "answered"
)

// Bounds of a feedback item.
const (
	maxFeedbackTags       = 20
	maxFeedbackTitleBytes = 200
)

// FeedbackStatuses lists the statuses in their usual order.
var FeedbackStatuses = []FeedbackStatus{FeedbackReceived, FeedbackConsidering, FeedbackPlanned, FeedbackAnswered}

// Feedback is one piece of product feedback a member sends to the vendor
// between meetings. The author is kept so they can follow it; whether the
// vendor sees their name and company is the author's choice when they
// belong to a partner company (ShowIdentity), see RedactFeedback.
type Feedback struct {
	ID       string           `json:"id"`
	Product  string           `json:"product"`
	Category FeedbackCategory `json:"category"`
	Title    string           `json:"title"`
	Body     string           `json:"body"`
	// Group is the user group the member sent it from, if any.
	Group GroupID `json:"group,omitempty"`
	// Author and Tenant: who sent it. Empty in a redacted view.
	Author UserID   `json:"author,omitempty"`
	Tenant TenantID `json:"tenant,omitempty"`
	// AuthorName and Company are filled for views, never stored.
	AuthorName string `json:"authorName,omitempty"`
	Company    string `json:"company,omitempty"`
	// ShowIdentity: the author lets the vendor see their name and company.
	ShowIdentity bool           `json:"showIdentity"`
	Status       FeedbackStatus `json:"status"`
	Tags         []string       `json:"tags,omitempty"`
	// Answer is the product team's reply, AnsweredBy who gave it (a
	// display name), Answered when.
	Answer     string    `json:"answer,omitempty"`
	AnsweredBy string    `json:"answeredBy,omitempty"`
	Answered   time.Time `json:"answered,omitzero"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Version    uint64    `json:"version"`
}

// ValidateFeedback checks an item: a configured product, a known category
// and status, a title and a body within bounds, tags within bounds.
func ValidateFeedback(f Feedback, products []string) error {
	if !slices.Contains(products, f.Product) {
		return invalid("product", "%q is not one of the products %v", f.Product, products)
	}
	if !slices.Contains(FeedbackCategories, f.Category) {
		return invalid("category", "%q is not one of %v", f.Category, FeedbackCategories)
	}
	if !slices.Contains(FeedbackStatuses, f.Status) {
		return invalid("status", "%q is not one of %v", f.Status, FeedbackStatuses)
	}
	if strings.TrimSpace(f.Title) == "" {
		return invalid("title", "a title is required")
	}
	if strings.TrimSpace(f.Body) == "" {
		return invalid("body", "say what you think")
	}
	if err := checkLen("title", f.Title, maxFeedbackTitleBytes); err != nil {
		return err
	}
	if err := checkLens(MaxTextBytes, "body", f.Body, "answer", f.Answer); err != nil {
		return err
	}
	if len(f.Tags) > maxFeedbackTags {
		return invalid("tags", "at most %d tags", maxFeedbackTags)
	}
	for _, t := range f.Tags {
		if err := checkLen("tags", t, MaxTagBytes); err != nil {
			return err
		}
	}
	return nil
}

// ProductScope is the set of products someone may triage: All, or the
// listed ones.
type ProductScope struct {
	All      bool
	Products []string
}

// Covers reports whether the scope includes product.
func (s ProductScope) Covers(product string) bool {
	return s.All || slices.Contains(s.Products, product)
}

// Empty reports whether the scope covers nothing.
func (s ProductScope) Empty() bool { return !s.All && len(s.Products) == 0 }

// TriageScope returns the products the holder of roles may triage
// feedback on: every product if one of the roles grants
// PermFeedbackTriage without naming products, else the union of the
// products the granting roles name.
func TriageScope(roles []Role) ProductScope {
	var s ProductScope
	for _, r := range roles {
		if !slices.Contains(r.Permissions, PermFeedbackTriage) {
			continue
		}
		if len(r.Products) == 0 {
			return ProductScope{All: true}
		}
		for _, p := range r.Products {
			if !slices.Contains(s.Products, p) {
				s.Products = append(s.Products, p)
			}
		}
	}
	slices.Sort(s.Products)
	return s
}

// RedactFeedback returns f as the vendor may see it: without the author,
// their tenant, name and company, and without the group they sent it from
// (a small group, or a company's own, names its members as well), when
// the author belongs to a partner company and has not chosen to show
// them.
func RedactFeedback(f Feedback, authorKind TenantKind) Feedback {
	if authorKind == TenantVendor || f.ShowIdentity {
		return f
	}
	f.Author, f.Tenant, f.AuthorName, f.Company, f.Group = "", "", "", "", ""
	return f
}

// FeedbackFilter selects feedback items; empty fields select all. Match
// it against an item as the caller sees it (after RedactFeedback), so
// that no filter tells what the view does not show.
type FeedbackFilter struct {
	Product string
	Status  FeedbackStatus
	Group   GroupID
}

// Match reports whether f passes the filter.
func (q FeedbackFilter) Match(f Feedback) bool {
	return (q.Product == "" || f.Product == q.Product) &&
		(q.Status == "" || f.Status == q.Status) &&
		(q.Group == "" || f.Group == q.Group)
}
