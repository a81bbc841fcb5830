package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// addMember gives the fixture's user the role in group (names of f.ids)
// by a manual membership.
func (f *fixture) addMember(t *testing.T, user, group string, role policy.RoleName) {
	t.Helper()
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := tx.AddMembership(policy.Membership{User: policy.UserID(f.ids[user]), Group: policy.GroupID(f.ids[group]), Role: role, Origin: policy.OriginManual})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mailSubjects lists the subjects of the mail jobs in the outbox.
func mailSubjects(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	err := f.st.View(context.Background(), func(tx store.Tx) error {
		return tx.ScanRecords(mail.Namespace, "job/", func(_ string, b []byte) error {
			var j mail.Job
			if err := json.Unmarshal(b, &j); err != nil {
				return err
			}
			out = append(out, j.Subject)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSubjects fails unless every subject is one line of valid UTF-8
// within the outbox's bound, and there are want of them.
func checkSubjects(t *testing.T, f *fixture, want int) {
	t.Helper()
	subjects := mailSubjects(t, f)
	if len(subjects) != want {
		t.Errorf("%d mail jobs, want %d: %q", len(subjects), want, subjects)
	}
	for _, s := range subjects {
		if !utf8.ValidString(s) || len(s) > mail.MaxSubjectBytes || strings.ContainsAny(s, "\r\n") {
			t.Errorf("subject %q (%d bytes, valid UTF-8 %v)", s, len(s), utf8.ValidString(s))
		}
	}
}

// TestMailSubjectsOfLongNames: the mail that tells people of a step
// (a product team's answer, a talk's decision, a reviewer's question and
// decision, a new group) is sent whatever the length and the letters of
// the title or name it quotes: its subject is clipped at a letter's
// boundary, and the step is not refused for it.
func TestMailSubjectsOfLongNames(t *testing.T) {
	long := "x" + strings.Repeat("é", 99) // 199 bytes, a two-byte letter across every cut

	t.Run("feedback answered", func(t *testing.T) {
		f := feedbackFixture(t)
		f.addMember(t, "carol", "lug", "member")
		st, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"`+long+`","body":"B","group":"lug-london"}`)
		if st != http.StatusCreated {
			t.Fatalf("send: %d %v", st, m)
		}
		if st, m := f.call(t, "bob-token", "PATCH", "/api/v1/feedback/"+m["id"].(string), `{"answer":"Yes."}`); st != http.StatusOK {
			t.Fatalf("the team answers an item with a long title: %d %v", st, m)
		}
		checkSubjects(t, f, 1)
	})

	t.Run("talk accepted", func(t *testing.T) {
		w := newTalkWorld(t)
		mp := w.meeting(t, `{"title":"London March","start":"2031-03-11T18:30","end":"2031-03-11T21:00","timeZone":"Europe/London"}`)
		if st, m := w.call(t, "alice-token", "PUT", mp+"/program", `{"callOpen":true,"deadline":"2031-03-01T18:00","formats":[{"name":"talk","minutes":30}]}`); st != 200 {
			t.Fatalf("program: %d %v", st, m)
		}
		st, m := w.call(t, "bob-token", "POST", mp+"/talks", `{"title":"`+long+`","abstract":"A.","format":"talk"}`)
		if st != http.StatusCreated {
			t.Fatalf("propose: %d %v", st, m)
		}
		if st, m := w.call(t, "alice-token", "PATCH", mp+"/talks/"+m["id"].(string), `{"status":"accepted"}`); st != http.StatusOK {
			t.Fatalf("accept: %d %v", st, m)
		}
		checkSubjects(t, w.fixture, 1)
	})

	t.Run("application asked, declined and approved", func(t *testing.T) {
		f := applicationFixture(t)
		name := strings.Repeat("Ré", 100) // 300 bytes
		var ids []string
		for _, slug := range []string{"lug-a", "lug-b"} {
			st, m := f.call(t, "carol-token", "POST", "/api/v1/applications", `{"name":"`+name+`","slug":"`+slug+`","parent":"rug-europe","city":"Reading","country":"GB","remit":"R"}`)
			if st != http.StatusCreated {
				t.Fatalf("apply: %d %v", st, m)
			}
			ids = append(ids, m["id"].(string))
		}
		if st, m := f.call(t, "alice-token", "POST", "/api/v1/applications/"+ids[0]+"/messages", `{"text":"Where?"}`); st != http.StatusOK {
			t.Fatalf("ask: %d %v", st, m)
		}
		if st, m := f.call(t, "alice-token", "PATCH", "/api/v1/applications/"+ids[0], `{"status":"declined","reason":"No."}`); st != http.StatusOK {
			t.Fatalf("decline: %d %v", st, m)
		}
		if st, m := f.call(t, "alice-token", "PATCH", "/api/v1/applications/"+ids[1], `{"status":"approved"}`); st != http.StatusOK {
			t.Fatalf("approve: %d %v", st, m)
		}
		checkSubjects(t, f, 4) // asked, declined; founded, and the announcement of the new group
	})
}
