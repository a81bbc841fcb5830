package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalid is returned (wrapped) when a record breaks a domain invariant.
var ErrInvalid = errors.New("policy: invalid")

// ErrCycle is returned (wrapped) when a parent change would make the user
// group hierarchy cyclic.
var ErrCycle = errors.New("policy: cycle in group hierarchy")

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Limits on what a record may hold, whatever its source (SCIM, LDAP, the
// admin API). They keep every record small enough to index (bbolt keys are
// at most 32 KiB) and shallow enough to decode (encoding/json stops at
// 10,000 levels), with room to spare: a record that passes them always
// reads back.
const (
	// MaxNameBytes bounds names and identifiers: userName, externalId,
	// displayName, givenName, familyName, e-mail values and types, user
	// group names, meeting titles and locations, permissions. Several are
	// index keys.
	MaxNameBytes = 1024
	// MaxTextBytes bounds free text: descriptions.
	MaxTextBytes = 16 << 10
	// MaxEmails bounds the e-mail addresses of a user.
	MaxEmails = 100
	// MaxMeetings bounds the meetings of a user group.
	MaxMeetings = 1000
	// MaxPermissions bounds the permissions of a role.
	MaxPermissions = 256

	// MaxAttrDepth bounds the nesting of Attributes: the Attributes
	// object itself is level 1, so {"a":{"b":1}} is 2 levels deep.
	MaxAttrDepth = 32
	// MaxAttrValues bounds the values in the whole Attributes tree:
	// every object, array, string, number, boolean and null counts one.
	MaxAttrValues = 2000
	// MaxAttrKeyBytes bounds an object key inside Attributes.
	MaxAttrKeyBytes = 256
	// MaxAttrStringBytes bounds a string inside Attributes.
	MaxAttrStringBytes = 64 << 10
	// MaxAttrBytes bounds the size of Attributes, counted as the bytes of
	// its keys, strings and numbers plus a few per value: about the size
	// of its JSON encoding.
	MaxAttrBytes = 256 << 10
)

// Limit names the kind of bound a LimitError reports.
type Limit string

// Kinds of limits.
const (
	// LimitLength: a string or key is too long.
	LimitLength Limit = "length"
	// LimitDepth: values are nested too deeply.
	LimitDepth Limit = "depth"
	// LimitCount: too many values or list elements.
	LimitCount Limit = "count"
	// LimitSize: the values are too large together.
	LimitSize Limit = "size"
	// LimitValue: a value JSON cannot carry (a number out of range, a
	// Go type with no JSON form).
	LimitValue Limit = "value"
)

// LimitError reports a record that breaks one of the limits above. It
// names the field, never the value. It unwraps to ErrInvalid.
type LimitError struct {
	// Field is where the limit is broken: "userName", "attributes",
	// `attributes["urn:…:User"]`, "meetings[3].title"…
	Field string
	// Limit is the kind of bound.
	Limit Limit
	// Max is the bound (0 for LimitValue).
	Max int
}

// Error implements error.
func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitLength:
		return fmt.Sprintf("%v: %s: longer than %d bytes", ErrInvalid, e.Field, e.Max)
	case LimitDepth:
		return fmt.Sprintf("%v: %s: nested deeper than %d levels", ErrInvalid, e.Field, e.Max)
	case LimitCount:
		return fmt.Sprintf("%v: %s: more than %d values", ErrInvalid, e.Field, e.Max)
	case LimitSize:
		return fmt.Sprintf("%v: %s: larger than %d bytes", ErrInvalid, e.Field, e.Max)
	}
	return fmt.Sprintf("%v: %s: not a value JSON can hold", ErrInvalid, e.Field)
}

// Unwrap returns ErrInvalid.
func (e *LimitError) Unwrap() error { return ErrInvalid }

// TooMany reports whether the record holds too much rather than a bad
// value: a count or size limit.
func (e *LimitError) TooMany() bool { return e.Limit == LimitCount || e.Limit == LimitSize }

// checkLen returns a LimitError when s is longer than max bytes.
func checkLen(field, s string, max int) error {
	if len(s) > max {
		return &LimitError{Field: field, Limit: LimitLength, Max: max}
	}
	return nil
}

// checkLens checks several fields against one bound, in order.
func checkLens(max int, fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if err := checkLen(fieldValues[i], fieldValues[i+1], max); err != nil {
			return err
		}
	}
	return nil
}

// ValidateUser checks the invariants of a user record, including the
// limits above.
func ValidateUser(u User) error {
	if err := checkLens(MaxNameBytes, "userName", u.UserName, "externalId", u.ExternalID,
		"displayName", u.DisplayName, "name.givenName", u.GivenName, "name.familyName", u.FamilyName,
		"source", u.Source); err != nil {
		return err
	}
	switch {
	case u.Tenant == "":
		return fmt.Errorf("%w: user has no tenant", ErrInvalid)
	case FoldUserName(u.UserName) == "":
		return fmt.Errorf("%w: userName is required", ErrInvalid)
	case len(u.Emails) > MaxEmails:
		return &LimitError{Field: "emails", Limit: LimitCount, Max: MaxEmails}
	}
	for i, e := range u.Emails {
		if err := checkLens(MaxNameBytes, fmt.Sprintf("emails[%d].value", i), e.Value, fmt.Sprintf("emails[%d].type", i), e.Type); err != nil {
			return err
		}
	}
	if u.Location != nil {
		if err := ValidateLocation(*u.Location); err != nil {
			return err
		}
	}
	return ValidateAttributes(u.Attributes)
}

// ValidateDirGroup checks the invariants of a directory group record,
// including the limits above (but not the number of members).
func ValidateDirGroup(g DirGroup) error {
	if err := checkLens(MaxNameBytes, "displayName", g.DisplayName, "externalId", g.ExternalID, "source", g.Source); err != nil {
		return err
	}
	switch {
	case g.Tenant == "":
		return fmt.Errorf("%w: directory group has no tenant", ErrInvalid)
	case FoldName(g.DisplayName) == "":
		return fmt.Errorf("%w: displayName is required", ErrInvalid)
	}
	for _, m := range g.MemberGroups {
		if m == g.ID {
			return fmt.Errorf("%w: directory group cannot contain itself", ErrInvalid)
		}
	}
	return ValidateAttributes(g.Attributes)
}

// ValidateGroup checks the invariants of a user group record (not the
// hierarchy: see CheckParent).
func ValidateGroup(g Group) error {
	switch {
	case !slugRE.MatchString(g.Slug):
		if len(g.Slug) > 64 {
			return &LimitError{Field: "slug", Limit: LimitLength, Max: 63}
		}
		return fmt.Errorf("%w: slug %q must be lower-case letters, digits and dashes", ErrInvalid, g.Slug)
	case g.Name == "":
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case g.Kind == "":
		return fmt.Errorf("%w: kind is required", ErrInvalid)
	case g.Parent != "" && g.Parent == g.ID:
		return fmt.Errorf("%w: group %s cannot be its own parent", ErrCycle, g.Slug)
	case len(g.Meetings) > MaxMeetings:
		return &LimitError{Field: "meetings", Limit: LimitCount, Max: MaxMeetings}
	case !g.Join.Valid():
		return fmt.Errorf("%w: join %q is not open, request or closed", ErrInvalid, g.Join)
	case !g.Governance.Valid():
		return fmt.Errorf("%w: governance %q is not self or managed", ErrInvalid, g.Governance)
	case len(g.Suspensions) > MaxSuspensions:
		return &LimitError{Field: "suspensions", Limit: LimitCount, Max: MaxSuspensions}
	}
	if !g.Type.Valid() {
		return fmt.Errorf("%w: type %q is not social, special-interest or software", ErrInvalid, g.Type)
	}
	if g.Location != nil {
		if err := ValidateLocation(*g.Location); err != nil {
			return err
		}
	}
	if err := validateTags("topics", g.Topics); err != nil {
		return err
	}
	if err := validateTags("products", g.Products); err != nil {
		return err
	}
	if g.MailingList != nil {
		if err := ValidateMailingList(*g.MailingList); err != nil {
			return err
		}
	}
	for i, su := range g.Suspensions {
		f := fmt.Sprintf("suspensions[%d].", i)
		if strings.TrimSpace(su.Reason) == "" {
			return fmt.Errorf("%w: %sreason is required: a suspension states why", ErrInvalid, f)
		}
		if err := checkLens(MaxNameBytes, f+"user", string(su.User), f+"by", su.By); err != nil {
			return err
		}
		if err := checkLen(f+"reason", su.Reason, MaxTextBytes); err != nil {
			return err
		}
	}
	if err := checkLens(MaxNameBytes, "name", g.Name, "kind", string(g.Kind)); err != nil {
		return err
	}
	if err := checkLen("description", g.Description, MaxTextBytes); err != nil {
		return err
	}
	for i, m := range g.Meetings {
		f := fmt.Sprintf("meetings[%d].", i)
		if err := checkLens(MaxNameBytes, f+"id", m.ID, f+"title", m.Title, f+"location", m.Location); err != nil {
			return err
		}
		if err := ValidateMeeting(m); err != nil {
			return fmt.Errorf("%s: %w", f+"id "+m.ID, err)
		}
	}
	return nil
}

// ValidateRole checks the invariants of a role.
func ValidateRole(r Role) error {
	if !slugRE.MatchString(string(r.Name)) {
		if len(r.Name) > 64 {
			return &LimitError{Field: "name", Limit: LimitLength, Max: 63}
		}
		return fmt.Errorf("%w: role name %q must be lower-case letters, digits and dashes", ErrInvalid, r.Name)
	}
	if err := checkLen("description", r.Description, MaxTextBytes); err != nil {
		return err
	}
	if len(r.Permissions) > MaxPermissions {
		return &LimitError{Field: "permissions", Limit: LimitCount, Max: MaxPermissions}
	}
	for i, p := range r.Permissions {
		if err := checkLen(fmt.Sprintf("permissions[%d]", i), string(p), MaxNameBytes); err != nil {
			return err
		}
	}
	return nil
}

// ValidateAttributes checks the extra attributes of a user or directory
// group against MaxAttrDepth, MaxAttrValues, MaxAttrKeyBytes,
// MaxAttrStringBytes and MaxAttrBytes, and that every value is one JSON can
// carry and read back: nil, bool, string, a finite number (float64, an
// integer type, or a json.Number that parses as a float64), []any, []string
// or map[string]any, nested. The error is a *LimitError naming the
// top-level attribute, never a value.
func ValidateAttributes(attrs map[string]any) error {
	if attrs == nil {
		return nil
	}
	w := attrWalker{}
	return w.walk("attributes", attrs, 1)
}

type attrWalker struct {
	values, bytes int
}

func (w *attrWalker) walk(field string, v any, depth int) error {
	if depth > MaxAttrDepth {
		return &LimitError{Field: field, Limit: LimitDepth, Max: MaxAttrDepth}
	}
	if w.values++; w.values > MaxAttrValues {
		return &LimitError{Field: "attributes", Limit: LimitCount, Max: MaxAttrValues}
	}
	add := func(n int) error {
		if w.bytes += n; w.bytes > MaxAttrBytes {
			return &LimitError{Field: "attributes", Limit: LimitSize, Max: MaxAttrBytes}
		}
		return nil
	}
	if err := add(4); err != nil { // separators and quotes, roughly
		return err
	}
	switch x := v.(type) {
	case nil, bool:
		return nil
	case string:
		if err := checkLen(field, x, MaxAttrStringBytes); err != nil {
			return err
		}
		return add(len(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &LimitError{Field: field, Limit: LimitValue}
		}
		return add(24)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return &LimitError{Field: field, Limit: LimitValue}
		}
		return add(24)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return add(24)
	case json.Number:
		// Read back into an any, a number becomes a float64: one that
		// does not fit would make the record unreadable.
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || !json.Valid([]byte(x)) {
			return &LimitError{Field: field, Limit: LimitValue}
		}
		return add(len(x))
	case []string:
		for _, s := range x {
			if err := w.walk(field, s, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []any:
		for _, el := range x {
			if err := w.walk(field, el, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for k, el := range x {
			f := field
			if depth == 1 {
				if len(k) <= MaxAttrKeyBytes {
					f = fmt.Sprintf("attributes[%q]", k)
				}
			}
			if err := checkLen(f+" key", k, MaxAttrKeyBytes); err != nil {
				return err
			}
			if err := add(len(k)); err != nil {
				return err
			}
			if err := w.walk(f, el, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	// Any other type (a struct, a typed map) is refused rather than
	// guessed at: sources put plain JSON values here.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return w.walk(field, rv.String(), depth)
	}
	return &LimitError{Field: field, Limit: LimitValue}
}

// CheckParent reports whether giving group id the parent newParent keeps the
// hierarchy acyclic. parentOf returns the current parent of a group ("" for a
// root) and false if the group does not exist. It returns an error wrapping
// ErrCycle for a cycle and ErrInvalid for an unknown parent.
func CheckParent(id, newParent GroupID, parentOf func(GroupID) (GroupID, bool)) error {
	if newParent == "" {
		return nil
	}
	seen := map[GroupID]bool{}
	for g := newParent; g != ""; {
		if g == id {
			return fmt.Errorf("%w: %s would become its own ancestor", ErrCycle, id)
		}
		if seen[g] {
			return fmt.Errorf("%w: existing hierarchy loops at %s", ErrCycle, g)
		}
		seen[g] = true
		p, ok := parentOf(g)
		if !ok {
			return fmt.Errorf("%w: parent group %s does not exist", ErrInvalid, g)
		}
		g = p
	}
	return nil
}

// JSONTooDeep reports whether the JSON text data nests objects and arrays
// deeper than max. It only counts brackets outside strings: it is meant to
// refuse a deep text before it is decoded (a request body) or kept (an
// encoded record), not to validate it.
func JSONTooDeep(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
