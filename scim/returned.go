package scim

import (
	"net/url"
	"strings"
)

// shape applies the schema's "returned" characteristic (RFC 7643 §2.2) and
// then the client's attributes / excludedAttributes (RFC 7644 §3.9) to a
// rendered resource:
//
//   - "never" attributes are never returned;
//   - "request" attributes only when attributes names them;
//   - "always" attributes whatever attributes and excludedAttributes say;
//   - "default" attributes unless a projection leaves them out.
//
// res is not modified.
func (rs *resourceSchema) shape(res map[string]any, attrs, excluded []string) map[string]any {
	requested := requestedNames(attrs)
	base := rs.withReturned(res, requested)
	out := project(base, attrs, excluded, rs.core.ID)
	if len(attrs) == 0 && len(excluded) == 0 {
		return out
	}
	rs.keepAlways(out, base)
	return out
}

// requestedNames lower-cases the names of attributes, each also under its
// parent ("name.givenName" also names "name"), so that a request attribute
// asked by a sub-attribute is kept until project picks it.
func requestedNames(attrs []string) map[string]bool {
	out := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		p := &parser{s: a}
		ap, err := p.parseAttrPath()
		if err != nil {
			continue
		}
		uri := strings.ToLower(ap.URI)
		attr := strings.ToLower(ap.Attr)
		out[uri+"|"+attr] = true
		out[uri+"|"+attr+"."+strings.ToLower(ap.Sub)] = true
	}
	return out
}

func wasRequested(req map[string]bool, uri, attr, sub string) bool {
	uri, attr = strings.ToLower(uri), strings.ToLower(attr)
	if sub != "" {
		attr += "." + strings.ToLower(sub)
	}
	return req[uri+"|"+attr] || (uri != "" && req["|"+attr])
}

// withReturned returns res without its "never" attributes and its
// "request" ones that were not requested, copying only what changes.
func (rs *resourceSchema) withReturned(res map[string]any, req map[string]bool) map[string]any {
	out, copied := res, false
	edit := func() {
		if !copied {
			out, copied = copyMap(out), true
		}
	}
	hidden := func(a *attrDef, uri, sub string) bool {
		switch a.Returned {
		case "never":
			return true
		case "request":
			return !wasRequested(req, uri, a.Name, sub)
		}
		return false
	}
	strip := func(obj map[string]any, defs []*attrDef, uri string) (map[string]any, bool) {
		var changed bool
		for _, a := range defs {
			k, ok := findKey(obj, a.Name)
			if !ok {
				continue
			}
			if hidden(a, uri, "") {
				if !changed {
					obj, changed = copyMap(obj), true
				}
				delete(obj, k)
				continue
			}
			if nv, ch := stripSubs(obj[k], a, uri, hidden); ch {
				if !changed {
					obj, changed = copyMap(obj), true
				}
				obj[k] = nv
			}
		}
		return obj, changed
	}
	if o, ch := strip(res, append(commonAttrs[:len(commonAttrs):len(commonAttrs)], rs.core.Attrs...), ""); ch {
		out, copied = o, true
	}
	for _, ext := range rs.extensions {
		k, ok := findKey(out, ext.ID)
		if !ok {
			continue
		}
		obj, _ := out[k].(map[string]any)
		if obj == nil {
			continue
		}
		if o, ch := strip(obj, ext.Attrs, ext.ID); ch {
			edit()
			if len(o) == 0 {
				delete(out, k)
			} else {
				out[k] = o
			}
		}
	}
	return out
}

// stripSubs hides the sub-attributes of v (a complex value or a list of
// them) that hidden says to.
func stripSubs(v any, a *attrDef, uri string, hidden func(*attrDef, string, string) bool) (any, bool) {
	if len(a.Sub) == 0 {
		return v, false
	}
	var subs []*attrDef
	for _, s := range a.Sub {
		if s.Returned == "never" || s.Returned == "request" {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return v, false
	}
	one := func(m map[string]any) (map[string]any, bool) {
		changed := false
		for _, s := range subs {
			if k, ok := findKey(m, s.Name); ok && hidden(&attrDef{Name: a.Name, Returned: s.Returned}, uri, s.Name) {
				if !changed {
					m, changed = copyMap(m), true
				}
				delete(m, k)
			}
		}
		return m, changed
	}
	switch x := v.(type) {
	case map[string]any:
		return one(x)
	case []any:
		out := make([]any, len(x))
		changed := false
		for i, el := range x {
			out[i] = el
			if m, ok := el.(map[string]any); ok {
				if nm, ch := one(m); ch {
					out[i], changed = nm, true
				}
			}
		}
		return out, changed
	}
	return v, false
}

// keepAlways puts back into out the "always" attributes of base that a
// projection left out.
func (rs *resourceSchema) keepAlways(out, base map[string]any) {
	for _, a := range append(commonAttrs[:len(commonAttrs):len(commonAttrs)], rs.core.Attrs...) {
		if a.Returned != "always" {
			continue
		}
		if k, ok := findKey(base, a.Name); ok {
			out[k] = base[k]
		}
	}
	for _, ext := range rs.extensions {
		k, ok := findKey(base, ext.ID)
		if !ok {
			continue
		}
		src, _ := base[k].(map[string]any)
		for _, a := range ext.Attrs {
			if a.Returned != "always" {
				continue
			}
			ak, ok := findKey(src, a.Name)
			if !ok {
				continue
			}
			dst, _ := out[k].(map[string]any)
			if dst == nil {
				dst = map[string]any{}
			} else {
				dst = copyMap(dst)
			}
			dst[ak] = src[ak]
			out[k] = dst
		}
	}
}

// projection reads attributes / excludedAttributes from the query of a
// request that answers with a resource (GET, POST, PUT, PATCH).
func projection(q url.Values) (attrs, excluded []string, err error) {
	attrs, excluded = splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
	return attrs, excluded, validateAttrList(append(attrs[:len(attrs):len(attrs)], excluded...))
}
