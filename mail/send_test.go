package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestMarkdownSanitised: an announcement's Markdown arrives rendered in
// the HTML part, with whatever scripting the author typed removed, and as
// its source in the text part.
func TestMarkdownSanitised(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := Queue(tx, Announcement{Group: w.grp["lug"], Subject: "Markdown", AuthorName: "Alice",
			Body: "We meet **on Friday**.\n\n- talks\n- [the venue](https://venue.example/map)\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)>"}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	process(t, s)
	msgs := mp.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	html, text := msgs[0].Parts["text/html"], msgs[0].Parts["text/plain"]
	for _, want := range []string{"<strong>on Friday</strong>", "<li>talks</li>", `href="https://venue.example/map"`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %s:\n%s", want, html)
		}
	}
	for _, bad := range []string{"<script", "javascript:", "onerror", "alert(1)"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML part keeps %s:\n%s", bad, html)
		}
	}
	if !strings.Contains(text, "We meet **on Friday**.") {
		t.Errorf("text part:\n%s", text)
	}
}

// TestDKIMSigned: with a key configured every message carries a DKIM
// signature that verifies (go-msgauth, the public key served as the DNS
// record would be) and that fails once the body is changed.
func TestDKIMSigned(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s := w.service(mp.smtpPort, func(c *Config) {
		c.Sender = &SMTP{Host: "127.0.0.1", Port: mp.smtpPort, DKIM: &DKIM{Domain: "roster.example", Selector: "mail2031", Key: key}}
	})
	process(t, s)
	w.announce("lug", "Signed")
	process(t, s)
	opts := &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name != "mail2031._domainkey.roster.example" {
			t.Errorf("looked up %s", name)
		}
		return []string{"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	}}
	raws := mp.Raw()
	if len(raws) != 3 {
		t.Fatalf("%d messages", len(raws))
	}
	for _, raw := range raws {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), opts)
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "roster.example" {
			t.Fatalf("verification %+v, %v\n%s", vs, err, raw)
		}
		i := bytes.Index(raw, []byte("See you soon."))
		if i < 0 {
			t.Fatalf("body not found in\n%s", raw)
		}
		tampered := slices.Concat(raw[:i], []byte("See you never"), raw[i+len("See you soon."):])
		vs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), opts)
		if err != nil || len(vs) != 1 || vs[0].Err == nil {
			t.Errorf("a changed body still verifies: %+v, %v", vs, err)
		}
	}
}

// TestRateLimitPerDomain: with vendor.example limited to one message
// every two seconds, the second vendor.example member of a group waits
// (deferred, no attempt counted) while acme.example's goes at once; once
// the time has come, it goes too.
func TestRateLimitPerDomain(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, func(c *Config) {
		c.RateLimits = RateLimits{Domains: map[string]float64{"vendor.example": 0.5}}
		c.Workers = 1
	})
	process(t, s)
	j := w.announce("lug", "Slowly")
	process(t, s)
	if got, want := mp.recipients(), []string{"alice@vendor.example", "carol@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("first pass reached %v, want %v", got, want)
	}
	var st Status
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) { st, err = JobStatus(tx, j.ID); return })
	if st.Counts[StateQueued] != 1 || st.Counts[StateSent] != 2 {
		t.Fatalf("status %+v", st.Counts)
	}
	w.clock.Advance(3 * time.Second)
	process(t, s)
	if got, want := mp.recipients(), []string{"alice@vendor.example", "bob@vendor.example", "carol@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("after the wait %v, want %v", got, want)
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(RateLimits{PerDomain: 2, Domains: map[string]float64{"slow.example": 0.5, "free.example": 0}})
	tests := []struct {
		domain string
		at     time.Duration
		want   time.Duration
	}{
		{"a.example", 0, 0},                       // burst of two
		{"a.example", 0, 0},                       //
		{"a.example", 0, 500 * time.Millisecond},  // then one every 500 ms
		{"a.example", 0, 1000 * time.Millisecond}, // (reserved: the next waits longer)
		{"a.example", 0, 1500 * time.Millisecond}, // too long: not reserved
		{"a.example", time.Second, 500 * time.Millisecond},
		{"b.example", 0, 0},                            // domains are independent
		{"slow.example", 0, 0},                         // burst of one
		{"slow.example", 0, 2 * time.Second},           // not reserved
		{"slow.example", 2 * time.Second, 0},           //
		{"free.example", 0, 0}, {"free.example", 0, 0}, // no limit
	}
	for i, tt := range tests {
		if got := l.reserve(tt.domain, now.Add(tt.at), time.Second); got != tt.want {
			t.Errorf("%d: reserve(%s, +%v) = %v, want %v", i, tt.domain, tt.at, got, tt.want)
		}
	}
}

// TestParentOrganizersOnly: an announcement from the LUG up to its RUG's
// organizers reaches them (dave) and not the RUG's other members (erin),
// and says whom it is to.
func TestParentOrganizersOnly(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := tx.AddMembership(policy.Membership{User: w.ids["dave"], Group: w.grp["rug"].ID, Role: "organizer", Origin: policy.OriginManual})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	err = w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := Queue(tx, Announcement{Group: w.grp["lug"], Groups: []policy.GroupID{w.grp["rug"].ID}, Roles: []policy.RoleName{"organizer", "admin"},
			ToName: "the organizers of RUG Europe", Subject: "Speakers wanted", Body: "Who can talk in May?"}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	process(t, s)
	msgs := mp.messages()
	if len(msgs) != 1 || msgs[0].To != "dave@vendor.example" {
		t.Fatalf("recipients %v, want dave only", mp.recipients())
	}
	if !strings.Contains(msgs[0].Parts["text/plain"], "From LUG London to the organizers of RUG Europe:") {
		t.Errorf("text part:\n%s", msgs[0].Parts["text/plain"])
	}
}

// TestRSVPReminder: the day before a meeting, those who said they are
// going (alice) get one reminder; those who said no (bob), who never
// answered (carol) or who are not members (erin) get none, and the
// reminder is not repeated.
func TestRSVPReminder(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	start := time.Date(2031, 3, 7, 18, 30, 0, 0, time.UTC) // 57.5 hours on
	m := policy.Meeting{ID: "5f1c0e6a-0000-4000-8000-000000000002", Title: "March meetup", Start: start, End: start.Add(2 * time.Hour),
		TimeZone: "Europe/London", Location: "The Pub"}
	w.updateGroup("lug", func(g *policy.Group) { g.Meetings = append(g.Meetings, m) })
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, r := range []struct {
			name, tenant string
			going        bool
		}{{"alice", "vendor", true}, {"bob", "vendor", false}, {"erin", "vendor", true}} {
			rec := policy.RSVP{Group: w.grp["lug"].ID, Meeting: m.ID, User: w.ids[r.name], Tenant: policy.TenantID(r.tenant), Going: r.going}
			b, _ := json.Marshal(rec)
			if err := tx.PutRecord("rsvps", policy.RSVPKey(rec.Group, rec.Meeting, rec.User), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	process(t, s) // the invitation
	mp.clear()
	w.clock.Advance(24 * time.Hour) // 33.5 hours before: too early
	process(t, s)
	if got := mp.recipients(); len(got) != 0 {
		t.Fatalf("reminded too early: %v", got)
	}
	w.clock.Advance(10 * time.Hour) // 23.5 hours before
	process(t, s)
	msgs := mp.messages()
	if len(msgs) != 1 || msgs[0].To != "alice@vendor.example" || msgs[0].Subject != "Tomorrow: March meetup" ||
		!strings.Contains(msgs[0].Parts["text/plain"], "The Pub") {
		t.Fatalf("reminders %v", msgs)
	}
	w.clock.Advance(time.Hour)
	process(t, s)
	if got := mp.recipients(); len(got) != 1 {
		t.Errorf("reminded again: %v", got)
	}
}

// stopAfter sends through next and cancels the pass after n messages
// went out, as a restart in the middle of a large announcement would.
type stopAfter struct {
	next   Sender
	n      int64
	sent   atomic.Int64
	cancel context.CancelFunc
}

func (s *stopAfter) Send(ctx context.Context, m *Message) error {
	err := s.next.Send(ctx, m)
	if err == nil && s.sent.Add(1) == s.n {
		s.cancel()
	}
	return err
}

// TestRestartMidQueue: a pass stopped after 25 of 120 messages, and a new
// Service on the same store (a restart), together deliver every message
// exactly once: nothing is sent twice, nothing is lost.
func TestRestartMidQueue(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for i := range 117 {
			name := fmt.Sprintf("m%03d", i)
			u, err := tx.CreateUser("vendor", policy.User{UserName: name, Active: true, Source: "test", Emails: []policy.Email{{Value: name + "@vendor.example", Primary: true}}})
			if err != nil {
				return err
			}
			if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: w.grp["lug"].ID, Role: "member", Origin: policy.OriginManual}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := &stopAfter{next: &SMTP{Host: "127.0.0.1", Port: mp.smtpPort}, n: 25, cancel: cancel}
	s1 := w.service(mp.smtpPort, func(c *Config) { c.Sender = stop })
	process(t, s1)
	w.announce("lug", "Everyone")
	if err := s1.Process(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped pass: %v", err)
	}
	first := len(mp.recipients())
	if first < 25 || first >= 120 {
		t.Fatalf("%d delivered before the stop", first)
	}
	w.clock.Advance(10 * time.Minute) // past the backoff of any send the stop cut
	process(t, w.service(mp.smtpPort, nil))
	got := mp.recipients()
	seen := map[string]int{}
	for _, r := range got {
		seen[r]++
	}
	for r, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d copies", r, n)
		}
	}
	if len(got) != 120 || len(seen) != 120 {
		t.Errorf("%d messages to %d recipients, want 120 each once (%d before the restart)", len(got), len(seen), first)
	}
}
