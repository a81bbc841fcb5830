package ldap

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Phases of a run, as Progress.Phase names them.
const (
	PhaseStore     = "reading store"     // the store's records of this source
	PhaseDirectory = "reading directory" // paged searches; creates and updates of users are written meanwhile
	PhaseGroups    = "writing groups"    // group creates and member updates
	PhaseGuard     = "weighing removals" // the deletion guard
	PhaseRemovals  = "writing removals"  // deletions and deactivations
	PhaseIndex     = "writing DN index"
	PhasePersist   = "persist" // waiting for syncrepl changes (Source.Persist)
)

// Progress is what the run in progress has done so far; Status returns it
// in RunStatus.Progress while a run goes on. Written counts the records
// written (users and groups created, updated, deleted); a dry run
// (Source.DryRun) writes none.
type Progress struct {
	Mode       Mode      `json:"mode"`
	Started    time.Time `json:"started"`
	Phase      string    `json:"phase"`
	UsersRead  int       `json:"usersRead"`
	GroupsRead int       `json:"groupsRead"`
	Written    int       `json:"written"`
	DryRun     bool      `json:"dryRun,omitempty"`
}

// tracker holds the progress of the run in progress, if any.
type tracker struct {
	mu  sync.Mutex
	cur *Progress
}

func (t *tracker) start(p Progress) {
	t.mu.Lock()
	t.cur = &p
	t.mu.Unlock()
}

func (t *tracker) stop() {
	t.mu.Lock()
	t.cur = nil
	t.mu.Unlock()
}

func (t *tracker) update(f func(p *Progress)) {
	t.mu.Lock()
	if t.cur != nil {
		f(t.cur)
	}
	t.mu.Unlock()
}

func (t *tracker) get() *Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return nil
	}
	p := *t.cur
	return &p
}

// phase records and logs the run's new phase.
func (r *run) phase(name string) {
	var p Progress
	r.s.prog.update(func(cur *Progress) { cur.Phase = name; p = *cur })
	r.s.log.Info("ldap sync phase", "phase", name, "mode", r.st.Mode, "usersRead", p.UsersRead,
		"groupsRead", p.GroupsRead, "written", p.Written, "elapsed", since(r.t0))
}

// Change is one write a dry run would make (see Source.DryRun).
type Change struct {
	// Action is create, update, deactivate or delete.
	Action string `json:"action"`
	// Kind is user or group.
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	ExternalID string `json:"externalId,omitempty"`
	// Detail says what a group update changes: its name or DN, members
	// added and removed.
	Detail string `json:"detail,omitempty"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%s %s %s", c.Action, c.Kind, c.Name)
	if c.ExternalID != "" {
		s += " (" + c.ExternalID + ")"
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// DryRun performs a run of the given mode without writing anything: it
// reads the directory and the store, weighs the removals with the
// deletion guard, and returns the status the run would have (counts,
// held removals) and the changes it would write. Neither the sync state
// nor the status of the last run changes; a held change is not stored.
func (s *Source) DryRun(ctx context.Context, mode Mode) (RunStatus, []Change, error) {
	var changes []Change
	rs, err := s.runWith(ctx, mode, runOptions{dry: func(c Change) { changes = append(changes, c) }})
	return rs, changes, err
}

// simulate stands for exec in a dry run: it reports the change o would
// make and returns the result exec would, with made-up ids for new
// records.
func (r *run) simulate(o op) opResult {
	var res opResult
	report := func(action, kind, name, ext, detail string) {
		if !o.quiet {
			r.dry(Change{Action: action, Kind: kind, Name: name, ExternalID: ext, Detail: detail})
		}
	}
	switch o.kind {
	case opCreateUser:
		res.user = createdUser{id: policy.UserID("dry-run:" + o.user.ExternalID), ext: o.user.ExternalID}
		report("create", "user", o.user.UserName, o.user.ExternalID, "")
	case opUpdateUser:
		action := "update"
		if o.deactivates {
			action = "deactivate"
		}
		report(action, "user", o.user.UserName, o.user.ExternalID, "")
	case opDeactivateUser:
		report("deactivate", "user", o.user.UserName, o.user.ExternalID, "")
	case opDeleteUser:
		report("delete", "user", o.user.UserName, o.user.ExternalID, "")
	case opCreateGroup:
		d := o.group
		if o.dg != nil {
			d, res.final = r.desiredGroupFinal(*o.dg)
		}
		d.ID = policy.DirGroupID("dry-run:" + d.ExternalID)
		res.group = &d
		report("create", "group", d.DisplayName, d.ExternalID, fmt.Sprintf("%d users, %d groups", len(d.MemberUsers), len(d.MemberGroups)))
	case opUpdateGroup:
		g := o.group
		res.group = &g
		var detail []string
		if o.header {
			detail = append(detail, "name or DN")
		}
		if d := o.delta; d != nil {
			for _, x := range []struct {
				n    int
				what string
			}{{len(d.addUsers), "+%d users"}, {len(d.delUsers), "-%d users"}, {len(d.addGroups), "+%d groups"}, {len(d.delGroups), "-%d groups"}} {
				if x.n > 0 {
					detail = append(detail, fmt.Sprintf(x.what, x.n))
				}
			}
		}
		report("update", "group", o.group.DisplayName, o.group.ExternalID, joinComma(detail))
	case opDeleteGroup:
		report("delete", "group", o.group.DisplayName, o.group.ExternalID, fmt.Sprintf("%d members", o.members))
	}
	return res
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
