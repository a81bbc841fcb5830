package scim

// This file holds projection: the attributes and excludedAttributes parameters (RFC 7644 §3.4.2.5, §3.9).

import (
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
)

// validateAttrList checks the syntax of attributes / excludedAttributes.
func validateAttrList(list []string) error {
	for _, a := range list {
		p := &parser{s: a}
		if _, err := p.parseAttrPath(); err != nil || !p.eof() {
			return errorf(scimerr.ScimErrorInvalidValue, "bad attribute name %q", a)
		}
	}
	return nil
}

// project applies attributes / excludedAttributes (RFC 7644 §3.9). id and
// schemas are always returned.
func project(res map[string]any, attrs, excluded []string, core string) map[string]any {
	if len(attrs) == 0 && len(excluded) == 0 {
		return res
	}
	if len(attrs) > 0 {
		out := map[string]any{"id": res["id"], "schemas": res["schemas"]}
		for _, a := range attrs {
			p := &parser{s: a}
			ap, err := p.parseAttrPath()
			if err != nil {
				continue
			}
			copyPath(out, res, ap, core)
		}
		return out
	}
	out := make(map[string]any, len(res))
	for k, v := range res {
		out[k] = v
	}
	for _, a := range excluded {
		p := &parser{s: a}
		ap, err := p.parseAttrPath()
		if err != nil {
			continue
		}
		removePath(out, ap, core)
	}
	return out
}

func copyPath(dst, src map[string]any, ap attrPath, core string) {
	if ap.URI != "" && !strings.EqualFold(ap.URI, core) {
		k, ok := findKey(src, ap.URI)
		if !ok {
			return
		}
		ext, _ := src[k].(map[string]any)
		if ext == nil {
			return
		}
		if ap.Attr == "" {
			dst[k] = ext
			return
		}
		de, _ := dst[k].(map[string]any)
		if de == nil {
			de = map[string]any{}
			dst[k] = de
		}
		copyPath(de, ext, attrPath{Attr: ap.Attr, Sub: ap.Sub}, "")
		return
	}
	k, ok := findKey(src, ap.Attr)
	if !ok {
		return
	}
	v := src[k]
	if ap.Sub == "" {
		dst[k] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		dm, _ := dst[k].(map[string]any)
		if dm == nil {
			dm = map[string]any{}
			dst[k] = dm
		}
		if sk, ok := findKey(v, ap.Sub); ok {
			dm[sk] = v[sk]
		}
	case []any:
		var out []any
		for _, el := range v {
			if m, ok := el.(map[string]any); ok {
				if sk, ok := findKey(m, ap.Sub); ok {
					out = append(out, map[string]any{sk: m[sk]})
				}
			}
		}
		if out != nil {
			dst[k] = out
		}
	}
}

func removePath(m map[string]any, ap attrPath, core string) {
	if ap.URI != "" && !strings.EqualFold(ap.URI, core) {
		k, ok := findKey(m, ap.URI)
		if !ok {
			return
		}
		if ap.Attr == "" {
			delete(m, k)
			return
		}
		ext, _ := m[k].(map[string]any)
		if ext == nil {
			return
		}
		ext = copyMap(ext)
		m[k] = ext
		removePath(ext, attrPath{Attr: ap.Attr, Sub: ap.Sub}, "")
		return
	}
	k, ok := findKey(m, ap.Attr)
	if !ok || k == "id" || k == "schemas" {
		return
	}
	if ap.Sub == "" {
		delete(m, k)
		return
	}
	switch v := m[k].(type) {
	case map[string]any:
		v = copyMap(v)
		if sk, ok := findKey(v, ap.Sub); ok {
			delete(v, sk)
		}
		m[k] = v
	case []any:
		out := make([]any, len(v))
		for i, el := range v {
			if em, ok := el.(map[string]any); ok {
				em = copyMap(em)
				if sk, ok := findKey(em, ap.Sub); ok {
					delete(em, sk)
				}
				out[i] = em
			} else {
				out[i] = el
			}
		}
		m[k] = out
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
