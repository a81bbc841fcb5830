package policy

import (
	"cmp"
	"slices"
)

// This file holds small helpers over sorted slices and copies.

func cloneList(l *MailingList) *MailingList {
	if l == nil {
		return nil
	}
	c := MailingList{DirGroups: slices.Clone(l.DirGroups), Addresses: slices.Clone(l.Addresses)}
	return &c
}

func cloneRole(r Role) Role {
	r.Permissions = slices.Clone(r.Permissions)
	r.Products = slices.Clone(r.Products)
	return r
}

// The clone functions below copy a record deeply: the copy shares no
// slice, map or pointer with the original (TestCloneShares checks every
// field, so a new one cannot be forgotten).

func cloneTenant(t Tenant) Tenant {
	t.Domains = slices.Clone(t.Domains)
	return t
}

func cloneUser(u User) User {
	u.Emails = slices.Clone(u.Emails)
	u.Location = cloneLocation(u.Location)
	u.Attributes = cloneAttributes(u.Attributes)
	return u
}

func cloneDirGroup(g DirGroup) DirGroup {
	g.MemberUsers = slices.Clone(g.MemberUsers)
	g.MemberGroups = slices.Clone(g.MemberGroups)
	g.Attributes = cloneAttributes(g.Attributes)
	return g
}

func cloneGroup(g Group) Group {
	g.Meetings = slices.Clone(g.Meetings)
	g.Suspensions = slices.Clone(g.Suspensions)
	g.MailingList = cloneList(g.MailingList)
	g.Topics, g.Products = slices.Clone(g.Topics), slices.Clone(g.Products)
	g.Location = cloneLocation(g.Location)
	return g
}

func cloneDelta(d MembersChange) MembersChange {
	return MembersChange{Add: slices.Clone(d.Add), Remove: slices.Clone(d.Remove)}
}

func cloneLocation(l *Location) *Location {
	if l == nil {
		return nil
	}
	c := *l
	if l.Coordinates != nil {
		p := *l.Coordinates
		c.Coordinates = &p
	}
	return &c
}

// cloneAttributes copies a map of JSON-compatible values, the objects and
// arrays in it too.
func cloneAttributes(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneJSONValue(v)
	}
	return c
}

func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneAttributes(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneJSONValue(e)
		}
		return c
	case []string:
		return slices.Clone(v)
	}
	return v // a string, number, bool or nil: immutable
}

func sortedDistinct[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func addSorted[T cmp.Ordered](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted[T cmp.Ordered](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

func cmpMkey(a, b mkey) int {
	if c := cmp.Compare(a.g, b.g); c != 0 {
		return c
	}
	if c := cmp.Compare(a.u, b.u); c != 0 {
		return c
	}
	return cmp.Compare(a.r, b.r)
}

func addSortedBy[T any](s []T, v T, f func(T, T) int) []T {
	i, found := slices.BinarySearchFunc(s, v, f)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSortedBy[T any](s []T, v T, f func(T, T) int) []T {
	i, found := slices.BinarySearchFunc(s, v, f)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

func setOrDelete[K comparable, V any](m map[K][]V, k K, v []V) {
	if len(v) == 0 {
		delete(m, k)
		return
	}
	m[k] = v
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
