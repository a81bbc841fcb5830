package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// This file holds permissions: Permissions and Check, and Explain, which
// says step by step why a decision came out as it did.

// Permissions returns the permissions user u has in group g, sorted: those
// of the roles u holds in g, plus those of the roles with Inherit that u
// holds in an ancestor of g, under the governance rule (see Governance and
// govCtx.allows).
func (e *Engine) Permissions(u UserID, g GroupID) []Permission {
	e.mu.RLock()
	defer e.mu.RUnlock()
	gr, ok := e.groups[g]
	if !ok {
		return nil
	}
	_, gc, gs := e.reaching(u, gr, nil)
	var out []Permission
	for _, gt := range gs {
		r, ok := e.roles[gt.role]
		if !ok {
			continue
		}
		for _, p := range r.Permissions {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				out = append(out, p)
			}
		}
		for _, p := range SelfGovernment {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// reaching returns the ancestors of group gr, u's governance context in
// gr and the grants of u that reach gr: those held in gr or in an
// ancestor. pred, when not nil, records how directory groups nest (for
// Explain's steps).
func (e *Engine) reaching(u UserID, gr Group, pred map[DirGroupID]DirGroupID) ([]GroupID, govCtx, []grant) {
	anc := e.ancestors(gr.ID)
	gc := e.govern(u, gr, anc)
	return anc, gc, e.grants(u, func(x GroupID) bool { return x == gr.ID || slices.Contains(anc, x) }, pred)
}

// Check reports whether user u has permission p in group g (see
// Permissions). It walks only the user's directory groups and g's
// ancestors.
func (e *Engine) Check(u UserID, p Permission, g GroupID) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	gr, ok := e.groups[g]
	if !ok {
		return false
	}
	_, gc, gs := e.reaching(u, gr, nil)
	for _, gt := range gs {
		if r, ok := e.roles[gt.role]; ok {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				return true
			}
		}
	}
	return false
}

// Explain answers "may user u do p in group g, and why?". For a yes, Steps
// is the first sufficient chain of facts found, preferring a role held in g
// itself over one held in an ancestor (nearest first), and a manual
// membership over a rule; for a no, Reason says why.
func (e *Engine) Explain(u UserID, p Permission, g GroupID) Explanation {
	ex := Explanation{User: u, Permission: p, Group: g}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ur, ok := e.user(u)
	if !ok {
		ex.Reason = fmt.Sprintf("unknown user %s", u)
		return ex
	}
	grp, ok := e.groups[g]
	if !ok {
		ex.Reason = fmt.Sprintf("unknown group %s", g)
		return ex
	}
	ex.Governance = e.hier.GovernanceOf(grp)
	if !ur.active {
		ex.Reason = fmt.Sprintf("user %s is inactive and holds no membership", e.userLabel(u))
		return ex
	}
	pred := map[DirGroupID]DirGroupID{}
	anc, gc, gs := e.reaching(u, grp, pred)
	// Order: g first, then ancestors nearest first; within a group manual
	// memberships before rules, then by role and origin.
	slices.SortFunc(gs, func(a, b grant) int {
		if c := cmp.Compare(gc.level(a.group), gc.level(b.group)); c != 0 {
			return c
		}
		if c := cmp.Compare(boolInt(a.rule != ""), boolInt(b.rule != "")); c != 0 {
			return c
		}
		return cmpGrant(a, b)
	})
	var heldHere, noInherit, fenced, suspended []string
	for _, gr := range gs {
		r, known := e.roles[gr.role]
		allowed, note := gc.allows(r, gr.group, p)
		grants := known && slices.Contains(r.Permissions, p)
		switch {
		case known && allowed && gr.group == g:
			ex.Allowed = true
			ex.Steps = append(e.membershipSteps(u, gr, pred), Step{
				Kind:   "role",
				Text:   fmt.Sprintf("role %s grants %s", gr.role, p),
				Object: string(gr.role),
			})
			if note == noteSelf {
				ex.Steps[len(ex.Steps)-1].Text = fmt.Sprintf("role %s grants %s", gr.role, PermMembersManage)
			}
			if st, ok := e.governanceStep(&gc, note, gr.role, p); ok {
				ex.Steps = append(ex.Steps, st)
			}
			return ex
		case known && allowed:
			ex.Allowed = true
			ex.Steps = append(e.membershipSteps(u, gr, pred), Step{
				Kind:   "role",
				Text:   fmt.Sprintf("role %s grants %s and flows down to descendant groups", gr.role, p),
				Object: string(gr.role),
			})
			// Parent steps from the ancestor down to g.
			for i := gc.level(gr.group) - 1; i >= 0; i-- {
				child := g
				if i > 0 {
					child = anc[i-1]
				}
				ex.Steps = append(ex.Steps, Step{
					Kind:   "parent",
					Text:   fmt.Sprintf("%s is the parent of %s", e.groupLabel(anc[i]), e.groupLabel(child)),
					Object: string(child),
				})
			}
			if st, ok := e.governanceStep(&gc, note, gr.role, p); ok {
				ex.Steps = append(ex.Steps, st)
			}
			return ex
		case note == noteSuspended:
			suspended = appendOnce(suspended, string(gr.role))
		case note == noteFenced:
			fenced = appendOnce(fenced, fmt.Sprintf("%s in %s", gr.role, e.groupLabel(gr.group)))
		case gr.group == g:
			heldHere = appendOnce(heldHere, string(gr.role))
		case grants && !r.Inherit:
			noInherit = appendOnce(noInherit, fmt.Sprintf("%s in %s", gr.role, e.groupLabel(gr.group)))
		}
	}
	switch {
	case len(suspended) > 0:
		who := "the group is suspended"
		if !gc.suspAll {
			who = fmt.Sprintf("user %s is suspended there", e.userLabel(u))
		}
		ex.Reason = fmt.Sprintf("user %s holds %s in %s, but %s: its roles give only %s until the suspension is lifted",
			e.userLabel(u), strings.Join(suspended, ", "), e.groupLabel(g), who, joinPerms(ReadOnly))
	case len(fenced) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s, which grants %s and flows down, but %s governs itself: from above only oversight (%s) crosses it",
			e.userLabel(u), strings.Join(fenced, " and "), p, e.groupLabel(gc.fenceGroup()), joinPerms(Oversight))
	case len(noInherit) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s, which grants %s but does not flow down to %s",
			e.userLabel(u), strings.Join(noInherit, " and "), p, e.groupLabel(g))
	case len(heldHere) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s in %s, but no role there grants %s (and no inheriting role in an ancestor does)",
			e.userLabel(u), strings.Join(heldHere, ", "), e.groupLabel(g), p)
	case len(gs) > 0:
		ex.Reason = fmt.Sprintf("no role user %s holds in %s or its ancestors grants %s",
			e.userLabel(u), e.groupLabel(g), p)
	default:
		ex.Reason = fmt.Sprintf("user %s holds no role in %s or its ancestors", e.userLabel(u), e.groupLabel(g))
	}
	if gc.self && slices.Contains(SelfGovernment, p) && !ex.Allowed && len(suspended) == 0 {
		ex.Reason += fmt.Sprintf("; %s governs itself: its organizers (a role there that grants %s) hold %s", e.groupLabel(g), PermMembersManage, joinPerms(SelfGovernment))
	}
	return ex
}

// membershipSteps returns the facts that make u hold gr.role in gr.group.
func (e *Engine) membershipSteps(u UserID, gr grant, pred map[DirGroupID]DirGroupID) []Step {
	if gr.rule == "" {
		return []Step{{
			Kind:   "manual",
			Text:   fmt.Sprintf("user %s was given role %s in %s manually", e.userLabel(u), gr.role, e.groupLabel(gr.group)),
			Object: MembershipKey(gr.group, u, gr.role),
			Source: string(gr.origin),
		}}
	}
	// The path from the user up to the rule's directory group.
	var path []DirGroupID
	for d := gr.dir; d != ""; d = pred[d] {
		path = append(path, d)
		if len(path) > len(pred) { // defensive: pred never loops
			break
		}
	}
	slices.Reverse(path)
	steps := make([]Step, 0, len(path)+2)
	steps = append(steps, Step{
		Kind:   "dirgroup-member",
		Text:   fmt.Sprintf("user %s is a direct member of directory group %s", e.userLabel(u), e.dirLabel(path[0])),
		Object: string(path[0]),
		Source: e.dir(path[0]).source,
	})
	for i := 1; i < len(path); i++ {
		steps = append(steps, Step{
			Kind:   "dirgroup-nested",
			Text:   fmt.Sprintf("directory group %s is nested in directory group %s", e.dirLabel(path[i-1]), e.dirLabel(path[i])),
			Object: string(path[i]),
			Source: e.dir(path[i]).source,
		})
	}
	steps = append(steps, Step{
		Kind:   "rule",
		Text:   fmt.Sprintf("rule %s binds directory group %s to role %s in %s", gr.rule, e.dirLabel(gr.dir), gr.role, e.groupLabel(gr.group)),
		Object: string(gr.rule),
		Source: string(gr.origin),
	})
	return steps
}

func (e *Engine) userLabel(u UserID) string {
	ur, ok := e.user(u)
	if !ok {
		return string(u)
	}
	return fmt.Sprintf("%s (tenant %s)", ur.userName, ur.tenant)
}

func (e *Engine) groupLabel(g GroupID) string {
	gr, ok := e.groups[g]
	if !ok {
		return string(g)
	}
	return fmt.Sprintf("%s (%s)", gr.Slug, gr.Name)
}

func (e *Engine) dirLabel(d DirGroupID) string {
	dr := e.dir(d)
	if dr == nil {
		return string(d)
	}
	return fmt.Sprintf("%q (tenant %s)", dr.name, dr.tenant)
}
