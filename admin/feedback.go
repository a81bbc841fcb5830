package admin

// Product feedback between meetings, to the vendor (policy.Feedback), kept
// as records (namespace "feedback", key: the item's id, a UUIDv7, so keys
// sort by time).
//
//	POST  /api/v1/feedback          a member sends an item
//	GET   /api/v1/feedback          ?product= &status= &group= &mine=true
//	GET   /api/v1/feedback/{id}
//	GET   /api/v1/feedback/options  products, categories, statuses, what the caller triages
//	PATCH /api/v1/feedback/{id}     the product team: status, tags, answer;
//	                                the author: showIdentity
//
// Who sees an item: its author, and whoever may triage its product (a role
// granting feedback.triage, narrowed to the role's products when it names
// some); admin tokens see all. Anyone else gets 404, as for an item that
// does not exist. The vendor never sees the name and company of a partner
// company's member who has not chosen to show them (policy.RedactFeedback),
// neither in answers nor in the audit log and its outbound events
// ("feedback/<id>"): those entries carry the item as the vendor sees it,
// no tenant, and anonymousActor as the actor of the author's own writes.
// The author of an item sent from a group is told of a new status or
// answer by mail.

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// nsFeedback is the record namespace of product feedback.
const nsFeedback = "feedback"

func (s *Server) feedbackRoutes() {
	s.handle("POST /api/v1/feedback", s.sendFeedback)
	s.handle("GET /api/v1/feedback", s.listProductFeedback)
	s.handle("GET /api/v1/feedback/options", s.feedbackOptions)
	s.handle("GET /api/v1/feedback/{id}", s.getProductFeedback)
	s.handle("PATCH /api/v1/feedback/{id}", s.patchProductFeedback)
}

var errNoFeedback = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such feedback"}

// triageScope returns the products p may triage.
func (s *Server) triageScope(tx store.Tx, p principal) (policy.ProductScope, error) {
	if p.admin {
		return policy.ProductScope{All: true}, nil
	}
	var roles []policy.Role
	seen := map[policy.RoleName]bool{}
	for _, m := range s.cfg.Engine.EffectiveGroups(p.user) {
		if seen[m.Role] {
			continue
		}
		seen[m.Role] = true
		ro, err := tx.Role(m.Role)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return policy.ProductScope{}, err
		}
		roles = append(roles, ro)
	}
	return policy.TriageScope(roles), nil
}

// feedbackViewer is what decides how a caller sees items.
type feedbackViewer struct {
	p     principal
	scope policy.ProductScope
}

func (v feedbackViewer) author(f policy.Feedback) bool {
	return !v.p.admin && f.Author == v.p.user && f.Tenant == v.p.tenant
}

func (v feedbackViewer) sees(f policy.Feedback) bool {
	return v.author(f) || v.scope.Covers(f.Product)
}

// view returns f as the caller sees it: the author sees it all; the vendor
// sees the author only with their consent or when they are the vendor's.
func (v feedbackViewer) view(tx store.Tx, f policy.Feedback) policy.Feedback {
	kind := policy.TenantPartner // an unknown tenant redacts
	if t, err := tx.Tenant(f.Tenant); err == nil {
		f.Company, kind = t.Name, t.Kind
	}
	if u, err := tx.User(f.Tenant, f.Author); err == nil {
		f.AuthorName = u.DisplayName
		if f.AuthorName == "" {
			f.AuthorName = u.UserName
		}
	}
	if v.author(f) {
		return f
	}
	return policy.RedactFeedback(f, kind)
}

func productFeedbackRecord(tx store.Tx, id string) (policy.Feedback, error) {
	var f policy.Feedback
	b, err := tx.GetRecord(nsFeedback, id)
	if errors.Is(err, store.ErrNotFound) {
		return f, errNoFeedback
	}
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(b, &f)
}

// storeProductFeedback stores f and records it for the audit log and the
// outbound events as the vendor may see it: under the author's tenant only
// when the vendor may know it.
func storeProductFeedback(tx store.Tx, f policy.Feedback, op policy.Op) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := tx.PutRecord(nsFeedback, f.ID, b); err != nil {
		return err
	}
	vendorView := feedbackViewer{scope: policy.ProductScope{All: true}}.view(tx, f)
	return tx.Record(vendorView.Tenant, op, "feedback/"+f.ID, vendorView)
}

// anonymousActor is the audit actor of the writes an author makes to an
// item the vendor may not attribute (policy.RedactFeedback): the actor of
// an audit entry is shown to the operator, who answers for the vendor.
const anonymousActor = "feedback:anonymous"

// feedbackActor returns the audit actor of p's write that leaves item f
// as given: p, unless p is its author and the vendor may not name them.
func feedbackActor(tx store.Tx, p principal, f policy.Feedback) string {
	if !(feedbackViewer{p: p}).author(f) {
		return p.actor()
	}
	if (feedbackViewer{scope: policy.ProductScope{All: true}}).view(tx, f).Author == "" {
		return anonymousActor
	}
	return p.actor()
}

// errFeedbackMoved answers a write whose audit actor, chosen before the
// write, no longer fits the item (its author's tenant changed kind, or
// their choice to show who they are changed, meanwhile).
var errFeedbackMoved = &Error{Status: http.StatusConflict, Code: "conflict", Message: "the item changed meanwhile: read it again"}

// feedbackInput is the body of POST and PATCH /api/v1/feedback.
type feedbackInput struct {
	Product      *string   `json:"product"`
	Category     *string   `json:"category"`
	Title        *string   `json:"title"`
	Body         *string   `json:"body"`
	Group        *string   `json:"group"`
	ShowIdentity *bool     `json:"showIdentity"`
	Status       *string   `json:"status"`
	Tags         *[]string `json:"tags"`
	Answer       *string   `json:"answer"`
	Version      uint64    `json:"version"`
}

// sendFeedback answers POST /api/v1/feedback: a member (not an admin
// token) sends an item; it starts as received.
func (s *Server) sendFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	var in feedbackInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Status != nil || in.Tags != nil || in.Answer != nil {
		writeErr(w, badRequest("status, tags and answer are the product team's: send product, category, title, body, group and showIdentity"))
		return
	}
	now := s.cfg.Now().UTC()
	f := policy.Feedback{
		ID: uuid.Must(uuid.NewV7()).String(), Product: strings.Join(policy.NormalizeTags([]string{deref(in.Product)}), ""),
		Category: policy.FeedbackCategory(strings.TrimSpace(deref(in.Category))), Title: strings.TrimSpace(deref(in.Title)),
		Body: strings.TrimSpace(deref(in.Body)), Author: p.user, Tenant: p.tenant, Status: policy.FeedbackReceived,
		ShowIdentity: in.ShowIdentity != nil && *in.ShowIdentity, Created: now, Updated: now, Version: 1,
	}
	if err := policy.ValidateFeedback(f, s.cfg.Products); err != nil {
		writeErr(w, err)
		return
	}
	var actor string
	if err := s.view(r, func(tx store.Tx) error { actor = feedbackActor(tx, p, f); return nil }); err != nil {
		writeErr(w, err)
		return
	}
	writeAs(s, w, r, actor, http.StatusCreated, func(tx store.Tx) (policy.Feedback, error) {
		f := f
		if feedbackActor(tx, p, f) != actor {
			return f, errFeedbackMoved
		}
		if ref := deref(in.Group); ref != "" {
			g, err := lookupGroup(tx, ref)
			if err != nil || !s.can(p, policy.PermGroupRead, g.ID) {
				return f, &policy.FieldError{Field: "group", Message: "you are not a member of that group"}
			}
			f.Group = g.ID
		}
		if err := storeProductFeedback(tx, f, policy.OpCreate); err != nil {
			return f, err
		}
		return feedbackViewer{p: p}.view(tx, f), nil
	})
}

// listProductFeedback answers GET /api/v1/feedback: the items the caller may see,
// newest first, filtered by ?product=, ?status=, ?group= (id, or slug of a
// group the caller may see); ?mine=true keeps the caller's own. Filters
// match the items as the caller sees them, so ?group= never selects an
// item whose group is redacted (policy.RedactFeedback).
func (s *Server) listProductFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	filter := policy.FeedbackFilter{Product: q.Get("product"), Status: policy.FeedbackStatus(q.Get("status"))}
	if filter.Status != "" && !slices.Contains(policy.FeedbackStatuses, filter.Status) {
		writeErr(w, &policy.FieldError{Field: "status", Message: "not one of received, under-consideration, planned, answered"})
		return
	}
	mine := q.Get("mine") == "true"
	read(s, w, r, func(tx store.Tx) (list[policy.Feedback], error) {
		out := list[policy.Feedback]{Items: []policy.Feedback{}}
		if ref := q.Get("group"); ref != "" {
			g, err := lookupGroup(tx, ref)
			// A group p may not see is named by the id items show,
			// never found by its slug: no answer tells that it exists.
			if err != nil || !s.readable(p, g) && ref != string(g.ID) {
				return out, nil // no such group, as far as p knows: nothing from it
			}
			filter.Group = g.ID
		}
		scope, err := s.triageScope(tx, p)
		if err != nil {
			return out, err
		}
		v := feedbackViewer{p: p, scope: scope}
		if mine {
			v.scope = policy.ProductScope{}
		}
		err = tx.ScanRecords(nsFeedback, "", func(_ string, b []byte) error {
			var f policy.Feedback
			if err := json.Unmarshal(b, &f); err != nil {
				return err
			}
			if !v.sees(f) || !filter.Match(f) {
				return nil
			}
			// The filter applies to the item as p sees it: a group
			// that the view hides may not select it.
			if seen := v.view(tx, f); filter.Match(seen) {
				out.Items = append(out.Items, seen)
			}
			return nil
		})
		slices.SortStableFunc(out.Items, func(a, b policy.Feedback) int { return b.Created.Compare(a.Created) })
		return out, err
	})
}

// getProductFeedback answers GET /api/v1/feedback/{id}.
func (s *Server) getProductFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.Feedback, error) {
		f, v, err := s.seenFeedback(tx, p, r.PathValue("id"))
		if err != nil {
			return f, err
		}
		return v.view(tx, f), nil
	})
}

// seenFeedback reads item id and the viewer p is of it; an item p may not
// see is errNoFeedback.
func (s *Server) seenFeedback(tx store.Tx, p principal, id string) (policy.Feedback, feedbackViewer, error) {
	f, err := productFeedbackRecord(tx, id)
	if err != nil {
		return f, feedbackViewer{}, err
	}
	scope, err := s.triageScope(tx, p)
	if err != nil {
		return f, feedbackViewer{}, err
	}
	v := feedbackViewer{p: p, scope: scope}
	if !v.sees(f) {
		return policy.Feedback{}, v, errNoFeedback
	}
	return f, v, nil
}

// patchProductFeedback answers PATCH /api/v1/feedback/{id}: the product team
// sets status, tags and answer (an answer without a status sets it to
// answered); the author may change showIdentity. Both may send the
// version they read (412 when it moved on).
func (s *Server) patchProductFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	var in feedbackInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Product != nil || in.Category != nil || in.Title != nil || in.Body != nil || in.Group != nil {
		writeErr(w, badRequest("product, category, title, body and group cannot change: send a new item"))
		return
	}
	// The audit actor: the author's write to an item that stays
	// anonymous is anonymous.
	actor := p.actor()
	err := s.view(r, func(tx store.Tx) error {
		f, err := productFeedbackRecord(tx, r.PathValue("id"))
		if err != nil {
			return nil // answered inside the write
		}
		if in.ShowIdentity != nil {
			f.ShowIdentity = *in.ShowIdentity
		}
		actor = feedbackActor(tx, p, f)
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeAs(s, w, r, actor, http.StatusOK, func(tx store.Tx) (policy.Feedback, error) {
		f, v, err := s.seenFeedback(tx, p, r.PathValue("id"))
		if err != nil {
			return f, err
		}
		triage := v.scope.Covers(f.Product)
		switch {
		case !triage && (in.Status != nil || in.Tags != nil || in.Answer != nil):
			return policy.Feedback{}, errForbidden
		case in.ShowIdentity != nil && !v.author(f):
			return policy.Feedback{}, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "only the author chooses whether the vendor sees their name", Field: "showIdentity"}
		case in.Version != 0 && in.Version != f.Version:
			return policy.Feedback{}, store.ErrVersion
		}
		if in.Status != nil {
			f.Status = policy.FeedbackStatus(strings.TrimSpace(*in.Status))
		}
		if in.Tags != nil {
			f.Tags = policy.NormalizeTags(*in.Tags)
		}
		if in.Answer != nil {
			f.Answer = strings.TrimSpace(*in.Answer)
			f.AnsweredBy, f.Answered = s.displayName(tx, p), s.cfg.Now().UTC()
			if in.Status == nil && f.Answer != "" {
				f.Status = policy.FeedbackAnswered
			}
		}
		if in.ShowIdentity != nil {
			f.ShowIdentity = *in.ShowIdentity
		}
		if err := policy.ValidateFeedback(f, s.cfg.Products); err != nil {
			return policy.Feedback{}, err
		}
		if feedbackActor(tx, p, f) != actor {
			return policy.Feedback{}, errFeedbackMoved
		}
		f.Updated = s.cfg.Now().UTC()
		f.Version++
		if err := storeProductFeedback(tx, f, policy.OpUpdate); err != nil {
			return f, err
		}
		if triage && (in.Status != nil || in.Answer != nil) {
			if err := s.tellAuthor(tx, p, f); err != nil {
				return f, err
			}
		}
		return v.view(tx, f), nil
	})
}

// tellAuthor queues a mail to the author of f about its status and
// answer, through the group it was sent from (an item sent from no group
// is seen on the portal only).
func (s *Server) tellAuthor(tx store.Tx, p principal, f policy.Feedback) error {
	if f.Group == "" {
		return nil
	}
	g, err := tx.Group(f.Group)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	body := "Your feedback on " + f.Product + " is now " + string(f.Status) + "."
	if f.Answer != "" {
		body += "\n\n" + f.AnsweredBy + " answered:\n\n" + f.Answer
	}
	_, err = mail.QueueDirect(tx, mail.Direct{Group: g, Users: []policy.UserID{f.Author}, Subject: mail.Subject("Your feedback: " + f.Title),
		Body: body, Author: p.actor(), AuthorName: s.displayName(tx, p)}, s.cfg.Now())
	return err
}

// displayName names the caller for those they answer: a person's display
// name (or userName), or the admin token's name.
func (s *Server) displayName(tx store.Tx, p principal) string {
	if p.admin {
		return p.name
	}
	if u, err := tx.User(p.tenant, p.user); err == nil {
		if u.DisplayName != "" {
			return u.DisplayName
		}
		return u.UserName
	}
	return string(p.user)
}

// PutFeedback writes f as sent (audited, and so an outbound event), for
// seeding a store (the demo). f must be valid for products.
func PutFeedback(tx store.Tx, f policy.Feedback, products []string) error {
	if err := policy.ValidateFeedback(f, products); err != nil {
		return err
	}
	return storeProductFeedback(tx, f, policy.OpCreate)
}

// feedbackOptions answers GET /api/v1/feedback/options: what a form
// offers, and the products the caller may triage.
func (s *Server) feedbackOptions(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (map[string]any, error) {
		scope, err := s.triageScope(tx, p)
		triage := nonNil(scope.Products)
		if scope.All {
			triage = nonNil(slices.Clone(s.cfg.Products))
		}
		return map[string]any{"products": nonNil(s.cfg.Products), "categories": policy.FeedbackCategories,
			"statuses": policy.FeedbackStatuses, "triage": triage}, err
	})
}
