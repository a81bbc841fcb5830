package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"type":"user.created"}`)
	// The example of the Standard Webhooks specification.
	key, _ := signingKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	h := http.Header{}
	now := time.Unix(1700000000, 0)
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", "1700000000")
	h.Set("webhook-signature", "v1,bogus "+Sign([]byte(testSecret), "msg_1", now.Unix(), body))
	if err := Verify(testSecret, h, body, now, time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Verify(testSecret, h, append(body, ' '), now, time.Minute); err == nil {
		t.Error("Verify accepted a changed body")
	}
	if err := Verify(testSecret, h, body, now.Add(time.Hour), time.Minute); err == nil {
		t.Error("Verify accepted an old timestamp")
	}
}

// TestWebhookEveryEventInOrder drives users, groups, meetings, manual and
// rule memberships through a receiver that fails some deliveries with 500,
// never answers others, and is restarted, while the Service itself is
// restarted: every event arrives, signed, in order per subject, none
// acknowledged twice but for one in flight at the restart, and the
// effective-membership events add up to what the engine computes.
func TestWebhookEveryEventInOrder(t *testing.T) {
	rcv := newReceiver(t, testSecret, func(n int) action {
		switch {
		case n%7 == 0:
			return answerNever
		case n%5 == 0 || n%5 == 1 && n > 20 && n < 30:
			return answer500
		}
		return answerOK
	})
	e := newEnv(t)
	e.start(webhookTarget("chat", rcv.url()))

	rug := e.createGroup("rug", "")
	lug := e.createGroup("lug", rug.ID)
	alice := e.createUser("acme", "alice")
	bob := e.createUser("acme", "bob")
	carol := e.createUser("globex", "carol")
	e.join(rug.ID, alice.ID, demo.RoleMember)
	e.join(lug.ID, carol.ID, demo.RoleMember)
	e.join(rug.ID, carol.ID, demo.RoleOrganizer)
	rcv.restart()
	e.update(func(tx store.Tx) error {
		g, err := tx.Group(lug.ID)
		if err != nil {
			return err
		}
		start := time.Date(2030, 1, 8, 18, 30, 0, 0, time.UTC)
		g.Meetings = []policy.Meeting{{ID: "m1", Title: "Kick-off", Start: start, End: start.Add(time.Hour)}}
		_, err = tx.UpdateGroup(g)
		return err
	})
	waitFor(t, "some deliveries", func() bool { return len(rcv.events()) > 5 })
	e.stop() // a restart of the Service: its cursor is kept
	e.bindDirGroup("acme", "speakers", lug.ID, demo.RoleSpeaker, bob.ID)
	e.start(webhookTarget("chat", rcv.url()))
	e.setActive(carol, false)
	e.leave(rug.ID, alice.ID, demo.RoleMember)
	rcv.restart()
	for i := range 10 {
		e.createUser("acme", "user-"+string(rune('a'+i)))
	}
	end := e.createGroup("end", "")
	waitFor(t, "the last group event", func() bool {
		return rcv.has(func(ev Event) bool { return ev.Type == "group.created" && ev.Subject == "group:"+string(end.ID) })
	})
	waitFor(t, "the target to catch up", func() bool {
		st, _ := e.svc.TargetStatus(context.Background(), "chat")
		return st.LagEvents == 0
	})

	rcv.mu.Lock()
	bad, attempts := rcv.bad, rcv.attempts
	dups := 0
	for _, n := range rcv.ackedIDs {
		dups += n - 1
	}
	rcv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d deliveries with a bad signature", bad)
	}
	if dups > 1 {
		t.Errorf("%d events acknowledged more than once", dups)
	}
	evs := rcv.events()
	t.Logf("%d events acknowledged in %d attempts", len(evs), attempts)
	if testing.Verbose() {
		dumpEvents(t, evs)
	}

	// In order per subject.
	lastSeq := map[string]uint64{}
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if ev.Seq < lastSeq[ev.Subject] {
			t.Errorf("%s: event %s (seq %d) after seq %d", ev.Subject, ev.Type, ev.Seq, lastSeq[ev.Subject])
		}
		lastSeq[ev.Subject] = ev.Seq
	}

	// Every fact since the start has its event.
	var entries []policy.Change
	_ = e.st.View(context.Background(), func(tx store.Tx) error {
		var err error
		entries, err = tx.Audit(0, 0)
		return err
	})
	started := false
	for _, c := range entries {
		if c.Kind == policy.KindEvent && c.ID == "outbound/start" {
			started = true
			continue
		}
		if !started || (c.Kind != policy.KindUser && c.Kind != policy.KindGroup && c.Kind != policy.KindMembership) {
			continue
		}
		if !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Seq == c.Seq && !strings.HasPrefix(ev.Type, "effective") }) {
			t.Errorf("no event for audit entry %d (%s %s %s)", c.Seq, c.Kind, c.Op, c.ID)
		}
	}
	for _, typ := range []string{"user.created", "user.changed", "group.created", "meeting.created", "membership.created", "membership.removed",
		"effective_membership.created", "effective_membership.removed"} {
		if !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Type == typ }) {
			t.Errorf("no %s event", typ)
		}
	}

	// The effective-membership events add up to the engine's view.
	state := map[string]bool{}
	seen = map[string]bool{}
	for _, ev := range evs {
		if !strings.HasPrefix(ev.Type, "effective_membership.") || seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		d := ev.Data.(map[string]any)
		k := d["user"].(string) + "|" + d["group"].(string) + "|" + d["role"].(string)
		state[k] = ev.Type == "effective_membership.created"
	}
	for _, u := range []policy.User{alice, bob, carol} {
		want := map[string]bool{}
		for _, m := range e.eng.EffectiveGroups(u.ID) {
			want[string(u.ID)+"|"+string(m.Group)+"|"+string(m.Role)] = true
		}
		for k, in := range state {
			if strings.HasPrefix(k, string(u.ID)+"|") && in != want[k] {
				t.Errorf("%s: told %v, engine says %v", k, in, want[k])
			}
		}
		for k := range want {
			if !state[k] {
				t.Errorf("%s: never told", k)
			}
		}
	}
	if !state[string(bob.ID)+"|"+string(lug.ID)+"|speaker"] {
		t.Error("the rule membership of bob was not sent")
	}
}

// TestWebhookPauseAndResume: a target that keeps failing is paused and
// says why; resumed, it delivers what waited.
func TestWebhookPauseAndResume(t *testing.T) {
	failing := true
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	rcv := newReceiver(t, testSecret, func(int) action {
		<-mu
		defer func() { mu <- struct{}{} }()
		if failing {
			return answer500
		}
		return answerOK
	})
	e := newEnv(t)
	tc := webhookTarget("chat", rcv.url())
	tc.Retry.PauseAfter = 3
	e.start(tc)
	u := e.createUser("acme", "alice")
	var st Status
	waitFor(t, "the pause", func() bool {
		st, _ = e.svc.TargetStatus(context.Background(), "chat")
		return st.Paused
	})
	if !strings.Contains(st.PausedReason, "500") || st.FailuresTotal < 3 || st.LagEvents == 0 {
		t.Errorf("status = %+v", st)
	}
	<-mu
	failing = false
	mu <- struct{}{}
	if err := e.svc.Resume(context.Background(), "chat"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool {
		return rcv.has(func(ev Event) bool { return ev.Type == "user.created" && ev.Subject == "user:"+string(u.ID) })
	})
	waitFor(t, "the status", func() bool {
		st, _ = e.svc.TargetStatus(context.Background(), "chat")
		return !st.Paused && st.LagEvents == 0
	})
}

// TestWebhookReplay sends the fact events again from a seq.
func TestWebhookReplay(t *testing.T) {
	rcv := newReceiver(t, testSecret, nil)
	e := newEnv(t)
	e.start(webhookTarget("chat", rcv.url()))
	u := e.createUser("acme", "alice")
	isAlice := func(ev Event) bool { return ev.Type == "user.created" && ev.Subject == "user:"+string(u.ID) }
	waitFor(t, "alice", func() bool { return rcv.has(isAlice) })
	if err := e.svc.Replay(context.Background(), "chat", rcv.events()[0].Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice again", func() bool {
		n := 0
		for _, ev := range rcv.events() {
			if isAlice(ev) {
				n++
			}
		}
		return n == 2
	})
	if err := e.svc.Replay(context.Background(), "nope", 1); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("Replay of an unknown target: %v", err)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	for _, tt := range []struct {
		url   string
		allow bool
		want  bool
	}{
		{"http://169.254.169.254/latest/meta-data/", false, true},
		{"http://[fe80::1]:80/", false, true},
		{"http://0.0.0.0:9/", false, true},
		{"http://169.254.169.254/latest/meta-data/", true, false},
	} {
		c := newHTTPClient(TargetConfig{Timeout: 200 * time.Millisecond, AllowLinkLocal: tt.allow})
		_, err := c.Get(tt.url)
		if got := errors.Is(err, ErrForbiddenAddress); got != tt.want {
			t.Errorf("GET %s (allowLinkLocal %v): %v", tt.url, tt.allow, err)
		}
	}
}

func TestTargetConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		tc    TargetConfig
		field string
	}{
		{"ok webhook", TargetConfig{ID: "chat", Webhook: &WebhookTarget{URL: "https://x.example/h", Secret: testSecret}}, ""},
		{"ok scim", TargetConfig{ID: "wiki", SCIM: &SCIMTarget{URL: "https://x.example/scim/v2", Token: "t"}, Groups: GroupSelection{Root: "rug"}}, ""},
		{"both", TargetConfig{ID: "x", SCIM: &SCIMTarget{URL: "https://x.example", Token: "t"}, Webhook: &WebhookTarget{URL: "https://x.example", Secret: testSecret}}, "scim"},
		{"bad id", TargetConfig{ID: "X Y", Webhook: &WebhookTarget{URL: "https://x.example/h", Secret: testSecret}}, "id"},
		{"bad url", TargetConfig{ID: "chat", Webhook: &WebhookTarget{URL: "ftp://x.example/h", Secret: testSecret}}, "webhook.url"},
		{"short secret", TargetConfig{ID: "chat", Webhook: &WebhookTarget{URL: "https://x.example/h", Secret: "short"}}, "webhook.secret"},
		{"bad event", TargetConfig{ID: "chat", Webhook: &WebhookTarget{URL: "https://x.example/h", Secret: testSecret}, Events: []string{"users"}}, "events[0]"},
		{"no root", TargetConfig{ID: "wiki", SCIM: &SCIMTarget{URL: "https://x.example/scim/v2", Token: "t"}}, "groups.root"},
		{"group name", TargetConfig{ID: "wiki", SCIM: &SCIMTarget{URL: "https://x.example/scim/v2", Token: "t"}, Groups: GroupSelection{Root: "rug"}, GroupName: "id"}, "groupName"},
	} {
		err := tt.tc.Validate()
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: got %v, want an error about %s", tt.name, err, tt.field)
		}
	}
}

func dumpEvents(t *testing.T, evs []Event) {
	for _, ev := range evs {
		t.Logf("%d %s %s %s", ev.Seq, ev.ID, ev.Type, ev.Subject)
	}
}

// TestWebhookFeedbackAndApplications: product feedback, founding
// applications and announcements reach a webhook that subscribed to them,
// and nothing else does.
func TestWebhookFeedbackAndApplications(t *testing.T) {
	rcv := newReceiver(t, testSecret, func(int) action { return answerOK })
	e := newEnv(t)
	tc := webhookTarget("tracker", rcv.url())
	tc.Events = []string{CategoryFeedback, CategoryApplication, CategoryAnnouncement}
	e.start(tc)
	e.createGroup("rug", "")
	e.update(func(tx store.Tx) error {
		if err := tx.Record("acme", policy.OpCreate, "feedback/f1", policy.Feedback{ID: "f1", Product: "db", Title: "Faster backups"}); err != nil {
			return err
		}
		if err := tx.Record("acme", policy.OpUpdate, "feedback/f1", policy.Feedback{ID: "f1", Product: "db", Status: policy.FeedbackAnswered}); err != nil {
			return err
		}
		if err := tx.Record("vendor", policy.OpUpdate, "application/a1", policy.Application{ID: "a1", Name: "LUG Leeds", Status: policy.ApplicationApproved}); err != nil {
			return err
		}
		return tx.Record("vendor", policy.OpCreate, "announcement/j1", map[string]any{"groupSlug": "rug", "subject": "Conference", "body": "**Come.**"})
	})
	waitFor(t, "the announcement event", func() bool {
		return rcv.has(func(ev Event) bool { return ev.Type == "announcement.created" })
	})
	var types []string
	for _, ev := range rcv.events() {
		types = append(types, ev.Type+" "+ev.Subject)
	}
	want := []string{"feedback.created feedback:f1", "feedback.changed feedback:f1", "application.changed application:a1", "announcement.created announcement:j1"}
	if !slices.Equal(types, want) {
		t.Errorf("events %q, want %q", types, want)
	}
	if d := rcv.events()[1].Data.(map[string]any); d["status"] != "answered" || d["product"] != "db" {
		t.Errorf("feedback data %v", d)
	}
	if d := rcv.events()[3].Data.(map[string]any); d["subject"] != "Conference" || d["body"] != "**Come.**" {
		t.Errorf("announcement data %v", d)
	}
}

// TestWebhookBulkLoad: users created together (store.CreateUsers, a
// directory's first load, audited as one entry naming them) each give a
// user.created event with their record; one deleted before delivery gives
// none, its deletion a user.removed.
func TestWebhookBulkLoad(t *testing.T) {
	rcv := newReceiver(t, testSecret, nil)
	e := newEnv(t)
	e.start(webhookTarget("chat", rcv.url()))
	e.stop() // the target's cursor starts here; the users are written while it is stopped
	var made []policy.User
	e.update(func(tx store.Tx) error {
		var us []policy.User
		for _, n := range []string{"ann", "ben", "cat"} {
			us = append(us, policy.User{UserName: n, DisplayName: n, Active: true, Source: "ldap:corp"})
		}
		var err error
		made, err = store.CreateUsers(tx, "acme", us)
		return err
	})
	e.update(func(tx store.Tx) error { return tx.DeleteUser("acme", made[1].ID) })
	e.start(webhookTarget("chat", rcv.url()))
	removed := func(ev Event) bool { return ev.Type == "user.removed" && ev.Subject == "user:"+string(made[1].ID) }
	waitFor(t, "the deletion", func() bool { return rcv.has(removed) })
	var created []string
	for _, ev := range rcv.events() {
		if ev.Type != "user.created" {
			continue
		}
		data, _ := ev.Data.(map[string]any)
		if data["userName"] == nil || ev.Subject != "user:"+fmt.Sprint(data["id"]) {
			t.Errorf("event %+v", ev)
		}
		created = append(created, fmt.Sprint(data["userName"]))
	}
	if !slices.Equal(created, []string{"ann", "cat"}) {
		t.Errorf("user.created for %v, want ann, cat", created)
	}
}
