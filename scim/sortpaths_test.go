package scim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// pageIDs pages through query count at a time and returns the ids in
// order, and totalResults.
func pageIDs(t *testing.T, e *env, query string, count int) ([]string, float64) {
	t.Helper()
	var ids []string
	var total float64
	for start := 1; ; start += count {
		r := e.acme(t, "GET", fmt.Sprintf("/Users?%s&startIndex=%d&count=%d", query, start, count), nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, r.status, r.raw)
		}
		total = r.body["totalResults"].(float64)
		res := asList(r.body["Resources"])
		for _, x := range res {
			ids = append(ids, x.(map[string]any)["id"].(string))
		}
		if len(res) < count {
			return ids, total
		}
	}
}

// TestSortPaths: the three ways a sorted page is answered (the userName
// index, the order kept in memory, the bounded heap of a filtered scan)
// give the same order, page after page, and the kept order follows every
// change of the tenant.
func TestSortPaths(t *testing.T) {
	e := newEnv(t)
	const n = 40
	var userNames []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%c%02d@example.com", "bAcD"[i%4], (i*17)%n)
		userNames = append(userNames, name)
		body := map[string]any{"schemas": []string{UserSchema}, "userName": name,
			"title": fmt.Sprintf("T%d", i%5), "active": i%3 != 0}
		if i%7 != 0 { // some without a family name
			body["name"] = map[string]any{"familyName": fmt.Sprintf("%c", "zYxW"[i%4])}
		}
		if r := e.acme(t, "POST", "/Users", body); r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.raw)
		}
	}
	for _, sortBy := range []string{"userName", "name.familyName", "title", "active", "meta.created"} {
		for _, order := range []string{"ascending", "descending"} {
			q := "sortBy=" + sortBy + "&sortOrder=" + order
			for _, count := range []int{1, 7, 100} {
				unfiltered, total := pageIDs(t, e, q, count)
				filtered, ftotal := pageIDs(t, e, q+"&filter=id pr", count)
				if total != n || ftotal != n || len(unfiltered) != n {
					t.Fatalf("%s count %d: totals %v %v, %d ids", q, count, total, ftotal, len(unfiltered))
				}
				if !slices.Equal(unfiltered, filtered) {
					t.Errorf("%s count %d: unfiltered and filtered orders differ\n%v\n%v", q, count, unfiltered, filtered)
				}
			}
		}
	}

	// userName order is that of the folded names.
	ids, _ := pageIDs(t, e, "sortBy=userName", 9)
	var got []string
	for _, id := range ids {
		r := e.acme(t, "GET", "/Users/"+id, nil)
		got = append(got, strings.ToLower(r.body["userName"].(string)))
	}
	want := slices.Clone(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("userName order %v", got)
	}

	// The kept order follows changes: a rename, a deletion, a creation.
	before, _ := pageIDs(t, e, "sortBy=title", 100)
	first, last := before[0], before[len(before)-1]
	if r := e.acme(t, "PATCH", "/Users/"+first, patchJSON(`{"op":"replace","path":"title","value":"ZZZ"}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	after, total := pageIDs(t, e, "sortBy=title", 100)
	if after[len(after)-1] != first || total != n {
		t.Errorf("after a rename the renamed user is not last: %v", after)
	}
	if r := e.acme(t, "DELETE", "/Users/"+last, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	if r := e.acme(t, "POST", "/Users", map[string]any{"schemas": []string{UserSchema}, "userName": "new@example.com", "title": "A"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d", r.status)
	}
	after, total = pageIDs(t, e, "sortBy=title", 100)
	if slices.Contains(after, last) || total != n {
		t.Errorf("after a deletion: total %v, deleted user listed %v", total, slices.Contains(after, last))
	}
	if r := e.acme(t, "GET", "/Users/"+after[0], nil); r.body["userName"] != "new@example.com" {
		t.Errorf("the new user is not first: %s", r.raw)
	}

	// Kept orders patched through many changes (renames both ways,
	// attributes removed, users deleted and created, group changes
	// between) still agree with a filtered pass.
	queries := []string{"sortBy=title", "sortBy=name.familyName&sortOrder=descending", "sortBy=active"}
	for _, q := range queries {
		pageIDs(t, e, q, 100) // keep the order
	}
	for i, id := range after[:12] {
		var body string
		switch i % 4 {
		case 0:
			body = patchJSON(`{"op":"replace","path":"title","value":"T` + itoa(40-i) + `"}`)
		case 1:
			body = patchJSON(`{"op":"remove","path":"name.familyName"},{"op":"replace","path":"active","value":false}`)
		case 2:
			body = patchJSON(`{"op":"replace","path":"name.familyName","value":"a` + itoa(i) + `"},{"op":"remove","path":"title"}`)
		case 3:
			if r := e.acme(t, "DELETE", "/Users/"+id, nil); r.status != http.StatusNoContent {
				t.Fatalf("delete: %d", r.status)
			}
			e.acme(t, "POST", "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "g" + itoa(i)})
			e.acme(t, "POST", "/Users", map[string]any{"schemas": []string{UserSchema}, "userName": "n" + itoa(i) + "@example.com", "title": "T" + itoa(i)})
			continue
		}
		if r := e.acme(t, "PATCH", "/Users/"+id, body); r.status != http.StatusOK {
			t.Fatalf("patch: %d %s", r.status, r.raw)
		}
	}
	for _, q := range queries {
		kept, total := pageIDs(t, e, q, 100)
		scanned, _ := pageIDs(t, e, q+"&filter=id pr", 100)
		if !slices.Equal(kept, scanned) || int(total) != len(scanned) {
			t.Errorf("%s: the kept order drifted from a pass over the tenant\n%v\n%v", q, kept, scanned)
		}
	}
}
