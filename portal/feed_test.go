package portal_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	ical "github.com/emersion/go-ical"
)

// checkFeed reads a calendar feed with go-ical and checks that the
// meeting titled title repeats monthly on the second Tuesday at 18:30
// London time, on both sides of the change to summer time.
func checkFeed(t *testing.T, feedURL, title string) {
	t.Helper()
	resp, err := http.Get(strings.TrimSpace(feedURL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed %s: %d", feedURL, resp.StatusCode)
	}
	cal, err := ical.NewDecoder(resp.Body).Decode()
	if err != nil {
		t.Fatalf("feed does not parse: %v", err)
	}
	london, _ := time.LoadLocation("Europe/London")
	for _, ev := range cal.Events() {
		if s, _ := ev.Props.Text(ical.PropSummary); s != title {
			continue
		}
		set, err := ev.RecurrenceSet(time.UTC)
		if err != nil || set == nil {
			t.Fatalf("%s does not recur: %v", title, err)
		}
		var got []string
		for _, o := range set.All() {
			got = append(got, o.In(london).Format("2 Jan 15:04 MST"))
		}
		want := "11 Mar 18:30 GMT|8 Apr 18:30 BST|13 May 18:30 BST|10 Jun 18:30 BST|8 Jul 18:30 BST|12 Aug 18:30 BST"
		if strings.Join(got, "|") != want {
			t.Errorf("%s expands to %v, want %s", title, got, want)
		}
		return
	}
	t.Errorf("the feed has no %q", title)
}
