package admin

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// talkWorld is the fixture with members who may propose talks: bob
// (vendor) and carol (acme) are members and speakers of lug-london, dave
// (vendor) a member only; alice organizes it. Its clock is set by hand.
type talkWorld struct {
	*fixture
	now atomic.Int64
}

func newTalkWorld(t *testing.T) *talkWorld {
	t.Helper()
	return newTalkWorldOn(t, openBolt(t))
}

// newTalkWorldOn is newTalkWorld over the store st.
func newTalkWorldOn(t *testing.T, st store.Store) *talkWorld {
	t.Helper()
	w := &talkWorld{fixture: newFixtureOn(t, st)}
	w.set(time.Date(2031, 1, 1, 9, 0, 0, 0, time.UTC))
	w.adm.cfg.Now = func() time.Time { return time.Unix(0, w.now.Load()).UTC() }
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		d, err := tx.CreateUser("vendor", policy.User{UserName: "dave", DisplayName: "Dave", Active: true, Source: "local"})
		w.ids["dave"] = string(d.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.tokens["dave-token"] = policy.UserID(w.ids["dave"])
	w.call(t, adminToken, "PUT", "/api/v1/roles/member", `{"permissions":["group.read","meetings.read"]}`)
	for _, who := range []string{`"bob","tenant":"vendor","role":"member"`, `"bob","tenant":"vendor","role":"speaker"`,
		`"carol","tenant":"acme","role":"member"`, `"carol","tenant":"acme","role":"speaker"`, `"dave","tenant":"vendor","role":"member"`} {
		if st, m := w.call(t, adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":`+who+`}`); st != 201 {
			t.Fatalf("add %s: %d %v", who, st, m)
		}
	}
	return w
}

func (w *talkWorld) set(t time.Time) { w.now.Store(t.UnixNano()) }

func fieldOf(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

// meeting creates a meeting of lug-london and returns its API path.
func (w *talkWorld) meeting(t *testing.T, body string) string {
	t.Helper()
	st, m := w.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/meetings", body)
	if st != 201 {
		t.Fatalf("meeting: %d %v", st, m)
	}
	return "/api/v1/groups/lug-london/meetings/" + m["id"].(string)
}

// TestTalksAndAgenda: a call for talks opens; bad proposals are refused
// with the field at fault and change nothing; a proposal with a
// co-speaker from another company is reviewed among organizers (whose
// comments nobody else sees), accepted, told to its speakers by mail, and
// appears on the agenda with its times and in the iCalendar DESCRIPTION.
func TestTalksAndAgenda(t *testing.T) { onBackends(t, testTalksAndAgenda) }

func testTalksAndAgenda(t *testing.T, open func(*testing.T) store.Store) {
	w := newTalkWorldOn(t, open(t))
	mp := w.meeting(t, `{"title":"London March","start":"2031-03-11T18:30","end":"2031-03-11T21:00","timeZone":"Europe/London"}`)
	talk := `{"title":"Go at scale","abstract":"What we learnt.","format":"talk","coSpeakers":["acme/carol"]}`

	if st, m := w.call(t, "bob-token", "POST", mp+"/talks", talk); st != 409 || errCode(m) != "call_closed" {
		t.Fatalf("proposal before the call: %d %v", st, m)
	}
	before := w.lastSeq(t)
	for _, tt := range []struct{ token, body, field string }{
		{"alice-token", `{"callOpen":true,"formats":[{"name":"talk","minutes":0}]}`, "formats"},
		{"alice-token", `{"callOpen":true,"deadline":"soon"}`, "deadline"},
		{"alice-token", `{"callOpen":true,"feedbackDays":1000}`, "feedbackDays"},
	} {
		if st, m := w.call(t, tt.token, "PUT", mp+"/program", tt.body); st != 400 || fieldOf(m) != tt.field {
			t.Errorf("program %s: %d %v, want field %s", tt.body, st, m, tt.field)
		}
	}
	if st, _ := w.call(t, "bob-token", "PUT", mp+"/program", `{"callOpen":true}`); st != 403 {
		t.Errorf("a member opens the call: %d", st)
	}
	if st, m := w.call(t, "alice-token", "PUT", mp+"/program", `{"callOpen":true,"deadline":"2031-03-01T18:00","formats":[{"name":"lightning","minutes":5},{"name":"talk","minutes":30}],"feedbackDays":7}`); st != 200 || m["accepting"] != true {
		t.Fatalf("open the call: %d %v", st, m)
	}
	before = w.lastSeq(t)
	for _, tt := range []struct{ token, body, field string }{
		{"bob-token", `{"title":" ","abstract":"x","format":"talk"}`, "title"},
		{"bob-token", `{"title":"x","abstract":"","format":"talk"}`, "abstract"},
		{"bob-token", `{"title":"x","abstract":"x","format":"keynote"}`, "format"},
		{"bob-token", `{"title":"x","abstract":"x","format":"talk","coSpeakers":["acme/nobody"]}`, "coSpeakers"},
		{"bob-token", `{"title":"x","abstract":"x","format":"talk","coSpeakers":["vendor/bob"]}`, "coSpeakers"},
		{"bob-token", `{"title":"` + strings.Repeat("x", 300) + `","abstract":"x","format":"talk"}`, "title"},
	} {
		if st, m := w.call(t, tt.token, "POST", mp+"/talks", tt.body); st != 400 || fieldOf(m) != tt.field {
			t.Errorf("propose %s: %d %v, want field %s", tt.body, st, m, tt.field)
		}
	}
	if st, _ := w.call(t, "dave-token", "POST", mp+"/talks", talk); st != 403 {
		t.Errorf("dave has no talks.submit: %d", st)
	}
	if w.lastSeq(t) != before {
		t.Fatal("refused input changed something")
	}

	st, m := w.call(t, "bob-token", "POST", mp+"/talks", talk)
	if st != 201 || m["status"] != "proposed" || m["minutes"] != 30.0 {
		t.Fatalf("propose: %d %v", st, m)
	}
	tid := m["id"].(string)
	if co := m["coSpeakers"].([]any); len(co) != 1 || co[0].(map[string]any)["tenant"] != "acme" {
		t.Fatalf("co-speakers %v", m["coSpeakers"])
	}
	st, m = w.call(t, "carol-token", "POST", mp+"/talks", `{"title":"Partner view","abstract":"From Acme.","format":"lightning"}`)
	if st != 201 {
		t.Fatalf("carol proposes: %d %v", st, m)
	}
	carolTalk := m["id"].(string)

	// Who sees what before the decision.
	count := func(token string) int {
		st, m := w.call(t, token, "GET", mp+"/talks", "")
		if st != 200 {
			t.Fatalf("list as %s: %d %v", token, st, m)
		}
		return len(m["items"].([]any))
	}
	if n := count("alice-token"); n != 2 {
		t.Errorf("the organizer sees %d talks, want 2", n)
	}
	if n := count("bob-token"); n != 1 {
		t.Errorf("bob sees %d talks, want his own", n)
	}
	if n := count("carol-token"); n != 2 {
		t.Errorf("carol (co-speaker of bob's, speaker of hers) sees %d, want 2", n)
	}
	if n := count("dave-token"); n != 0 {
		t.Errorf("dave sees %d proposed talks", n)
	}
	if st, _ := w.call(t, "dave-token", "GET", mp+"/talks/"+carolTalk, ""); st != 404 {
		t.Errorf("dave reads a proposal not his: %d", st)
	}

	// The speakers' index follows a change of co-speakers.
	myCount := func(token string) int {
		st, m := w.call(t, token, "GET", "/api/v1/me/talks", "")
		if st != 200 {
			t.Fatalf("my talks as %s: %d %v", token, st, m)
		}
		return len(m["items"].([]any))
	}
	if n := myCount("carol-token"); n != 2 {
		t.Errorf("carol speaks in %d talks, want 2", n)
	}
	if st, m := w.call(t, "bob-token", "PATCH", mp+"/talks/"+tid, `{"coSpeakers":[]}`); st != 200 || m["coSpeakers"] != nil {
		t.Fatalf("drop the co-speaker: %d %v", st, m)
	}
	if n := myCount("carol-token"); n != 1 {
		t.Errorf("carol, no longer co-speaker, has %d talks, want 1", n)
	}
	if st, m := w.call(t, "bob-token", "PATCH", mp+"/talks/"+tid, `{"coSpeakers":["acme/carol"]}`); st != 200 {
		t.Fatalf("carol again: %d %v", st, m)
	}

	// Review: comments among organizers only.
	if st, m := w.call(t, "alice-token", "POST", mp+"/talks/"+tid+"/comments", `{"text":"Strong; put it first."}`); st != 201 || len(m["comments"].([]any)) != 1 {
		t.Fatalf("comment: %d %v", st, m)
	}
	if st, _ := w.call(t, "bob-token", "POST", mp+"/talks/"+tid+"/comments", `{"text":"me too"}`); st != 403 {
		t.Errorf("a speaker comments: %d", st)
	}
	if _, m := w.call(t, "bob-token", "GET", mp+"/talks/"+tid, ""); m["comments"] != nil {
		t.Errorf("the speaker reads the organizers' comments: %v", m["comments"])
	}
	before = w.lastSeq(t)
	if st, _ := w.call(t, "bob-token", "PATCH", mp+"/talks/"+tid, `{"status":"accepted"}`); st != 403 {
		t.Errorf("the speaker accepts his own talk: %d", st)
	}
	if st, m := w.call(t, "alice-token", "PATCH", mp+"/talks/"+tid, `{"status":"maybe"}`); st != 400 || fieldOf(m) != "status" {
		t.Errorf("status maybe: %d %v", st, m)
	}
	if w.lastSeq(t) != before {
		t.Fatal("refused decisions changed something")
	}
	if st, m := w.call(t, "alice-token", "PATCH", mp+"/talks/"+tid, `{"status":"accepted"}`); st != 200 || m["status"] != "accepted" {
		t.Fatalf("accept: %d %v", st, m)
	}
	if st, m := w.call(t, "alice-token", "PATCH", mp+"/talks/"+carolTalk, `{"status":"accepted","order":-1}`); st != 200 {
		t.Fatalf("accept carol's: %d %v", st, m)
	}

	// The speakers are told: one direct mail per decision in the outbox.
	var jobs []mail.Job
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) {
		jobs, err = mail.Jobs(tx, policy.GroupID(w.ids["lug"]), mail.KindDirect)
		return
	})
	if len(jobs) != 2 {
		t.Fatalf("%d mail jobs, want 2", len(jobs))
	}
	for _, j := range jobs {
		if strings.Contains(j.Subject, "Go at scale") {
			if len(j.Users) != 2 || !strings.Contains(j.Subject, "accepted") {
				t.Errorf("bob's talk mail: %+v", j)
			}
		}
	}

	// The agenda: carol's lightning talk first (order -1), then bob's.
	st, m = w.call(t, "dave-token", "GET", mp+"/agenda", "")
	items, _ := m["items"].([]any)
	if st != 200 || len(items) != 2 {
		t.Fatalf("agenda: %d %v", st, m)
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["title"] != "Partner view" || first["start"] != "2031-03-11T18:30:00Z" || second["start"] != "2031-03-11T18:35:00Z" || second["end"] != "2031-03-11T19:05:00Z" {
		t.Errorf("agenda items %v %v", first, second)
	}
	if n := count("dave-token"); n != 2 {
		t.Errorf("dave sees %d accepted talks, want 2", n)
	}

	// … and in the iCalendar feed.
	_, cal := w.fetchFeed(t, "dave-token", "/groups/lug-london/meetings.ics")
	found := false
	for _, ev := range cal.Events() {
		if d, _ := ev.Props.Text("DESCRIPTION"); strings.Contains(d, "Agenda:\n18:30–18:35 Partner view — carol\n18:35–19:05 Go at scale — bob and carol") {
			found = true
		}
	}
	if !found {
		t.Errorf("the feed has no agenda in the DESCRIPTION")
	}

	// The speakers' own list, across companies.
	st, m = w.call(t, "carol-token", "GET", "/api/v1/me/talks", "")
	if st != 200 || len(m["items"].([]any)) != 2 {
		t.Fatalf("carol's talks: %d %v", st, m)
	}
	if st, m = w.call(t, "dave-token", "GET", "/api/v1/me/talks", ""); len(m["items"].([]any)) != 0 {
		t.Errorf("dave's talks: %v", m)
	}

	// Topics: suggested, voted, ordered by votes; picked by organizers.
	st, m = w.call(t, "dave-token", "POST", mp+"/topics", `{"title":"Generics in practice"}`)
	if st != 201 {
		t.Fatalf("topic: %d %v", st, m)
	}
	topic := m["id"].(string)
	w.call(t, "bob-token", "POST", mp+"/topics", `{"title":"Testing"}`)
	if st, m := w.call(t, "carol-token", "PUT", mp+"/topics/"+topic+"/vote", `{"vote":true}`); st != 200 || m["votes"] != 2.0 {
		t.Fatalf("vote: %d %v", st, m)
	}
	if st, m := w.call(t, "dave-token", "POST", mp+"/topics", `{"title":""}`); st != 400 || fieldOf(m) != "title" {
		t.Errorf("empty topic: %d %v", st, m)
	}
	if st, _ := w.call(t, "dave-token", "PATCH", mp+"/topics/"+topic, `{"picked":true}`); st != 403 {
		t.Errorf("a member picks a topic: %d", st)
	}
	if st, m := w.call(t, "alice-token", "PATCH", mp+"/topics/"+topic, `{"picked":true}`); st != 200 || m["picked"] != true {
		t.Errorf("pick: %d %v", st, m)
	}
	_, m = w.call(t, "bob-token", "GET", mp+"/topics", "")
	if ts := m["items"].([]any); len(ts) != 2 || ts[0].(map[string]any)["title"] != "Generics in practice" {
		t.Errorf("topics %v", m)
	}

	// After the deadline the call takes nothing.
	w.set(time.Date(2031, 3, 2, 9, 0, 0, 0, time.UTC))
	if st, m := w.call(t, "bob-token", "POST", mp+"/talks", talk); st != 409 {
		t.Errorf("proposal after the deadline: %d %v", st, m)
	}
	// A stranger to the group learns nothing of it.
	if st, _ := w.call(t, "carol-token", "GET", "/api/v1/groups/lug-paris/meetings/x/talks", ""); st != 404 {
		t.Errorf("talks of a group carol cannot see: %d", st)
	}
}

// TestMeetingFeedback: those who went rate a past meeting and its talks
// while the form is open; others are refused; bad ratings change
// nothing; organizers see the results with comments and figures, a
// speaker only their own talk's score, a member nothing of others'.
func TestMeetingFeedback(t *testing.T) { onBackends(t, testMeetingFeedback) }

func testMeetingFeedback(t *testing.T, open func(*testing.T) store.Store) {
	w := newTalkWorldOn(t, open(t))
	mp := w.meeting(t, `{"title":"London January","start":"2031-01-14T18:30","end":"2031-01-14T21:00","timeZone":"Europe/London"}`)
	w.call(t, "alice-token", "PUT", mp+"/program", `{"callOpen":true,"feedbackDays":3}`)
	_, m := w.call(t, "bob-token", "POST", mp+"/talks", `{"title":"Go at scale","abstract":"What we learnt.","format":"talk"}`)
	tid := m["id"].(string)
	w.call(t, "alice-token", "PATCH", mp+"/talks/"+tid, `{"status":"accepted"}`)
	w.call(t, "bob-token", "PUT", mp+"/rsvp", `{"going":true}`)
	w.call(t, "dave-token", "PUT", mp+"/rsvp", `{"going":true}`)

	rate := func(token, body string) (int, map[string]any) { return w.call(t, token, "PUT", mp+"/feedback", body) }
	if st, m := rate("bob-token", `{"overall":5}`); st != 409 || errCode(m) != "feedback_closed" {
		t.Fatalf("rating before the meeting: %d %v", st, m)
	}
	w.set(time.Date(2031, 1, 15, 9, 0, 0, 0, time.UTC))
	if st, m := w.call(t, "bob-token", "GET", mp+"/feedback", ""); st != 200 || m["open"] != true || m["eligible"] != true || len(m["agenda"].([]any)) != 1 {
		t.Fatalf("the form: %d %v", st, m)
	}
	if st, m := rate("carol-token", `{"overall":4}`); st != 403 || errCode(m) != "not_attended" {
		t.Fatalf("carol did not RSVP: %d %v", st, m)
	}
	before := w.lastSeq(t)
	for _, tt := range []struct{ body, field string }{
		{`{"overall":0}`, "overall"},
		{`{"overall":6}`, "overall"},
		{`{"overall":4,"talks":{"nope":3}}`, "talks"},
		{`{"overall":4,"talks":{"` + tid + `":9}}`, "talks"},
		{`{"overall":4,"comment":"` + strings.Repeat("x", policy.MaxCommentBytes+1) + `"}`, "comment"},
	} {
		if st, m := rate("dave-token", tt.body); st != 400 || fieldOf(m) != tt.field {
			t.Errorf("%.60s: %d %v, want field %s", tt.body, st, m, tt.field)
		}
	}
	if st, m := rate("bob-token", fmt.Sprintf(`{"overall":5,"talks":{%q:5}}`, tid)); st != 400 || fieldOf(m) != "talks" {
		t.Errorf("a speaker rates his own talk: %d %v", st, m)
	}
	if st, _ := w.call(t, "bob-token", "PUT", mp+"/checkins/"+w.ids["carol"], ""); st != 403 {
		t.Errorf("a member checks someone in: %d", st)
	}
	if st, _ := w.call(t, "alice-token", "PUT", mp+"/checkins/nobody", ""); st != 404 {
		t.Errorf("check in nobody: %d", st)
	}
	if w.lastSeq(t) != before {
		t.Fatal("refused ratings changed something")
	}

	// carol is checked in on the organizer's list, so she may rate.
	if st, m := w.call(t, "alice-token", "PUT", mp+"/checkins/"+w.ids["carol"], ""); st != 200 || m["checkedIn"] != true {
		t.Fatalf("check in: %d %v", st, m)
	}
	for _, tt := range []struct{ token, body string }{
		{"dave-token", fmt.Sprintf(`{"overall":4,"talks":{%q:5},"comment":"Great venue."}`, tid)},
		{"carol-token", fmt.Sprintf(`{"overall":2,"talks":{%q:3}}`, tid)},
		{"bob-token", `{"overall":3}`},
	} {
		if st, m := rate(tt.token, tt.body); st != 200 || m["mine"] == nil {
			t.Fatalf("%s rates: %d %v", tt.token, st, m)
		}
	}
	_, m = w.call(t, "alice-token", "GET", mp+"/checkins", "")
	if rows := m["items"].([]any); len(rows) != 3 {
		t.Errorf("check-in list %v", m)
	}

	// Results.
	_, m = w.call(t, "alice-token", "GET", mp+"/feedback", "")
	res, _ := m["results"].(map[string]any)
	overall, _ := res["overall"].(map[string]any)
	talk, _ := res["talks"].(map[string]any)[tid].(map[string]any)
	fig, _ := m["figures"].(map[string]any)
	if overall["count"] != 3.0 || overall["mean"] != 3.0 || talk["mean"] != 4.0 || len(m["comments"].([]any)) != 1 || fig["checkIns"] != 1.0 || fig["going"] != 2.0 {
		t.Errorf("organizer's results %v", m)
	}
	_, m = w.call(t, "bob-token", "GET", mp+"/feedback", "")
	res, _ = m["results"].(map[string]any)
	if res == nil || res["overall"].(map[string]any)["count"] != 0.0 || res["talks"].(map[string]any)[tid].(map[string]any)["count"] != 2.0 || m["comments"] != nil || m["figures"] != nil {
		t.Errorf("the speaker's view %v", m)
	}
	_, m = w.call(t, "dave-token", "GET", mp+"/feedback", "")
	if m["results"] != nil || m["comments"] != nil || m["mine"].(map[string]any)["overall"] != 4.0 {
		t.Errorf("a member's view %v", m)
	}

	var f Figures
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) {
		f, err = MeetingFigures(tx, policy.GroupID(w.ids["lug"]), strings.TrimPrefix(mp, "/api/v1/groups/lug-london/meetings/"))
		return
	})
	if f.Going != 2 || f.CheckIns != 1 || f.Ratings.Count != 3 || f.Ratings.Mean != 3 {
		t.Errorf("figures %+v", f)
	}

	// The form closes after feedbackDays.
	w.set(time.Date(2031, 1, 18, 9, 0, 0, 0, time.UTC))
	if st, m := rate("dave-token", `{"overall":1}`); st != 409 {
		t.Errorf("rating after the form closed: %d %v", st, m)
	}

	// A deleted meeting takes its talks, ratings and check-ins along.
	if st, m := w.call(t, "alice-token", "DELETE", mp, ""); st != 204 {
		t.Fatalf("delete the meeting: %d %v", st, m)
	}
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) {
		f, err = MeetingFigures(tx, policy.GroupID(w.ids["lug"]), strings.TrimPrefix(mp, "/api/v1/groups/lug-london/meetings/"))
		return
	})
	if f != (Figures{}) {
		t.Errorf("a deleted meeting's figures %+v", f)
	}
	if _, m := w.call(t, "bob-token", "GET", "/api/v1/me/talks", ""); len(m["items"].([]any)) != 0 {
		t.Errorf("bob's talks of a deleted meeting: %v", m)
	}
}

// TestTopicsAreBounded: a meeting takes at most policy.MaxTopics
// topics; one more is 409 too_many and changes nothing.
func TestTopicsAreBounded(t *testing.T) {
	w := newTalkWorld(t)
	mp := w.meeting(t, `{"title":"London March","start":"2031-03-11T18:30"}`)
	for i := 0; i < policy.MaxTopics; i++ {
		if st, m := w.call(t, "dave-token", "POST", mp+"/topics", fmt.Sprintf(`{"title":"topic %d"}`, i)); st != 201 {
			t.Fatalf("topic %d: %d %v", i, st, m)
		}
	}
	before := w.lastSeq(t)
	if st, m := w.call(t, "bob-token", "POST", mp+"/topics", `{"title":"one more"}`); st != 409 || errCode(m) != "too_many" {
		t.Fatalf("one topic too many: %d %v", st, m)
	}
	if w.lastSeq(t) != before {
		t.Fatal("a refused topic changed something")
	}
}
