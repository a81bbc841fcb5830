package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
)

// Extension is a custom schema extension a tenant declares (RFC 7643
// §3.3), e.g. the attributes Okta or Entra ID map from a profile that the
// core and enterprise schemas lack. Its attributes are served at /Schemas,
// accepted under the URN on POST, PUT and PATCH, stored and returned.
type Extension struct {
	// URN is the schema id, e.g. "urn:acme:params:scim:schemas:2.0:User".
	URN string
	// ResourceType is "User" (the default) or "Group".
	ResourceType string
	Description  string
	Attributes   []ExtensionAttribute
}

// ExtensionAttribute is an attribute of an Extension (RFC 7643 §7). Empty
// Type, Mutability and Returned take the defaults of RFC 7643 §2.2:
// "string", "readWrite", "default".
type ExtensionAttribute struct {
	Name          string
	Type          string // string boolean decimal integer dateTime reference binary complex
	MultiValued   bool
	Mutability    string // readOnly readWrite immutable writeOnly
	Returned      string // always never default request
	CaseExact     bool
	Description   string
	SubAttributes []ExtensionAttribute // of a complex attribute
}

// attrDef is one attribute of a served schema (RFC 7643 §7).
type attrDef struct {
	Name        string
	Type        string
	MultiValued bool
	Mutability  string
	Returned    string
	CaseExact   bool
	Sub         []*attrDef
}

func findAttr(list []*attrDef, name string) *attrDef {
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// schemaDef is a served schema: its URN and attributes.
type schemaDef struct {
	ID    string
	Attrs []*attrDef
}

// commonAttrs are the attributes of every resource (RFC 7643 §3.1).
var commonAttrs = []*attrDef{
	{Name: "id", Type: "string", Mutability: "readOnly", Returned: "always", CaseExact: true},
	{Name: "externalId", Type: "string", Mutability: "readWrite", Returned: "default", CaseExact: true},
	{Name: "meta", Type: "complex", Mutability: "readOnly", Returned: "default", Sub: []*attrDef{
		{Name: "resourceType", Type: "string", Mutability: "readOnly", CaseExact: true},
		{Name: "created", Type: "dateTime", Mutability: "readOnly"},
		{Name: "lastModified", Type: "dateTime", Mutability: "readOnly"},
		{Name: "location", Type: "reference", Mutability: "readOnly", CaseExact: true},
		{Name: "version", Type: "string", Mutability: "readOnly", CaseExact: true},
	}},
	{Name: "schemas", Type: "reference", MultiValued: true, Mutability: "readWrite", Returned: "always", CaseExact: true},
}

// resourceSchema is what a resource type is made of: its core schema and
// the extensions served for it. It is the source of truth of which
// attributes a resource may have.
type resourceSchema struct {
	core       *schemaDef
	extensions []*schemaDef
}

// extension returns the served extension named urn, case-insensitively.
func (rs *resourceSchema) extension(urn string) *schemaDef {
	for _, e := range rs.extensions {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

func (rs *resourceSchema) urns() []string {
	out := make([]string, 0, len(rs.extensions))
	for _, e := range rs.extensions {
		out = append(out, e.ID)
	}
	return out
}

// coreAttr returns a common or core attribute.
func (rs *resourceSchema) coreAttr(name string) *attrDef {
	if a := findAttr(commonAttrs, name); a != nil {
		return a
	}
	return findAttr(rs.core.Attrs, name)
}

// resolve finds the attribute an attribute path names. whole is set when
// the path names a whole extension (its URN alone); top and sub are nil
// then. ok is false when no served schema defines the path.
func (rs *resourceSchema) resolve(ap attrPath) (top, sub *attrDef, whole *schemaDef, ok bool) {
	var attrs []*attrDef
	switch {
	case ap.URI == "" || strings.EqualFold(ap.URI, rs.core.ID):
		if ap.Attr == "" {
			return nil, nil, nil, ap.URI != ""
		}
		top = rs.coreAttr(ap.Attr)
	default:
		// The parser splits a URN it does not know at its last colon:
		// "urn:acme:ext" reads as URI "urn:acme", Attr "ext".
		if ext := rs.extension(ap.String()); ext != nil {
			return nil, nil, ext, true
		}
		if ap.Attr == "" {
			ext := rs.extension(ap.URI)
			return nil, nil, ext, ext != nil
		}
		ext := rs.extension(ap.URI)
		if ext == nil {
			return nil, nil, nil, false
		}
		attrs = ext.Attrs
		top = findAttr(attrs, ap.Attr)
	}
	if top == nil {
		return nil, nil, nil, false
	}
	if ap.Sub == "" {
		return top, nil, nil, true
	}
	if sub = findAttr(top.Sub, ap.Sub); sub == nil {
		return nil, nil, nil, false
	}
	return top, sub, nil, true
}

// checkFilter reports, as an invalidFilter error, the first attribute of f
// that no served schema defines. within is the multi-valued attribute
// whose elements a value filter (attr[…]) runs on, or nil.
func (rs *resourceSchema) checkFilter(f expr, within *attrDef) error {
	switch e := f.(type) {
	case *logicalExpr:
		if err := rs.checkFilter(e.L, within); err != nil {
			return err
		}
		return rs.checkFilter(e.R, within)
	case *notExpr:
		return rs.checkFilter(e.X, within)
	case *valuePathExpr:
		top, sub, _, ok := rs.resolve(attrPath{URI: e.Path.URI, Attr: e.Path.Attr})
		if !ok || top == nil || sub != nil || top.Type != "complex" {
			return errorf(scimerr.ScimErrorInvalidFilter, "no attribute %q with sub-attributes in the served schemas", e.Path)
		}
		return rs.checkFilter(e.Filter, top)
	case *compareExpr:
		if within != nil {
			leaf := findAttr(within.Sub, e.Path.Attr)
			if e.Path.URI != "" || e.Path.Sub != "" || leaf == nil {
				return errorf(scimerr.ScimErrorInvalidFilter, "%s has no sub-attribute %q", within.Name, e.Path)
			}
			if within.Returned == "never" || leaf.Returned == "never" {
				return errNeverReturned("filter", e.Path)
			}
			e.annotate(leaf)
			return nil
		}
		top, sub, _, ok := rs.resolve(e.Path)
		if !ok || top == nil {
			return errorf(scimerr.ScimErrorInvalidFilter, "no attribute %q in the served schemas", e.Path)
		}
		if neverReturned(top, sub) {
			return errNeverReturned("filter", e.Path)
		}
		if sub == nil {
			sub = top
		}
		e.annotate(sub)
	}
	return nil
}

// neverReturned reports whether an attribute (top, or its sub-attribute
// sub when not nil) is one whose "returned" is "never" (RFC 7643 §7, e.g.
// password): such an attribute may be neither filtered nor sorted on, or
// the answers would reveal what the server never returns.
func neverReturned(top, sub *attrDef) bool {
	return top.Returned == "never" || sub != nil && sub.Returned == "never"
}

// errNeverReturned is the invalidFilter error for a filter or sortBy
// (what) on a returned:never attribute.
func errNeverReturned(what string, path fmt.Stringer) error {
	return errorf(scimerr.ScimErrorInvalidFilter, "%s: attribute %q is never returned and cannot be filtered or sorted on", what, path)
}

// annotate records how the schema says the values of e's attribute
// compare (RFC 7643 §2.2 caseExact, §2.3.5 dateTime), so that an
// extension's caseExact or dateTime attribute filters as declared.
func (e *compareExpr) annotate(def *attrDef) {
	e.exact = def.CaseExact
	e.dateTime = def.Type == "dateTime"
}

// checkPatchPath reports, as an invalidPath error, a PATCH path that names
// an attribute of no served schema, or a value filter on one.
func (rs *resourceSchema) checkPatchPath(pp patchPath) error {
	ap := pp.Path
	if pp.Filter != nil {
		top, _, _, ok := rs.resolve(attrPath{URI: ap.URI, Attr: ap.Attr})
		if !ok || top == nil || top.Type != "complex" || !top.MultiValued {
			return errorf(scimerr.ScimErrorInvalidPath, "%q is not a multi-valued complex attribute of the served schemas", ap.Attr)
		}
		if ap.Sub != "" && findAttr(top.Sub, ap.Sub) == nil {
			return errorf(scimerr.ScimErrorInvalidPath, "%s has no sub-attribute %q", top.Name, ap.Sub)
		}
		if err := rs.checkFilter(pp.Filter, top); err != nil {
			return errorf(scimerr.ScimErrorInvalidPath, "%s", err.(Error).Detail)
		}
		return nil
	}
	if _, _, _, ok := rs.resolve(ap); !ok {
		return errorf(scimerr.ScimErrorInvalidPath, "no attribute %q in the served schemas", ap)
	}
	return nil
}

// decode checks a resource sent by a client (POST, PUT, or the result of
// a PATCH) against the served schemas and returns what is kept: the
// attributes of the core schema and of the served extensions, under their
// canonical names and with checked types. Attributes of no served schema
// and readOnly ones (id, meta, groups) are dropped, never an error
// (RFC 7644 §3.3, §3.5.1). schemas must name the core schema.
func (rs *resourceSchema) decode(body map[string]any) (map[string]any, error) {
	body = normalize(body).(map[string]any) // e.g. a bare-string manager
	if err := rs.checkSchemas(body); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(body))
	for k, v := range body {
		if v == nil {
			continue
		}
		if ext := rs.extension(k); ext != nil {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", ext.ID)
			}
			dec, err := decodeAttrs(ext.Attrs, obj, ext.ID+":", true)
			if err != nil {
				return nil, err
			}
			if len(dec) > 0 {
				out[ext.ID] = dec
			}
			continue
		}
		if strings.EqualFold(k, rs.core.ID) {
			// The core URN as a key: its attributes.
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, errorf(scimerr.ScimErrorInvalidValue, "%s must be an object", rs.core.ID)
			}
			dec, err := decodeAttrs(rs.core.Attrs, obj, "", true)
			if err != nil {
				return nil, err
			}
			for dk, dv := range dec {
				out[dk] = dv
			}
			continue
		}
		a := rs.coreAttr(k)
		if a == nil || a.Name == "schemas" {
			continue
		}
		if _, dup := out[a.Name]; dup && !strings.EqualFold(k, a.Name) {
			continue // the core URN object's value wins
		}
		dec, keep, err := decodeAttr(a, v, "", true)
		if err != nil {
			return nil, err
		}
		if keep {
			out[a.Name] = dec
		}
	}
	out["schemas"] = body["schemas"]
	return out, nil
}

// checkSchemas requires the schemas attribute to list the core schema
// (RFC 7643 §3).
func (rs *resourceSchema) checkSchemas(body map[string]any) error {
	list, ok := body["schemas"].([]any)
	if !ok {
		return errorf(scimerr.ScimErrorInvalidValue, "schemas is required and must be an array naming %s", rs.core.ID)
	}
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, rs.core.ID) {
			return nil
		}
	}
	return errorf(scimerr.ScimErrorInvalidValue, "schemas must name %s", rs.core.ID)
}

func decodeAttrs(defs []*attrDef, obj map[string]any, prefix string, top bool) (map[string]any, error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		a := findAttr(defs, k)
		if a == nil || v == nil {
			continue
		}
		dec, keep, err := decodeAttr(a, v, prefix, top)
		if err != nil {
			return nil, err
		}
		if keep {
			out[a.Name] = dec
		}
	}
	return out, nil
}

// decodeAttr checks one value against its definition. keep is false for
// a value to drop: readOnly at the top of a resource, or empty.
func decodeAttr(a *attrDef, v any, prefix string, top bool) (out any, keep bool, err error) {
	if top && a.Mutability == "readOnly" {
		return nil, false, nil
	}
	name := prefix + a.Name
	if !a.MultiValued {
		out, err := decodeSingle(a, v, name)
		return out, out != nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false, errorf(scimerr.ScimErrorInvalidValue, "%s must be an array", name)
	}
	res := make([]any, 0, len(list))
	for _, el := range list {
		if el == nil {
			continue
		}
		d, err := decodeSingle(a, el, name)
		if err != nil {
			return nil, false, err
		}
		if d != nil {
			res = append(res, d)
		}
	}
	return res, true, nil
}

func decodeSingle(a *attrDef, v any, name string) (any, error) {
	bad := func(what string) error {
		return errorf(scimerr.ScimErrorInvalidValue, "%s must be %s", name, what)
	}
	switch a.Type {
	case "complex":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad("an object")
		}
		dec, err := decodeAttrs(a.Sub, obj, name+".", false)
		if err != nil {
			return nil, err
		}
		if len(dec) == 0 {
			return nil, nil
		}
		return dec, nil
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if b, ok := stringBool(v); ok { // Entra ID: "True", "False"
			return b, nil
		}
		return nil, bad("a boolean")
	case "integer":
		f, ok := toFloat(v)
		if !ok || f != math.Trunc(f) {
			return nil, bad("an integer")
		}
		return v, nil
	case "decimal":
		if _, ok := toFloat(v); !ok {
			return nil, bad("a number")
		}
		return v, nil
	case "dateTime":
		s, ok := v.(string)
		if !ok {
			return nil, bad("a dateTime string")
		}
		if _, ok := parseDateTime(s); !ok {
			return nil, bad("an xsd:dateTime (RFC 7643 §2.3.5)")
		}
		return s, nil
	default: // string, reference, binary
		if _, ok := v.(string); !ok {
			return nil, bad("a string")
		}
		return v, nil
	}
}

// caseDuplicate finds an object holding the same name twice under
// different capitalisation ("userName" and "UserName"), which leaves the
// attribute's value ambiguous.
func caseDuplicate(v any) error {
	switch v := v.(type) {
	case map[string]any:
		seen := make(map[string]string, len(v))
		for k, x := range v {
			l := strings.ToLower(k)
			if o, dup := seen[l]; dup {
				return errorf(scimerr.ScimErrorInvalidSyntax, "attribute given twice: %q and %q", o, k)
			}
			seen[l] = k
			if err := caseDuplicate(x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := caseDuplicate(x); err != nil {
				return err
			}
		}
	}
	return nil
}

// schemaFromDoc reads a rendered schema document (RFC 7643 §7) into a
// schemaDef.
func schemaFromDoc(doc map[string]any) *schemaDef {
	id, _ := doc["id"].(string)
	return &schemaDef{ID: id, Attrs: attrsFromDoc(doc["attributes"])}
}

func attrsFromDoc(v any) []*attrDef {
	list, _ := v.([]any)
	out := make([]*attrDef, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		a := &attrDef{}
		a.Name, _ = m["name"].(string)
		a.Type, _ = m["type"].(string)
		a.MultiValued, _ = m["multiValued"].(bool)
		a.Mutability, _ = m["mutability"].(string)
		a.Returned, _ = m["returned"].(string)
		a.CaseExact, _ = m["caseExact"].(bool)
		a.Sub = attrsFromDoc(m["subAttributes"])
		out = append(out, a)
	}
	return out
}

var (
	attrTypes   = []string{"string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"}
	mutabilites = []string{"readOnly", "readWrite", "immutable", "writeOnly"}
	returneds   = []string{"always", "never", "default", "request"}
)

// extensionDoc checks an Extension and renders its schema document
// (RFC 7643 §7).
func extensionDoc(e Extension) (map[string]any, error) {
	if !strings.HasPrefix(strings.ToLower(e.URN), "urn:") || strings.ContainsAny(e.URN, " \t\"[]") {
		return nil, fmt.Errorf("extension %q: the URN must start with urn:", e.URN)
	}
	if _, ok := knownSchema(e.URN); ok {
		return nil, fmt.Errorf("extension %q: a URN of RFC 7643 cannot be redeclared", e.URN)
	}
	attrs, err := extensionAttrs(e.URN, e.Attributes, true)
	if err != nil {
		return nil, err
	}
	name := e.URN[strings.LastIndexByte(e.URN, ':')+1:]
	doc := map[string]any{
		"schemas":    []any{schemaSchema},
		"id":         e.URN,
		"name":       name,
		"attributes": attrs,
	}
	if e.Description != "" {
		doc["description"] = e.Description
	}
	return doc, nil
}

func extensionAttrs(urn string, list []ExtensionAttribute, top bool) ([]any, error) {
	if top && len(list) == 0 {
		return nil, fmt.Errorf("extension %q: no attributes", urn)
	}
	seen := map[string]bool{}
	out := make([]any, 0, len(list))
	for _, a := range list {
		if !validName(a.Name) || a.Name == "$ref" && top {
			return nil, fmt.Errorf("extension %q: bad attribute name %q", urn, a.Name)
		}
		if seen[strings.ToLower(a.Name)] {
			return nil, fmt.Errorf("extension %q: attribute %q declared twice", urn, a.Name)
		}
		seen[strings.ToLower(a.Name)] = true
		typ, mut, ret := defaultStr(a.Type, "string"), defaultStr(a.Mutability, "readWrite"), defaultStr(a.Returned, "default")
		if !oneOf(typ, attrTypes) || !oneOf(mut, mutabilites) || !oneOf(ret, returneds) {
			return nil, fmt.Errorf("extension %q: attribute %q: type must be one of %v, mutability one of %v, returned one of %v",
				urn, a.Name, attrTypes, mutabilites, returneds)
		}
		m := map[string]any{
			"name": a.Name, "type": typ, "multiValued": a.MultiValued, "mutability": mut,
			"returned": ret, "caseExact": a.CaseExact, "required": false, "uniqueness": "none",
		}
		if a.Description != "" {
			m["description"] = a.Description
		}
		switch {
		case typ == "complex" && !top:
			return nil, fmt.Errorf("extension %q: attribute %q: a sub-attribute cannot be complex (RFC 7643 §2.3.8)", urn, a.Name)
		case typ == "complex":
			subs, err := extensionAttrs(urn, a.SubAttributes, false)
			if err != nil {
				return nil, err
			}
			if len(subs) == 0 {
				return nil, fmt.Errorf("extension %q: complex attribute %q has no subAttributes", urn, a.Name)
			}
			m["subAttributes"] = subs
		case len(a.SubAttributes) > 0:
			return nil, fmt.Errorf("extension %q: attribute %q: only a complex attribute has subAttributes", urn, a.Name)
		}
		out = append(out, m)
	}
	return out, nil
}

func defaultStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// docJSON round-trips v through JSON (so that documents built here and
// those of the library have the same Go types).
func docJSON(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
