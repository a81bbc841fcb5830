package scim

import (
	"container/heap"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// sortSpec is a parsed sortBy/sortOrder (RFC 7644 §3.4.2.3).
type sortSpec struct {
	path       attrPath
	leaf       *attrDef // the attribute whose values are compared
	multi      bool     // the path's attribute is multi-valued: compare its primary value
	descending bool
	userName   bool // the core userName: ordered by its folded form, as its index is
}

// id names the order a sortSpec defines (for the order cache).
func (s *sortSpec) id() string {
	o := "a"
	if s.descending {
		o = "d"
	}
	return strings.ToLower(s.path.String()) + "|" + o
}

// parseSort checks sortBy against the served schemas and sortOrder. A
// sortOrder other than ascending or descending is invalidValue, as is a
// sortBy that names no simple attribute (a multi-valued complex one sorts
// by the "value" of its primary element).
func (rs *resourceSchema) parseSort(sortBy, sortOrder string) (*sortSpec, error) {
	var desc bool
	switch strings.ToLower(sortOrder) {
	case "", "ascending":
	case "descending":
		desc = true
	default:
		return nil, errorf(scimerr.ScimErrorInvalidValue, "sortOrder must be ascending or descending, not %q", sortOrder)
	}
	if sortBy == "" {
		return nil, nil
	}
	p := &parser{s: sortBy}
	ap, err := p.parseAttrPath()
	if err != nil || !p.eof() {
		return nil, errorf(scimerr.ScimErrorInvalidValue, "bad sortBy %q", sortBy)
	}
	top, sub, _, ok := rs.resolve(ap)
	if !ok || top == nil {
		return nil, errorf(scimerr.ScimErrorInvalidValue, "sortBy: no attribute %q in the served schemas", sortBy)
	}
	s := &sortSpec{path: ap, leaf: sub, multi: top.MultiValued, descending: desc}
	s.userName = sub == nil && top.Name == "userName" && (ap.URI == "" || strings.EqualFold(ap.URI, rs.core.ID))
	if sub == nil {
		s.leaf = top
		if top.Type == "complex" {
			s.leaf = findAttr(top.Sub, "value")
			if s.leaf == nil || !top.MultiValued {
				return nil, errorf(scimerr.ScimErrorInvalidValue, "sortBy: %q is not a simple attribute", sortBy)
			}
			s.path.Sub = "value"
		}
	}
	if s.leaf.Type == "complex" {
		return nil, errorf(scimerr.ScimErrorInvalidValue, "sortBy: %q is not a simple attribute", sortBy)
	}
	if neverReturned(top, s.leaf) {
		return nil, errNeverReturned("sortBy", ap)
	}
	return s, nil
}

// sortKey is the comparable value of a resource under a sortSpec.
type sortKey struct {
	present bool
	kind    int // 0 string, 1 number, 2 boolean, 3 time
	s       string
	f       float64
	t       time.Time
}

// key extracts the sort value of res: the attribute's value, or for a
// multi-valued attribute that of its primary element (else its first).
func (s *sortSpec) key(res map[string]any, core string) sortKey {
	v := lookup(res, attrPath{URI: s.path.URI, Attr: s.path.Attr}, core)
	if s.multi {
		list := asList(v)
		v = nil
		for _, el := range list {
			if isPrimary(el) {
				v = el
				break
			}
		}
		if v == nil && len(list) > 0 {
			v = list[0]
		}
	}
	if s.path.Sub != "" {
		m, _ := v.(map[string]any)
		v = nil
		if m != nil {
			v = getKey(m, s.path.Sub)
		}
	}
	switch x := v.(type) {
	case string:
		if s.leaf.Type == "dateTime" {
			if t, ok := parseDateTime(x); ok {
				return sortKey{present: true, kind: 3, t: t}
			}
		}
		switch {
		case s.userName:
			x = policy.FoldUserName(x)
		case !s.leaf.CaseExact:
			x = strings.ToLower(x)
		}
		return sortKey{present: true, s: x}
	case bool:
		f := 0.0
		if x {
			f = 1
		}
		return sortKey{present: true, kind: 2, f: f}
	}
	if f, ok := toFloat(v); ok {
		return sortKey{present: true, kind: 1, f: f}
	}
	return sortKey{}
}

// cmp orders a before b ascending: present values before missing ones.
func (a sortKey) cmp(b sortKey) int {
	switch {
	case a.present != b.present:
		if a.present {
			return -1
		}
		return 1
	case !a.present:
		return 0
	case a.kind != b.kind:
		return a.kind - b.kind
	}
	switch a.kind {
	case 0:
		return strings.Compare(a.s, b.s)
	case 3:
		return a.t.Compare(b.t)
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

// sortedItem is a resource's place in a sort: its key and id, not the
// resource itself, which is read again for the page only.
type sortedItem struct {
	key sortKey
	id  string
}

// less orders a before b under spec: by key (descending reverses it, so
// missing values come first, RFC 7644 §3.4.2.3), ties by id so that
// paging is stable.
func (spec *sortSpec) less(a, b sortedItem) bool {
	c := a.key.cmp(b.key)
	if spec.descending {
		c = -c
	}
	if c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// sortItems sorts items under spec.
func (spec *sortSpec) sortItems(items []sortedItem) {
	slices.SortFunc(items, func(a, b sortedItem) int {
		switch {
		case spec.less(a, b):
			return -1
		case spec.less(b, a):
			return 1
		}
		return 0
	})
}

// topK keeps the first k items of a sort over a stream of resources in a
// bounded max-heap (the last kept item at its root), so a filtered sorted
// page costs one pass, O(n log k) time and O(k) memory whatever the
// tenant's size.
type topK struct {
	spec  *sortSpec
	k     int
	items []sortedItem
}

func (t *topK) Len() int           { return len(t.items) }
func (t *topK) Less(i, j int) bool { return t.spec.less(t.items[j], t.items[i]) }
func (t *topK) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)         { t.items = append(t.items, x.(sortedItem)) }
func (t *topK) Pop() any {
	it := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return it
}

func (t *topK) add(it sortedItem) {
	switch {
	case t.k <= 0:
	case len(t.items) < t.k:
		heap.Push(t, it)
	case t.spec.less(it, t.items[0]):
		t.items[0] = it
		heap.Fix(t, 0)
	}
}

// sorted returns the kept items in order.
func (t *topK) sorted() []sortedItem {
	t.spec.sortItems(t.items)
	return t.items
}

// pageOf returns the ids of the page [start, start+count) of items.
func pageOf(items []sortedItem, start, count int) []string {
	if start-1 >= len(items) {
		return nil
	}
	items = items[start-1 : min(len(items), start-1+count)]
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	return ids
}

// sortedList serves a list request with sortBy (RFC 7644 §3.4.2.3)
// without sorting the tenant per page:
//
//   - unfiltered by userName, from the store's userName index
//     (store.UserNameOrderTx): one walk of the index counts the users and
//     finds the page's ids, and only the page's records are read;
//   - unfiltered by another attribute, from the order kept in memory
//     (sortOrders), built by one pass over the tenant the first time and
//     after each change of the tenant;
//   - filtered, in one pass through the filter keeping the first
//     startIndex-1+count matches in a bounded heap (topK).
//
// Only the page's records are rendered. The passes over the tenant run
// under admission control.
func (h *resourceHandler) sortedList(r request, p listParams, f expr, sorter *sortSpec, start, count int) (response, error) {
	core := h.core()
	byIndex := f == nil && h.kind == userKind && sorter.userName
	var kept []string // the page's ids from the kept order
	var keptTotal int
	var haveOrder bool
	var gen uint64
	if f == nil {
		kept, keptTotal, haveOrder, gen = h.s.sorts.get(r.tenant, h.kind, sorter.id(), start, count)
	}
	var plan listPlan
	if f != nil {
		plan = h.plan(r.tenant, f, start, count)
	}
	if (f != nil && !plan.indexed) || (f == nil && !byIndex && !haveOrder) {
		release, err := h.s.admit(r)
		if err != nil {
			return response{}, err
		}
		defer release()
	}
	var total int
	var page []any
	err := h.s.st.View(r.Context(), func(tx store.Tx) error {
		total, page = 0, nil
		var ids []string
		ot, indexed := tx.(store.UserNameOrderTx)
		switch {
		case byIndex && indexed:
			// One walk of the whole index (small keys) both counts
			// and finds the page: cheaper than counting the users'
			// records apart.
			i := 0
			err := ot.UserIDsByUserName(r.tenant, sorter.descending, func(id policy.UserID) error {
				if i++; i >= start && len(ids) < count {
					ids = append(ids, string(id))
				}
				return nil
			})
			if err != nil {
				return err
			}
			total = i
		case f == nil && haveOrder:
			total, ids = keptTotal, kept
		case f == nil:
			items, err := h.sortKeys(tx, r.tenant, sorter, nil, nil)
			if err != nil {
				return err
			}
			sorter.sortItems(items)
			total, ids = len(items), pageOf(items, start, count)
			var keyOf func(policy.User) sortKey
			if h.kind == userKind {
				t := r.tenant
				keyOf = func(u policy.User) sortKey { return sorter.key(h.userRes(t, u), core) }
			}
			h.s.sorts.put(r.tenant, h.kind, sorter.id(), gen, items, sorter.less, keyOf)
		default:
			top := &topK{spec: sorter, k: min(start-1, 1<<30) + count}
			var cands []map[string]any
			if plan.indexed {
				var err error
				var ok bool
				if cands, ok, err = h.indexLookup(tx, r.tenant, f); err != nil {
					return err
				} else if !ok {
					cands = nil
					plan.indexed = false
				}
			}
			n := 0
			_, err := h.sortKeys(tx, r.tenant, sorter, cands, func(res map[string]any, it sortedItem) bool {
				if !matches(f, res, core) {
					return false
				}
				n++
				top.add(it)
				return false
			})
			if err != nil {
				return err
			}
			total, ids = n, pageOf(top.sorted(), start, count)
		}
		for _, id := range ids {
			res, _, err := h.rt.read(tx, r.tenant, id)
			var se Error
			if errors.As(err, &se) && se.Status == http.StatusNotFound {
				continue // deleted since the order was built
			}
			if err != nil {
				return err
			}
			page = append(page, h.rs.shape(res, p.attrs, p.excluded))
		}
		return nil
	})
	if isNotFound(err) {
		err, total, page = nil, 0, nil // the tenant has no data yet
	}
	if err != nil {
		return response{}, err
	}
	if page == nil {
		page = []any{}
	}
	return response{status: http.StatusOK, body: listResponse(total, start, page)}, nil
}

// sortKeys computes the sort key of each of the tenant's resources, or of
// cands when not nil. With keep nil it returns them all; otherwise each
// goes to keep, and only those keep returns true for are returned.
func (h *resourceHandler) sortKeys(tx store.Tx, t policy.TenantID, sorter *sortSpec, cands []map[string]any, keep func(map[string]any, sortedItem) bool) ([]sortedItem, error) {
	core := h.core()
	var out []sortedItem
	each := func(res map[string]any) {
		id, _ := res["id"].(string)
		it := sortedItem{key: sorter.key(res, core), id: id}
		if keep == nil || keep(res, it) {
			out = append(out, it)
		}
	}
	if cands != nil {
		for _, res := range cands {
			each(res)
		}
		return out, nil
	}
	return out, h.rt.each(tx, t, func(res map[string]any) error { each(res); return nil })
}
