package scim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
)

// patchOp is one operation of a PATCH request (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string // add, replace or remove (lower-cased)
	Path  string
	Value any
}

// parsePatchRequest decodes the body of a PATCH request. Operation names
// are case-insensitive (Entra ID sends "Add", "Replace", "Remove"). With
// rs, the message must carry the PatchOp schema and every path must name
// an attribute of the served schemas (invalidPath otherwise), so that a
// request with a bad operation changes nothing (RFC 7644 §3.5.2).
func parsePatchRequest(body map[string]any, rs *resourceSchema) ([]patchOp, error) {
	if rs != nil && !listsSchema(body, patchOpSchema) {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "schemas must name %s", patchOpSchema)
	}
	raw, ok := getKey(body, "Operations").([]any)
	if !ok || len(raw) == 0 {
		return nil, errorf(scimerr.ScimErrorInvalidSyntax, "Operations must be a non-empty array")
	}
	ops := make([]patchOp, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, errorf(scimerr.ScimErrorInvalidSyntax, "operation %d is not an object", i)
		}
		op, _ := getKey(m, "op").(string)
		op = strings.ToLower(op)
		switch op {
		case "add", "replace", "remove":
		default:
			return nil, errorf(scimerr.ScimErrorInvalidSyntax, "operation %d: unknown op %q", i, op)
		}
		var path string
		if p := getKey(m, "path"); p != nil {
			if path, ok = p.(string); !ok {
				return nil, errorf(scimerr.ScimErrorInvalidPath, "operation %d: path must be a string", i)
			}
		}
		path = strings.TrimSpace(path)
		var whole *schemaDef
		if path != "" {
			pp, err := parsePatchPath(path)
			if err != nil {
				return nil, errorf(scimerr.ScimErrorInvalidPath, "operation %d: %v", i, err)
			}
			if rs != nil {
				if err := rs.checkPatchPath(pp); err != nil {
					return nil, fmt.Errorf("operation %d: %w", i, err)
				}
				if _, _, w, _ := rs.resolve(pp.Path); w != nil {
					if _, static := knownSchema(w.ID); !static {
						whole = w
					}
				}
			}
		}
		val, hasVal := m["value"]
		if !hasVal {
			val = getKey(m, "value")
			hasVal = val != nil
		}
		if op != "remove" && !hasVal {
			return nil, errorf(scimerr.ScimErrorInvalidValue, "operation %d: %s needs a value", i, op)
		}
		if op == "remove" && path == "" {
			return nil, errorf(scimerr.ScimErrorNoTarget, "operation %d: remove needs a path", i)
		}
		val = normalize(val)
		switch {
		case whole != nil && op == "remove":
			// A whole custom extension: remove each of its attributes.
			for _, a := range whole.Attrs {
				ops = append(ops, patchOp{Op: op, Path: whole.ID + ":" + a.Name})
			}
			continue
		case whole != nil:
			path, val = "", map[string]any{whole.ID: val}
		}
		if obj, ok := val.(map[string]any); ok && path == "" && rs != nil {
			val = expandExtensions(obj, rs)
		}
		ops = append(ops, patchOp{Op: op, Path: path, Value: val})
	}
	return ops, nil
}

// listsSchema reports whether body's schemas attribute names urn.
func listsSchema(body map[string]any, urn string) bool {
	list, _ := getKey(body, "schemas").([]any)
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, urn) {
			return true
		}
	}
	return false
}

// expandExtensions rewrites, in a no-path value, the objects of custom
// extensions into URN-qualified keys ("urn:acme:ext": {"a": 1} becomes
// "urn:acme:ext:a": 1), which the engine applies as paths; the static
// URNs of RFC 7643 it knows itself.
func expandExtensions(obj map[string]any, rs *resourceSchema) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		ext := rs.extension(k)
		if m, ok := v.(map[string]any); ok && ext != nil {
			if _, static := knownSchema(ext.ID); !static {
				for ek, ev := range m {
					out[ext.ID+":"+ek] = ev
				}
				continue
			}
		}
		out[k] = v
	}
	return out
}

// applyPatch applies ops in order to res, the SCIM representation of a
// resource whose core schema is core and whose id is id. It modifies res
// in place; on error the caller discards it.
func applyPatch(res map[string]any, ops []patchOp, core, id string) error {
	for i, op := range ops {
		before := primaryKeys(res)
		if err := applyOp(res, op, core, id); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		if err := settlePrimary(res, before); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
	}
	return nil
}

// multiValued calls fn for each multi-valued attribute of res, at the top
// level and inside extension objects, with a key naming it.
func multiValued(res map[string]any, fn func(key string, list []any)) {
	for k, v := range res {
		switch v := v.(type) {
		case []any:
			fn(k, v)
		case map[string]any:
			if !strings.HasPrefix(strings.ToLower(k), "urn:") {
				continue
			}
			for ek, ev := range v {
				if l, ok := ev.([]any); ok {
					fn(k+"\x00"+ek, l)
				}
			}
		}
	}
}

func isPrimary(el any) bool {
	m, ok := el.(map[string]any)
	if !ok {
		return false
	}
	switch p := getKey(m, "primary").(type) {
	case bool:
		return p
	case string:
		b, _ := stringBool(p)
		return b
	}
	return false
}

// primaryKeys returns, for each multi-valued attribute of res, the
// valueKeys of its elements marked primary.
func primaryKeys(res map[string]any) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	multiValued(res, func(key string, list []any) {
		for _, el := range list {
			if isPrimary(el) {
				if out[key] == nil {
					out[key] = map[string]bool{}
				}
				out[key][valueKey(el)] = true
			}
		}
	})
	return out
}

// settlePrimary keeps "primary": true on at most one element of each
// multi-valued attribute (RFC 7643 §2.4): when an operation marked a new
// element primary, the elements that were primary before it lose the flag
// (RFC 7644 §3.5.2.1). An operation that marks two elements primary is an
// invalidValue. Attributes the operation did not give a new primary are
// left as they are.
func settlePrimary(res map[string]any, before map[string]map[string]bool) error {
	var err error
	multiValued(res, func(key string, list []any) {
		var fresh, old []map[string]any
		for _, el := range list {
			if !isPrimary(el) {
				continue
			}
			m := el.(map[string]any)
			if before[key][valueKey(el)] {
				old = append(old, m)
			} else {
				fresh = append(fresh, m)
			}
		}
		if len(fresh) == 0 {
			return
		}
		if len(fresh) > 1 && err == nil {
			err = errorf(scimerr.ScimErrorInvalidValue, "at most one value of %s may be primary", strings.ReplaceAll(key, "\x00", ":"))
		}
		for _, m := range old {
			k, _ := findKey(m, "primary")
			m[k] = false
		}
	})
	return err
}

// checkPrimary refuses a resource with two primary values in one
// multi-valued attribute (RFC 7643 §2.4).
func checkPrimary(res map[string]any) error {
	return settlePrimary(res, nil)
}

func applyOp(res map[string]any, op patchOp, core, id string) error {
	if urn, ok := knownSchema(op.Path); ok && urn == core {
		// The core schema URN as a path addresses the resource itself:
		// the same as no path.
		if op.Op == "remove" {
			return errorf(scimerr.ScimErrorInvalidPath, "%s cannot be removed", urn)
		}
		op.Path = ""
	}
	if op.Path == "" {
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return errorf(scimerr.ScimErrorInvalidValue, "%s without path needs an object value", op.Op)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := obj[k]
			switch strings.ToLower(k) {
			case "id", "schemas", "meta", "groups":
				// readOnly in a value: ignored (RFC 7644 §3.5.1;
				// Okta sends the id back with a rename).
				continue
			}
			if urn, ok := knownSchema(k); ok && urn == core {
				// The core schema URN as a key: its attributes.
				if _, ok := v.(map[string]any); !ok {
					return errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", urn)
				}
				if err := applyOp(res, patchOp{Op: op.Op, Value: v}, core, id); err != nil {
					return err
				}
				continue
			}
			// A whole extension object: apply each of its attributes.
			if urn, ok := knownSchema(k); ok && urn != core {
				ext, ok := v.(map[string]any)
				if !ok {
					return errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", urn)
				}
				for ek, ev := range ext {
					if err := applyPathOp(res, op.Op, urn+":"+ek, ev, core); err != nil {
						return err
					}
				}
				continue
			}
			if err := applyPathOp(res, op.Op, k, v, core); err != nil {
				return err
			}
		}
		return nil
	}
	return applyPathOp(res, op.Op, op.Path, op.Value, core)
}

func applyPathOp(res map[string]any, op, path string, value any, core string) error {
	pp, err := parsePatchPath(path)
	if err != nil {
		return errorf(scimerr.ScimErrorInvalidPath, "%v", err)
	}
	ap := pp.Path
	if ap.URI != "" && strings.EqualFold(ap.URI, core) {
		ap.URI = ""
	}
	if ap.URI == "" {
		switch strings.ToLower(ap.Attr) {
		case "id", "meta":
			return errorf(scimerr.ScimErrorMutability, "%s is read-only", ap.Attr)
		case "schemas":
			return nil
		}
	}
	container := res
	if ap.URI != "" {
		urn := canonical(ap.URI)
		key, ok := findKey(res, urn)
		if !ok {
			key = urn
		}
		ext, _ := res[key].(map[string]any)
		if ext == nil {
			if op == "remove" {
				return nil
			}
			ext = map[string]any{}
			res[key] = ext
		}
		if ap.Attr == "" { // the whole extension
			if op == "remove" {
				delete(res, key)
				return nil
			}
			obj, ok := value.(map[string]any)
			if !ok {
				return errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", urn)
			}
			for k, v := range obj {
				ext[canonical(k)] = v
			}
			return nil
		}
		container = ext
	}
	key, ok := findKey(container, ap.Attr)
	if !ok {
		key = canonical(ap.Attr)
	}
	if pp.Filter != nil {
		return applyFiltered(container, key, op, pp.Filter, ap.Sub, value)
	}
	cur := container[key]
	if ap.Sub != "" {
		sub := canonical(ap.Sub)
		if list, ok := cur.([]any); ok { // e.g. emails.value: every element
			for _, el := range list {
				if m, ok := el.(map[string]any); ok {
					setSub(m, op, sub, value)
				}
			}
			return nil
		}
		m, _ := cur.(map[string]any)
		if m == nil {
			if op == "remove" {
				return nil
			}
			m = map[string]any{}
			container[key] = m
		}
		setSub(m, op, sub, value)
		return nil
	}
	switch op {
	case "remove":
		list, isList := cur.([]any)
		if isList && value != nil {
			// Entra ID: {"op":"Remove","path":"members","value":[…]}
			// removes exactly the listed values, never the whole
			// attribute.
			container[key] = removeValues(list, asList(value))
			return nil
		}
		delete(container, key)
	case "add":
		switch c := cur.(type) {
		case []any:
			container[key] = appendValues(c, asList(value))
		case map[string]any:
			if v, ok := value.(map[string]any); ok {
				mergeInto(c, v)
			} else {
				container[key] = value
			}
		default:
			if _, isList := value.([]any); !isList && isMultiValued(key) {
				value = []any{value}
			}
			if l, isList := value.([]any); isList {
				value = appendValues(nil, l)
			}
			container[key] = value
		}
	case "replace":
		c, isMap := cur.(map[string]any)
		v, valMap := value.(map[string]any)
		if isMap && valMap {
			mergeInto(c, v)
			return nil
		}
		if l, isList := value.([]any); isList {
			value = appendValues(nil, l)
		} else if isMultiValued(key) && value != nil {
			value = []any{value}
		}
		container[key] = value
	}
	return nil
}

// isMultiValued reports whether a core attribute is multi-valued
// (RFC 7643 §4), so that a single value sent to it is wrapped in an array.
func isMultiValued(key string) bool {
	switch key {
	case "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
		"entitlements", "roles", "x509Certificates", "members":
		return true
	}
	return false
}

func setSub(m map[string]any, op, sub string, value any) {
	k, ok := findKey(m, sub)
	if !ok {
		k = sub
	}
	if op == "remove" {
		delete(m, k)
		return
	}
	m[k] = value
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		key, ok := findKey(dst, k)
		if !ok {
			key = canonical(k)
		}
		dst[key] = v
	}
}

// applyFiltered applies op to the elements of the multi-valued attribute
// container[key] that match filter, e.g. members[value eq "x"] or
// emails[type eq "work"].value. An add or replace that matches nothing
// creates the element from the filter's equality clauses (what Entra ID
// expects for emails[type eq "work"].value).
func applyFiltered(container map[string]any, key, op string, filter expr, sub string, value any) error {
	if _, present := container[key]; !present && op == "remove" {
		return nil // nothing to remove; do not create an empty attribute
	}
	list := asList(container[key])
	var out []any
	matched := 0
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok || !matches(filter, m, "") {
			out = append(out, el)
			continue
		}
		matched++
		switch {
		case op == "remove" && sub == "":
			// drop the element
		case op == "remove":
			setSub(m, op, canonical(sub), nil)
			out = append(out, m)
		case sub != "":
			setSub(m, op, canonical(sub), value)
			out = append(out, m)
		default:
			v, ok := value.(map[string]any)
			if !ok {
				return errorf(scimerr.ScimErrorInvalidValue, "value for %s[…] must be an object", key)
			}
			if op == "replace" {
				m = map[string]any{}
			}
			mergeInto(m, v)
			out = append(out, m)
		}
	}
	if matched == 0 && op != "remove" {
		el := equalities(filter)
		if sub != "" {
			el[canonical(sub)] = value
		} else {
			v, ok := value.(map[string]any)
			if !ok {
				return errorf(scimerr.ScimErrorInvalidValue, "value for %s[…] must be an object", key)
			}
			mergeInto(el, v)
		}
		out = append(out, el)
	}
	if out == nil {
		out = []any{}
	}
	container[key] = out
	return nil
}

// equalities collects the "attr eq value" clauses of an and-only filter.
func equalities(e expr) map[string]any {
	m := map[string]any{}
	var walk func(expr)
	walk = func(e expr) {
		switch e := e.(type) {
		case *logicalExpr:
			if e.Op == "and" {
				walk(e.L)
				walk(e.R)
			}
		case *compareExpr:
			if e.Op == "eq" && e.Path.Sub == "" && e.Path.URI == "" {
				m[canonical(e.Path.Attr)] = e.Value
			}
		}
	}
	walk(e)
	return m
}

// valueKey identifies an element of a multi-valued attribute: its "value"
// sub-attribute for a complex element, the JSON encoding otherwise.
func valueKey(v any) string {
	if m, ok := v.(map[string]any); ok {
		if x, ok := getKey(m, "value").(string); ok {
			return "v:" + x
		}
	}
	b, _ := json.Marshal(v)
	return "j:" + string(b)
}

// appendValues appends the elements of add to list, skipping those whose
// valueKey is already present; an element with an existing key replaces
// the old one (so a re-added member or e-mail takes the new sub-attributes).
func appendValues(list, add []any) []any {
	index := make(map[string]int, len(list)+len(add))
	out := make([]any, 0, len(list)+len(add))
	for _, el := range list {
		k := valueKey(el)
		if _, dup := index[k]; dup {
			continue
		}
		index[k] = len(out)
		out = append(out, el)
	}
	for _, el := range add {
		if el == nil {
			continue
		}
		k := valueKey(el)
		if i, dup := index[k]; dup {
			out[i] = el
			continue
		}
		index[k] = len(out)
		out = append(out, el)
	}
	return out
}

// removeValues returns list without the elements whose valueKey is among
// those of remove. Absent values are not an error.
func removeValues(list, remove []any) []any {
	drop := make(map[string]bool, len(remove))
	for _, el := range remove {
		drop[valueKey(el)] = true
	}
	out := make([]any, 0, len(list))
	for _, el := range list {
		if !drop[valueKey(el)] {
			out = append(out, el)
		}
	}
	return out
}
