package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errFilter is wrapped by every filter and path syntax error.
var errFilter = errors.New("scim: invalid filter")

// maxFilterLen and maxFilterDepth bound the work a single filter may cause.
const (
	maxFilterLen   = 8 << 10
	maxFilterDepth = 32
)

// attrPath is an attribute path (RFC 7644 §3.10): an optional schema URN,
// an attribute name and an optional sub-attribute name.
type attrPath struct {
	URI  string
	Attr string
	Sub  string
}

func (p attrPath) String() string {
	s := p.Attr
	if p.Sub != "" {
		s += "." + p.Sub
	}
	if p.URI != "" {
		s = p.URI + ":" + s
	}
	return s
}

// expr is a node of a parsed filter (RFC 7644 §3.4.2.2).
type expr interface{ isExpr() }

// compareExpr is "path op value" or "path pr".
type compareExpr struct {
	Path  attrPath
	Op    string // eq ne co sw ew gt ge lt le pr (lower case)
	Value any    // string, float64, bool or nil

	// exact and dateTime come from the served schema's definition of
	// Path (set by resourceSchema.checkFilter): its values compare
	// case-sensitively, or chronologically.
	exact, dateTime bool
}

// logicalExpr is "l and r" or "l or r".
type logicalExpr struct {
	Op   string // and, or
	L, R expr
}

// notExpr is "not (x)".
type notExpr struct{ X expr }

// valuePathExpr is "attr[filter]": some element of the multi-valued
// attribute satisfies Filter, whose paths are relative to the element.
type valuePathExpr struct {
	Path   attrPath
	Filter expr
}

func (*compareExpr) isExpr()   {}
func (*logicalExpr) isExpr()   {}
func (*notExpr) isExpr()       {}
func (*valuePathExpr) isExpr() {}

// patchPath is a PATCH path (RFC 7644 §3.5.2): attrPath, or
// valuePath ["." subAttr].
type patchPath struct {
	Path   attrPath // Path.Sub is the sub-attribute after the filter, if any
	Filter expr     // nil without "[...]"
}

// parseFilter parses a filter expression.
func parseFilter(s string) (expr, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("%w: filter longer than %d bytes", errFilter, maxFilterLen)
	}
	p := &parser{s: s}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errorf("unexpected %q", p.rest())
	}
	return e, nil
}

// parsePatchPath parses the "path" of a PATCH operation.
func parsePatchPath(s string) (patchPath, error) {
	if len(s) > maxFilterLen {
		return patchPath{}, fmt.Errorf("%w: path longer than %d bytes", errFilter, maxFilterLen)
	}
	p := &parser{s: strings.TrimSpace(s)}
	ap, err := p.parseAttrPath()
	if err != nil {
		return patchPath{}, err
	}
	pp := patchPath{Path: ap}
	if p.peek() == '[' {
		if ap.Sub != "" {
			return patchPath{}, p.errorf("sub-attribute before '['")
		}
		p.pos++
		f, err := p.parseOr(1)
		if err != nil {
			return patchPath{}, err
		}
		p.skipSpace()
		if p.peek() != ']' {
			return patchPath{}, p.errorf("missing ']'")
		}
		p.pos++
		pp.Filter = f
		if p.peek() == '.' {
			p.pos++
			name := p.scanName()
			if !validName(name) {
				return patchPath{}, p.errorf("bad sub-attribute %q", name)
			}
			pp.Path.Sub = name
		}
	}
	if !p.eof() {
		return patchPath{}, p.errorf("unexpected %q", p.rest())
	}
	return pp, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errFilter, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) skipSpace() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// word returns the next run of letters without consuming it.
func (p *parser) word() string {
	i := p.pos
	for i < len(p.s) && isAlpha(p.s[i]) {
		i++
	}
	return p.s[p.pos:i]
}

// keyword consumes kw (case-insensitively) when it is the next whole word.
func (p *parser) keyword(kw string) bool {
	p.skipSpace()
	w := p.word()
	if !strings.EqualFold(w, kw) {
		return false
	}
	end := p.pos + len(w)
	if end < len(p.s) && isNameChar(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *parser) parseOr(depth int) (expr, error) {
	if depth > maxFilterDepth {
		return nil, p.errorf("nested too deeply")
	}
	return p.parseChain(depth, "or", p.parseAnd)
}

func (p *parser) parseAnd(depth int) (expr, error) {
	return p.parseChain(depth, "and", p.parseUnary)
}

// parseChain parses operands joined by the keyword op, left-associative.
func (p *parser) parseChain(depth int, op string, operand func(int) (expr, error)) (expr, error) {
	l, err := operand(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword(op) {
		r, err := operand(depth)
		if err != nil {
			return nil, err
		}
		l = &logicalExpr{Op: op, L: l, R: r}
	}
	return l, nil
}

// parseNested parses a filter between the opening character at p.pos and
// closing, one level deeper.
func (p *parser) parseNested(depth int, closing byte) (expr, error) {
	p.pos++
	x, err := p.parseOr(depth + 1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != closing {
		return nil, p.errorf("missing '%c'", closing)
	}
	p.pos++
	return x, nil
}

func (p *parser) parseUnary(depth int) (expr, error) {
	p.skipSpace()
	save := p.pos
	if p.keyword("not") {
		p.skipSpace()
		if p.peek() == '(' {
			x, err := p.parseNested(depth, ')')
			if err != nil {
				return nil, err
			}
			return &notExpr{X: x}, nil
		}
		p.pos = save // an attribute called "not"
	}
	if p.peek() == '(' {
		return p.parseNested(depth, ')')
	}
	ap, err := p.parseAttrPath()
	if err != nil {
		return nil, err
	}
	if p.peek() == '[' {
		if ap.Sub != "" {
			return nil, p.errorf("sub-attribute before '['")
		}
		f, err := p.parseNested(depth, ']')
		if err != nil {
			return nil, err
		}
		vp := &valuePathExpr{Path: ap, Filter: f}
		// attr[filter].sub op value (a common extension, e.g. Entra's
		// emails[type eq "work"].value eq "x"): fold the comparison
		// into the value filter.
		if p.peek() == '.' {
			p.pos++
			name := p.scanName()
			if !validName(name) {
				return nil, p.errorf("bad sub-attribute %q", name)
			}
			c, err := p.parseComparison(attrPath{Attr: name})
			if err != nil {
				return nil, err
			}
			vp.Filter = &logicalExpr{Op: "and", L: f, R: c}
		}
		return vp, nil
	}
	return p.parseComparison(ap)
}

func (p *parser) parseComparison(ap attrPath) (expr, error) {
	p.skipSpace()
	op := strings.ToLower(p.word())
	switch op {
	case "pr":
		p.pos += 2
		return &compareExpr{Path: ap, Op: op}, nil
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		p.pos += 2
	default:
		return nil, p.errorf("expected an operator after %q", ap.String())
	}
	if p.eof() || p.peek() != ' ' {
		return nil, p.errorf("expected a space after %q", op)
	}
	p.skipSpace()
	v, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case bool:
		// RFC 7644 §3.4.2.2: only eq and ne apply to booleans.
		if op != "eq" && op != "ne" {
			return nil, p.errorf("%q cannot compare a boolean", op)
		}
	case nil:
	default:
		if isDateTime(ap) {
			if s, ok := v.(string); !ok || (op != "co" && op != "sw" && op != "ew" && !validDateTime(s)) {
				return nil, p.errorf("%s needs a dateTime value", ap.String())
			}
		}
	}
	return &compareExpr{Path: ap, Op: op, Value: v}, nil
}

func (p *parser) parseValue() (any, error) {
	if p.peek() == '"' {
		i := p.pos + 1
		for i < len(p.s) {
			switch p.s[i] {
			case '\\':
				i += 2
				continue
			case '"':
				var s string
				if err := json.Unmarshal([]byte(p.s[p.pos:i+1]), &s); err != nil {
					return nil, p.errorf("bad string: %v", err)
				}
				p.pos = i + 1
				return s, nil
			}
			i++
		}
		return nil, p.errorf("unterminated string")
	}
	i := p.pos
	for i < len(p.s) && !strings.ContainsRune(" \t\r\n)]", rune(p.s[i])) {
		i++
	}
	tok := p.s[p.pos:i]
	switch strings.ToLower(tok) {
	case "true":
		p.pos = i
		return true, nil
	case "false":
		p.pos = i
		return false, nil
	case "null":
		p.pos = i
		return nil, nil
	}
	var f float64
	if tok == "" || json.Unmarshal([]byte(tok), &f) != nil {
		return nil, p.errorf("bad comparison value %q", tok)
	}
	p.pos = i
	return f, nil
}

// scanName consumes an attribute name: ALPHA *(nameChar), or "$ref".
func (p *parser) scanName() string {
	i := p.pos
	for i < len(p.s) && (isNameChar(p.s[i]) || p.s[i] == '$') {
		i++
	}
	name := p.s[p.pos:i]
	p.pos = i
	return name
}

// parseAttrPath parses [URI ":"] ATTRNAME ["." subAttr].
func (p *parser) parseAttrPath() (attrPath, error) {
	p.skipSpace()
	i := p.pos
	for i < len(p.s) && (isNameChar(p.s[i]) || p.s[i] == ':' || p.s[i] == '.' || p.s[i] == '$') {
		i++
	}
	tok := p.s[p.pos:i]
	if tok == "" {
		return attrPath{}, p.errorf("expected an attribute path")
	}
	var ap attrPath
	rest := tok
	if urn, ok := knownSchema(tok); ok {
		// A bare schema URN used as a path (PATCH of a whole extension).
		p.pos = i
		return attrPath{URI: urn}, nil
	}
	if urn, after, ok := splitKnownSchema(tok); ok {
		ap.URI, rest = urn, after
	} else if c := strings.LastIndexByte(tok, ':'); c >= 0 {
		if !strings.HasPrefix(strings.ToLower(tok), "urn:") {
			return attrPath{}, p.errorf("bad attribute path %q", tok)
		}
		ap.URI, rest = tok[:c], tok[c+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || (hasSub && !validName(sub)) {
		return attrPath{}, p.errorf("bad attribute path %q", tok)
	}
	ap.Attr, ap.Sub = name, sub
	p.pos = i
	return ap, nil
}

func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameChar(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '_'
}
