package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestMailPrefsOnlyForOwnGroups: PUT /api/v1/me/mail takes a choice only
// for the caller's own groups (and those they chose for before): a group
// they are not in, or no group at all, is refused with a field error and
// changes nothing, so that a member cannot grow their preferences record
// without bound.
func TestMailPrefsOnlyForOwnGroups(t *testing.T) {
	f := newFixture(t)
	prefs := func() mail.Prefs {
		t.Helper()
		var p mail.Prefs
		err := f.st.View(context.Background(), func(tx store.Tx) (err error) {
			p, err = mail.ReadPrefs(tx, policy.UserID(f.ids["alice"]))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/mail", `{"groups":{"`+f.ids["lug"]+`":"digest"}}`); code != http.StatusOK {
		t.Fatalf("her own group: %d %v", code, m)
	}
	before := fmt.Sprint(prefs())
	var junk []string
	for i := range 50 {
		junk = append(junk, fmt.Sprintf(`"no-such-group-%03d":"none"`, i))
	}
	for name, body := range map[string]string{
		"a group she is not in":    `{"groups":{"` + f.ids["paris"] + `":"none"}}`,
		"groups that do not exist": `{"groups":{` + strings.Join(junk, ",") + `}}`,
		"hers and another":         `{"groups":{"` + f.ids["lug"] + `":"none","` + f.ids["paris"] + `":"none"}}`,
	} {
		code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/mail", body)
		if e, _ := m["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "groups" {
			t.Errorf("%s: %d %v, want 400 on groups", name, code, m)
		}
		if got := fmt.Sprint(prefs()); got != before {
			t.Errorf("%s: preferences changed from %s to %s", name, before, got)
		}
	}
	// A group she chose for before and has left since can still be reset.
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		return mail.SetPrefs(tx, policy.UserID(f.ids["alice"]), func(p *mail.Prefs) error {
			p.Groups[policy.GroupID(f.ids["paris"])] = mail.ModeNone
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/mail", `{"groups":{"`+f.ids["paris"]+`":"all"}}`); code != http.StatusOK {
		t.Errorf("reset a former group: %d %v", code, m)
	}
	if _, ok := prefs().Groups[policy.GroupID(f.ids["paris"])]; ok {
		t.Error("the former group's choice was not reset")
	}
}
