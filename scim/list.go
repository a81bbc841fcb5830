package scim

// This file holds listing and searching: query parameters, GET and POST /.search (RFC 7644 §3.4.2–3.4.3), the index fast path for equality filters.

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// listParams are the query parameters of RFC 7644 §3.4.2.
type listParams struct {
	filter     string
	startIndex int
	count      int // -1: not given
	attrs      []string
	excluded   []string
	sortBy     string
	sortOrder  string
}

func listParamsFromQuery(q url.Values) (listParams, error) {
	p := listParams{filter: strings.TrimSpace(q.Get("filter")), startIndex: 1, count: -1}
	for _, k := range []string{"startIndex", "count"} {
		v := strings.TrimSpace(q.Get(k))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: n is clamped
			return p, errorf(scimerr.ScimErrorInvalidValue, "%s must be an integer", k)
		}
		if k == "count" {
			p.count = max(n, 0)
		} else {
			p.startIndex = n
		}
	}
	p.attrs = splitList(q.Get("attributes"))
	p.excluded = splitList(q.Get("excludedAttributes"))
	p.sortBy, p.sortOrder = strings.TrimSpace(q.Get("sortBy")), strings.TrimSpace(q.Get("sortOrder"))
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// search serves POST /{Users,Groups}/.search (RFC 7644 §3.4.3). The
// body must name the SearchRequest schema (400 invalidSyntax otherwise).
func (h *resourceHandler) search(r request) (response, error) {
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	if !listsSchema(body, searchRequestSchema) {
		return response{}, errorf(scimerr.ScimErrorInvalidSyntax, "schemas must name %s", searchRequestSchema)
	}
	p := listParams{startIndex: 1, count: -1}
	var ok bool
	if v := getKey(body, "filter"); v != nil {
		if p.filter, ok = v.(string); !ok {
			return response{}, errorf(scimerr.ScimErrorInvalidValue, "filter must be a string")
		}
	}
	for _, k := range []string{"startIndex", "count"} {
		v := getKey(body, k)
		if v == nil {
			continue
		}
		f, ok := toFloat(v)
		if !ok {
			return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must be an integer", k)
		}
		f = min(max(f, math.MinInt32), math.MaxInt32) // int(f) of a huge f is undefined
		if k == "count" {
			p.count = max(int(f), 0)
		} else {
			p.startIndex = int(f)
		}
	}
	for k, dst := range map[string]*string{"sortBy": &p.sortBy, "sortOrder": &p.sortOrder} {
		if v := getKey(body, k); v != nil {
			if *dst, ok = v.(string); !ok {
				return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must be a string", k)
			}
		}
	}
	for k, dst := range map[string]*[]string{"attributes": &p.attrs, "excludedAttributes": &p.excluded} {
		for _, a := range asList(getKey(body, k)) {
			s, ok := a.(string)
			if !ok {
				return response{}, errorf(scimerr.ScimErrorInvalidValue, "%s must hold strings", k)
			}
			*dst = append(*dst, splitList(s)...)
		}
	}
	return h.list(r, p)
}

// list serves GET /Users and GET /Groups: filter, pagination by id order
// and attribute projection. Equality on userName, externalId, id and
// emails.value (and on a group's displayName) is answered from the store's
// indexes; any other filter streams the tenant's records through the
// evaluator, under admission control (see plan).
func (h *resourceHandler) list(r request, p listParams) (response, error) {
	var f expr
	if p.filter != "" {
		var err error
		if f, err = parseFilter(p.filter); err != nil {
			return response{}, errorf(scimerr.ScimErrorInvalidFilter, "%v", err)
		}
		if err := h.rs.checkFilter(f, nil); err != nil {
			return response{}, err
		}
	}
	if err := validateAttrList(append(p.attrs, p.excluded...)); err != nil {
		return response{}, err
	}
	sorter, err := h.rs.parseSort(p.sortBy, p.sortOrder)
	if err != nil {
		return response{}, err
	}
	count := p.count
	if count < 0 {
		count = min(defaultCount, h.s.maxResults)
	}
	count = min(count, h.s.maxResults)
	start := max(p.startIndex, 1)
	if sorter != nil {
		return h.sortedList(r, p, f, sorter, start, count)
	}
	core := h.core()
	plan := h.plan(r.tenant, f, start, count)
	if plan.expensive {
		release, err := h.s.admit(r)
		if err != nil {
			return response{}, err
		}
		defer release()
	}

	var total int
	var page []any
	var last string // id of the last record of the page
	add := func(res map[string]any) {
		total++
		if total >= start && len(page) < count {
			page = append(page, h.rs.shape(res, p.attrs, p.excluded))
			last, _ = res["id"].(string)
		}
	}
	err = h.s.st.View(r.Context(), func(tx store.Tx) error {
		total, page = 0, nil
		if plan.indexed {
			cands, ok, err := h.indexLookup(tx, r.tenant, f)
			if err != nil {
				return err
			}
			if ok { // otherwise the store lost the index: scan
				for _, res := range cands {
					if matches(f, res, core) {
						add(res)
					}
				}
				return nil
			}
		}
		if h.kind == userKind && f == nil {
			n, err := tx.CountUsers(r.tenant)
			if err != nil {
				return err
			}
			total = n
			if count == 0 {
				return nil
			}
			if plan.after != "" || start == 1 {
				us, err := tx.Users(r.tenant, store.Page{After: plan.after, Limit: count})
				for _, u := range us {
					page = append(page, h.rs.shape(h.userRes(r.tenant, u), p.attrs, p.excluded))
					last = string(u.ID)
				}
				return err
			}
			i := 0
			return tx.ForEachUser(r.tenant, func(u policy.User) error {
				i++
				if i < start {
					return nil
				}
				if len(page) >= count {
					return errStop
				}
				page = append(page, h.rs.shape(h.userRes(r.tenant, u), p.attrs, p.excluded))
				last = string(u.ID)
				return nil
			})
		}
		return h.rt.each(tx, r.tenant, func(res map[string]any) error {
			if f == nil || matches(f, res, core) {
				add(res)
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if isNotFound(err) {
		// The tenant has no data yet.
		err, total, page = nil, 0, nil
	}
	if err != nil {
		return response{}, err
	}
	if f == nil && h.kind == userKind && last != "" && len(page) == count {
		// The next sequential page resumes here.
		h.s.cursors.put(cursorKey{r.tenant, h.kind, start + len(page)}, last)
	}
	if page == nil {
		page = []any{}
	}
	return response{status: http.StatusOK, body: listResponse(total, start, page)}, nil
}

func listResponse(total, start int, resources []any) map[string]any {
	return map[string]any{
		"schemas":      []any{listResponseSchema},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
}

// indexLookup answers a filter whose top-level and-chain holds an equality
// on an indexed attribute from the store's index. ok is false when the
// filter has no such clause; the candidates must still be run through the
// whole filter.
func (h *resourceHandler) indexLookup(tx store.Tx, t policy.TenantID, f expr) (cands []map[string]any, ok bool, err error) {
	attr, val, ok := indexedEquality(f, h.kind, h.core())
	if !ok {
		return nil, false, nil
	}
	return h.rt.byIndex(tx, t, attr, val)
}

// indexedEquality finds, in the and-chain at the top of f, a clause
// "attr eq "string"" on an indexed attribute.
func indexedEquality(f expr, kind resourceKind, core string) (attr, val string, ok bool) {
	switch e := f.(type) {
	case *logicalExpr:
		if e.Op != "and" {
			return "", "", false
		}
		if attr, val, ok = indexedEquality(e.L, kind, core); ok {
			return attr, val, ok
		}
		return indexedEquality(e.R, kind, core)
	case *valuePathExpr:
		// emails[type eq "work" and value eq "…"], which is also what
		// emails[type eq "work"].value eq "…" parses to.
		if kind != userKind || e.Path.Sub != "" || !strings.EqualFold(e.Path.Attr, "emails") || (e.Path.URI != "" && !strings.EqualFold(e.Path.URI, core)) {
			return "", "", false
		}
		if v, ok := emailEquality(e.Filter); ok {
			return "emails.value", v, true
		}
		return "", "", false
	case *compareExpr:
		s, isStr := e.Value.(string)
		if e.Op != "eq" || !isStr || (e.Path.URI != "" && !strings.EqualFold(e.Path.URI, core)) {
			return "", "", false
		}
		if e.Path.Sub != "" {
			if kind == userKind && strings.EqualFold(e.Path.Attr, "emails") && strings.EqualFold(e.Path.Sub, "value") {
				return "emails.value", s, true
			}
			return "", "", false
		}
		a := strings.ToLower(e.Path.Attr)
		switch {
		case a == "id" || a == "externalid":
		case a == "username" && kind == userKind:
		case a == "displayname" && kind == groupKind:
		default:
			return "", "", false
		}
		return a, s, true
	}
	return "", "", false
}
