package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Root stands for "no parent" in a kind's list of allowed parents.
const Root GroupKind = ""

// Hierarchy holds the placement rules of user groups: which kinds exist and
// under which kinds of parent each may sit. The zero value is not usable;
// start from DefaultHierarchy.
type Hierarchy struct {
	// Parents maps each known kind to the kinds its parent may have;
	// Root in the list allows a group of the kind at the top. A kind
	// missing from the map is unknown.
	Parents map[GroupKind][]GroupKind
	// Governance maps a kind to who governs its groups (see Governance);
	// a kind missing from the map is GovernManaged. A group's own
	// Governance overrides its kind's.
	Governance map[GroupKind]Governance
}

// DefaultHierarchy is the shape of the user groups' world: the
// international group at the top; regional groups under it (or under a
// larger region); local groups under a region or directly under the
// international group; special-interest groups anywhere. Local and
// special-interest groups govern themselves; the international group and
// the regional groups are managed.
func DefaultHierarchy() Hierarchy {
	return Hierarchy{Parents: map[GroupKind][]GroupKind{
		GroupInternational:   {Root},
		GroupRegional:        {GroupInternational, GroupRegional},
		GroupLocal:           {GroupRegional, GroupInternational},
		GroupSpecialInterest: {Root, GroupInternational, GroupRegional, GroupLocal, GroupSpecialInterest},
	}, Governance: map[GroupKind]Governance{
		GroupInternational:   GovernManaged,
		GroupRegional:        GovernManaged,
		GroupLocal:           GovernSelf,
		GroupSpecialInterest: GovernSelf,
	}}
}

// Kinds returns the known kinds, sorted.
func (h Hierarchy) Kinds() []GroupKind {
	ks := make([]GroupKind, 0, len(h.Parents))
	for k := range h.Parents {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// CheckPlacement checks that g may sit where its Parent puts it: its kind
// is known, the parent's kind is allowed for it, and no sibling (a group
// with the same parent, g itself excluded) has the same name ignoring case.
// parent is the zero Group for a root. It returns an error wrapping
// ErrInvalid that names the rule.
func (h Hierarchy) CheckPlacement(g, parent Group, siblings []Group) error {
	allowed, ok := h.Parents[g.Kind]
	if !ok {
		return fmt.Errorf("%w: kind %q is not one of %v", ErrInvalid, g.Kind, h.Kinds())
	}
	if !slices.Contains(allowed, parent.Kind) {
		if parent.ID == "" {
			return fmt.Errorf("%w: %s group needs a parent (allowed: %s)", ErrInvalid, article(g.Kind), kindList(allowed))
		}
		return fmt.Errorf("%w: %s group may not sit under %s group (allowed: %s)", ErrInvalid, article(g.Kind), article(parent.Kind), kindList(allowed))
	}
	name := FoldName(g.Name)
	for _, s := range siblings {
		if s.ID != g.ID && FoldName(s.Name) == name {
			return fmt.Errorf("%w: %q already has a subgroup named %q (%s)", ErrInvalid, parentName(parent), s.Name, s.Slug)
		}
	}
	return nil
}

// article returns the kind with "a" or "an" before it.
func article(k GroupKind) string {
	if k != "" && strings.ContainsRune("aeiou", rune(k[0])) {
		return "an " + string(k)
	}
	return "a " + string(k)
}

func parentName(p Group) string {
	if p.ID == "" {
		return "the top level"
	}
	return p.Name
}

func kindList(ks []GroupKind) string {
	out := ""
	for i, k := range ks {
		if i > 0 {
			out += ", "
		}
		if k == Root {
			out += "the top level"
		} else {
			out += string(k)
		}
	}
	return out
}

// Violations checks every group of gs against the placement rules, as
// CheckPlacement would for a new write, and returns one line per group
// that breaks one (sorted by slug): data written before a rule existed, or
// under other rules. A group whose parent is missing is reported too.
func (h Hierarchy) Violations(gs []Group) []string {
	byID := make(map[GroupID]Group, len(gs))
	children := map[GroupID][]Group{}
	for _, g := range gs {
		byID[g.ID] = g
		children[g.Parent] = append(children[g.Parent], g)
	}
	var out []string
	for _, g := range gs {
		var parent Group
		if g.Parent != "" {
			p, ok := byID[g.Parent]
			if !ok {
				out = append(out, fmt.Sprintf("%s: its parent %s does not exist", g.Slug, g.Parent))
				continue
			}
			parent = p
		}
		if err := h.CheckPlacement(g, parent, children[g.Parent]); err != nil {
			out = append(out, fmt.Sprintf("%s: %s", g.Slug, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")))
		}
	}
	slices.Sort(out)
	return out
}
