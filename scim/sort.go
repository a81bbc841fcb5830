package scim

import (
	"sort"
	"strings"
	"time"

	scimerr "github.com/elimity-com/scim/errors"
)

// sortSpec is a parsed sortBy/sortOrder (RFC 7644 §3.4.2.3).
type sortSpec struct {
	path       attrPath
	leaf       *attrDef // the attribute whose values are compared
	multi      bool     // the path's attribute is multi-valued: compare its primary value
	descending bool
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
		if !s.leaf.CaseExact {
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

type sortedItem struct {
	key sortKey
	id  string
	res map[string]any
}

// topK keeps the first k items of a sort over a stream of resources,
// never more, so a sorted page costs one pass and O(k) memory whatever the
// tenant's size. Ties are broken by id, so paging is stable.
type topK struct {
	spec  *sortSpec
	k     int
	items []sortedItem
}

func (t *topK) less(a, b sortedItem) bool {
	c := a.key.cmp(b.key)
	if t.spec.descending {
		c = -c // RFC 7644 §3.4.2.3: so missing values come first
	}
	if c != 0 {
		return c < 0
	}
	return a.id < b.id
}

func (t *topK) add(it sortedItem) {
	if t.k <= 0 {
		return
	}
	i := sort.Search(len(t.items), func(i int) bool { return t.less(it, t.items[i]) })
	if i >= t.k {
		return
	}
	if len(t.items) < t.k {
		t.items = append(t.items, sortedItem{})
	}
	copy(t.items[i+1:], t.items[i:len(t.items)-1])
	t.items[i] = it
}
