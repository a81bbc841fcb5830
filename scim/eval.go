package scim

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"
)

// matches reports whether the SCIM representation res satisfies e. core is
// the URN of the resource's core schema: paths qualified with it address
// top-level attributes, paths qualified with another URN address that
// extension's object. Attribute names compare case-insensitively.
func matches(e expr, res map[string]any, core string) bool {
	switch e := e.(type) {
	case *logicalExpr:
		if e.Op == "and" {
			return matches(e.L, res, core) && matches(e.R, res, core)
		}
		return matches(e.L, res, core) || matches(e.R, res, core)
	case *notExpr:
		return !matches(e.X, res, core)
	case *valuePathExpr:
		for _, el := range asList(lookup(res, attrPath{URI: e.Path.URI, Attr: e.Path.Attr}, core)) {
			if m, ok := el.(map[string]any); ok && matches(e.Filter, m, "") {
				return true
			}
		}
		return false
	case *compareExpr:
		vals := values(res, e.Path, core)
		switch e.Op {
		case "pr":
			for _, v := range vals {
				if present(v) {
					return true
				}
			}
			return false
		case "ne":
			if w, ok := e.Value.(string); ok && (e.dateTime || isDateTime(e.Path)) {
				if t, ok := parseDateTime(w); ok {
					return !anyCompareTime("eq", vals, t)
				}
			}
			return !anyCompare("eq", vals, e.Value, e.exact || caseExact(e.Path))
		}
		if w, ok := e.Value.(string); ok && (e.dateTime || isDateTime(e.Path)) {
			if t, ok := parseDateTime(w); ok && e.Op != "co" && e.Op != "sw" && e.Op != "ew" {
				return anyCompareTime(e.Op, vals, t)
			}
		}
		return anyCompare(e.Op, vals, e.Value, e.exact || caseExact(e.Path))
	}
	return false
}

// caseExact reports whether the attribute's string values compare
// case-sensitively (RFC 7643: id and externalId are caseExact; userName,
// emails and displayName are not).
func caseExact(p attrPath) bool {
	if p.Sub == "" {
		switch strings.ToLower(p.Attr) {
		case "id", "externalid", "$ref":
			return true
		}
	}
	return strings.EqualFold(p.Sub, "$ref")
}

// isDateTime reports whether p is one of the dateTime attributes of the
// schemas served here (meta.created, meta.lastModified; RFC 7643 §3.1),
// which compare chronologically rather than as text.
func isDateTime(p attrPath) bool {
	if p.URI != "" {
		if _, ok := knownSchema(p.URI); !ok {
			return false
		}
	}
	return strings.EqualFold(p.Attr, "meta") &&
		(strings.EqualFold(p.Sub, "created") || strings.EqualFold(p.Sub, "lastModified"))
}

// parseDateTime parses an xsd:dateTime (RFC 7643 §2.3.5); one without a
// time zone is taken as UTC.
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func validDateTime(s string) bool { _, ok := parseDateTime(s); return ok }

// anyCompareTime compares each value that is a dateTime with want.
func anyCompareTime(op string, vals []any, want time.Time) bool {
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		h, ok := parseDateTime(s)
		if !ok {
			continue
		}
		var r bool
		switch op {
		case "eq":
			r = h.Equal(want)
		case "gt":
			r = h.After(want)
		case "ge":
			r = !h.Before(want)
		case "lt":
			r = h.Before(want)
		case "le":
			r = !h.After(want)
		}
		if r {
			return true
		}
	}
	return false
}

// lookup returns the value at p (without descending into p.Sub) or nil.
func lookup(res map[string]any, p attrPath, core string) any {
	container := res
	if p.URI != "" && !strings.EqualFold(p.URI, core) {
		m, _ := getKey(res, p.URI).(map[string]any)
		if m == nil {
			return nil
		}
		container = m
	}
	if p.Attr == "" {
		return container
	}
	return getKey(container, p.Attr)
}

// values returns the flat list of simple values p designates. For a complex
// attribute without a sub-attribute the "value" sub-attribute is used.
func values(res map[string]any, p attrPath, core string) []any {
	v := lookup(res, attrPath{URI: p.URI, Attr: p.Attr}, core)
	var out []any
	for _, el := range asList(v) {
		if m, ok := el.(map[string]any); ok {
			sub := p.Sub
			if sub == "" {
				sub = "value"
			}
			for _, sv := range asList(getKey(m, sub)) {
				out = append(out, sv)
			}
			continue
		}
		if p.Sub == "" {
			out = append(out, el)
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	case []map[string]any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = v[i]
		}
		return out
	}
	return []any{v}
}

// getKey returns m[name], matching the key case-insensitively.
func getKey(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// findKey returns the key of m that equals name case-insensitively.
func findKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func anyCompare(op string, vals []any, want any, exact bool) bool {
	if want == nil {
		// "eq null" matches an absent value.
		has := false
		for _, v := range vals {
			if present(v) {
				has = true
			}
		}
		return op == "eq" && !has
	}
	for _, v := range vals {
		if compare(op, v, want, exact) {
			return true
		}
	}
	return false
}

func compare(op string, have, want any, exact bool) bool {
	switch w := want.(type) {
	case string:
		h, ok := have.(string)
		if !ok {
			return false
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		}
		return compareOrdered(op, h, w)
	case bool:
		h, ok := have.(bool)
		return ok && op == "eq" && h == w
	case float64:
		h, ok := toFloat(have)
		return ok && compareOrdered(op, h, w)
	}
	return false
}

// compareOrdered applies eq, gt, ge, lt or le; any other op is false.
func compareOrdered[T cmp.Ordered](op string, h, w T) bool {
	switch op {
	case "eq":
		return h == w
	case "gt":
		return h > w
	case "ge":
		return h >= w
	case "lt":
		return h < w
	case "le":
		return h <= w
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}
