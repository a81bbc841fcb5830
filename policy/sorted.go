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
	return r
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
