package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Namespace is the store record namespace of the package.
const Namespace = "mail"

// Job kinds.
const (
	KindAnnouncement = "announcement"
	KindNotice       = "meeting"
	KindDigest       = "digest"
	// KindDirect is a message to named people about something of theirs
	// in a group (their talk was accepted…), not to its members.
	KindDirect = "direct"
)

// Delivery states.
const (
	StateQueued  = "queued"
	StateSent    = "sent"
	StateFailed  = "failed"
	StateDropped = "dropped"
)

// Engine is what the package needs of the policy engine.
type Engine interface {
	Members(g policy.GroupID) []policy.EffectiveMember
	EffectiveGroups(u policy.UserID) []policy.EffectiveMembership
}

// Job is one thing to tell the members of some groups: an announcement,
// a meeting notice or a weekly digest.
type Job struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Group is the group it is from (for a digest: none).
	Group     policy.GroupID `json:"group,omitempty"`
	GroupName string         `json:"groupName,omitempty"`
	GroupSlug string         `json:"groupSlug,omitempty"`
	// Groups are the groups whose effective members receive it: Group,
	// and for an announcement to subgroups every group below it.
	Groups []policy.GroupID `json:"groups,omitempty"`
	// Roles, when set, narrow the recipients to the members holding one
	// of these roles in Groups (an announcement to a parent group's
	// organizers).
	Roles []policy.RoleName `json:"roles,omitempty"`
	// ToName names the recipients when they are not Group's members
	// ("the organizers of RUG Europe"); the message says so.
	ToName string `json:"toName,omitempty"`
	// Users are the recipients of a direct message (KindDirect).
	Users   []policy.UserID `json:"users,omitempty"`
	Subject string          `json:"subject"`
	Body    string          `json:"body,omitempty"`
	// Author is the actor who sent it ("user:vendor/…", "admin:ops").
	Author     string          `json:"author,omitempty"`
	AuthorName string          `json:"authorName,omitempty"`
	Created    time.Time       `json:"created"`
	Meeting    *policy.Meeting `json:"meeting,omitempty"`
	// Change is what happened to Meeting: created, changed or cancelled.
	Change string `json:"change,omitempty"`
	// Week is the first day of a digest's week.
	Week       time.Time `json:"week,omitzero"`
	Expanded   bool      `json:"expanded"`
	Recipients int       `json:"recipients"`
}

// Delivery is one job's message to one user.
type Delivery struct {
	Job    string          `json:"job"`
	User   policy.UserID   `json:"user"`
	Tenant policy.TenantID `json:"tenant,omitempty"`
	// Via is the group through which the user was reached (whose
	// preference applies and whose unsubscribe link the message carries).
	Via       policy.GroupID `json:"via"`
	State     string         `json:"state"`
	Attempts  int            `json:"attempts,omitempty"`
	Next      time.Time      `json:"next,omitzero"`
	LastError string         `json:"lastError,omitempty"`
	Done      time.Time      `json:"done,omitzero"`
	// Items are a digest's meetings.
	Items []DigestItem `json:"items,omitempty"`
}

// DigestItem is one upcoming meeting occurrence in a digest.
type DigestItem struct {
	Group     policy.GroupID `json:"group"`
	GroupName string         `json:"groupName"`
	Title     string         `json:"title"`
	Start     time.Time      `json:"start"`
	TimeZone  string         `json:"timeZone,omitempty"`
	Where     string         `json:"where,omitempty"`
}

// Config configures a Service.
type Config struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now): retries, digests and token
	// expiry follow it, so tests move it by hand.
	Now    func() time.Time
	Store  store.Store
	Engine Engine
	Sender Sender
	// From is the sender address; its display name is replaced by the
	// group's name.
	From    netmail.Address
	ReplyTo string
	// BaseURL is Roster's public URL: the unsubscribe and preference
	// links point to BaseURL/mail/….
	BaseURL string
	// MaxAttempts before a delivery is recorded as failed (default 8).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// next one up to 6 h (default 1 min).
	Backoff time.Duration
	// Batch is how many due deliveries are read at a time (default 500).
	Batch int
	// Workers is how many messages are sent at once (default 4).
	Workers int
	// RateLimits cap the messages per second to each recipient domain.
	RateLimits RateLimits
	// DigestWeekday and DigestHour (UTC) are when the weekly digest of
	// the week starting then is queued (default Monday 07:00).
	DigestWeekday time.Weekday
	DigestHour    int
	// Interval between passes of Run (default 10 s); a change in the
	// store wakes it sooner.
	Interval time.Duration
}

// Service is the outbox: it turns jobs into deliveries and sends them.
type Service struct {
	cfg    Config
	log    *slog.Logger
	limits *rateLimiter
	key    atomic.Pointer[[]byte] // the token secret, once read
	mu     sync.Mutex             // one pass at a time
	wake   chan struct{}
}

// New returns a Service. Sender may be nil for a Service that only queues
// and serves the preference pages (Process then fails).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, errors.New("mail: Store and Engine are required")
	}
	if cfg.From.Address == "" {
		return nil, errors.New("mail: a From address is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.DigestHour <= 0 || cfg.DigestHour > 23 {
		cfg.DigestHour = 7
	}
	if cfg.DigestWeekday == 0 {
		cfg.DigestWeekday = time.Monday
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{cfg: cfg, log: cfg.Logger, limits: newRateLimiter(cfg.RateLimits), wake: make(chan struct{}, 1)}, nil
}

// NewJobID returns a job id that sorts by creation time.
func NewJobID(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b)
}

// Announcement is what an organizer writes to the members of a group.
type Announcement struct {
	Group policy.Group
	// Groups are the groups whose members receive it: Group itself and,
	// when the author chose so, the groups below it. The caller checks
	// the author may write to each.
	Groups []policy.GroupID
	// Roles, when set, reach only the members of Groups holding one of
	// them (a LUG writing up to its RUG's organizers); ToName then says
	// who they are.
	Roles      []policy.RoleName
	ToName     string
	Subject    string
	Body       string
	Author     string
	AuthorName string
}

// Limits of an announcement.
const (
	MaxSubjectBytes = 200
	MaxBodyBytes    = 64 << 10
)

// Subject makes a subject line of s, which may quote a title or a name of
// any length: control characters (line breaks) become spaces, and a
// longer line is cut at a letter's boundary to MaxSubjectBytes, ending
// with "…". Queue and QueueDirect take what it returns.
func Subject(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)) // invalid UTF-8 becomes U+FFFD
	if len(s) <= MaxSubjectBytes {
		return s
	}
	const ellipsis = "…"
	cut := MaxSubjectBytes - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + ellipsis
}

// ErrInvalid wraps policy.ErrInvalid for an announcement the outbox
// refuses (no subject, too long…).
var ErrInvalid = fmt.Errorf("mail: invalid: %w", policy.ErrInvalid)

// Queue writes a into the outbox inside tx (the caller's transaction, so
// the announcement and its audit entry commit together) and returns the
// job. Its recipients are read from the policy engine when the Service
// expands it, not now.
func Queue(tx store.Tx, a Announcement, now time.Time) (Job, error) {
	subj := strings.TrimSpace(a.Subject)
	switch {
	case subj == "" || strings.TrimSpace(a.Body) == "":
		return Job{}, fmt.Errorf("%w: an announcement needs a subject and a body", ErrInvalid)
	case len(subj) > MaxSubjectBytes || strings.ContainsAny(subj, "\r\n"):
		return Job{}, fmt.Errorf("%w: the subject must be one line of at most %d bytes", ErrInvalid, MaxSubjectBytes)
	case len(a.Body) > MaxBodyBytes:
		return Job{}, fmt.Errorf("%w: the body must be at most %d bytes", ErrInvalid, MaxBodyBytes)
	}
	groups := a.Groups
	if len(groups) == 0 {
		groups = []policy.GroupID{a.Group.ID}
	}
	j := Job{ID: NewJobID(now), Kind: KindAnnouncement, Group: a.Group.ID, GroupName: a.Group.Name, GroupSlug: a.Group.Slug,
		Groups: groups, Roles: a.Roles, ToName: a.ToName, Subject: subj, Body: a.Body, Author: a.Author, AuthorName: a.AuthorName, Created: now.UTC()}
	return j, putJob(tx, j)
}

// Direct is a message to named people about something of theirs in a
// group: a talk they proposed was accepted or declined, say. Unlike an
// announcement it reaches only Users, whatever their mail preferences for
// the group (unsubscribing from all mail still stops it).
type Direct struct {
	Group      policy.Group
	Users      []policy.UserID
	Subject    string
	Body       string
	Author     string
	AuthorName string
}

// QueueDirect writes d into the outbox inside tx and returns the job.
func QueueDirect(tx store.Tx, d Direct, now time.Time) (Job, error) {
	subj := strings.TrimSpace(d.Subject)
	switch {
	case len(d.Users) == 0:
		return Job{}, fmt.Errorf("%w: a direct message needs recipients", ErrInvalid)
	case subj == "" || strings.TrimSpace(d.Body) == "":
		return Job{}, fmt.Errorf("%w: a message needs a subject and a body", ErrInvalid)
	case len(subj) > MaxSubjectBytes || strings.ContainsAny(subj, "\r\n"):
		return Job{}, fmt.Errorf("%w: the subject must be one line of at most %d bytes", ErrInvalid, MaxSubjectBytes)
	case len(d.Body) > MaxBodyBytes:
		return Job{}, fmt.Errorf("%w: the body must be at most %d bytes", ErrInvalid, MaxBodyBytes)
	}
	j := Job{ID: NewJobID(now), Kind: KindDirect, Group: d.Group.ID, GroupName: d.Group.Name, GroupSlug: d.Group.Slug,
		Groups: []policy.GroupID{d.Group.ID}, Users: slices.Clone(d.Users), Subject: subj, Body: d.Body,
		Author: d.Author, AuthorName: d.AuthorName, Created: now.UTC()}
	return j, putJob(tx, j)
}

func putJob(tx store.Tx, j Job) error {
	if err := jsonrec.Put(tx, Namespace, "job/"+j.ID, j); err != nil {
		return err
	}
	if !j.Expanded {
		return tx.PutRecord(Namespace, "pending/"+j.ID, []byte{1})
	}
	return nil
}

// Jobs lists the announcement jobs of group g, newest first (the archive).
func Jobs(tx store.Tx, g policy.GroupID, kind string) ([]Job, error) {
	var out []Job
	err := tx.ScanRecords(Namespace, "job/", func(_ string, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return nil // a record this version cannot read is skipped
		}
		if j.Group == g && (kind == "" || j.Kind == kind) {
			out = append(out, j)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// Status counts a job's deliveries by state.
type Status struct {
	Job    Job            `json:"job"`
	Counts map[string]int `json:"counts"`
	// Failures are the failed deliveries' errors (at most 20).
	Failures []string `json:"failures,omitempty"`
}

// JobStatus reads job id and counts its deliveries.
func JobStatus(tx store.Tx, id string) (Status, error) {
	st := Status{Counts: map[string]int{}}
	if err := jsonrec.Get(tx, Namespace, "job/"+id, &st.Job); err != nil {
		return st, err
	}
	for _, prefix := range []string{"q/", "m/"} {
		err := tx.ScanRecords(Namespace, prefix+id+"/", func(_ string, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return nil
			}
			st.Counts[d.State]++
			if d.State == StateFailed && len(st.Failures) < 20 {
				st.Failures = append(st.Failures, string(d.User)+": "+d.LastError)
			}
			return nil
		})
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// Run processes the outbox until ctx is done: a pass every Interval, and
// soon after any change to the store.
func (s *Service) Run(ctx context.Context) error {
	cancel := s.cfg.Store.Subscribe(func([]policy.Change) {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	})
	defer cancel()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Process(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("mail: outbox pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
			// Let a burst of changes settle into one pass.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// Process makes one pass: meeting changes become notices, a digest is
// queued when one is due, new jobs are expanded into deliveries, and the
// deliveries that are due are sent.
func (s *Service) Process(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notices(ctx); err != nil {
		return fmt.Errorf("mail: meeting notices: %w", err)
	}
	if err := s.reminders(ctx); err != nil {
		return fmt.Errorf("mail: reminders: %w", err)
	}
	if err := s.digest(ctx); err != nil {
		return fmt.Errorf("mail: digest: %w", err)
	}
	if err := s.expand(ctx); err != nil {
		return fmt.Errorf("mail: expand: %w", err)
	}
	return s.deliver(ctx)
}

// expandBatch is how many deliveries one transaction writes.
const expandBatch = 5000

// expand turns each pending job into one delivery per recipient.
func (s *Service) expand(ctx context.Context) error {
	var ids []string
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(Namespace, "pending/", func(k string, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(k, "pending/"))
			return nil
		})
	}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.expandJob(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) expandJob(ctx context.Context, id string) error {
	var j Job
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) error { return jsonrec.Get(tx, Namespace, "job/"+id, &j) }); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error { return tx.DeleteRecord(Namespace, "pending/"+id) })
		}
		return err
	}
	n := 0
	if j.Kind == KindDigest || j.Kind == KindDirect || j.Kind == KindReminder {
		var ds []Delivery
		if j.Kind != KindDigest {
			for _, u := range j.Users {
				ds = append(ds, Delivery{Job: j.ID, User: u, Via: j.Group, State: StateQueued})
			}
		} else {
			var err error
			if ds, err = s.digestDeliveries(ctx, j); err != nil {
				return err
			}
		}
		for start := 0; start < len(ds); start += expandBatch {
			w, err := s.writeDeliveries(ctx, j.ID, ds[start:min(start+expandBatch, len(ds))])
			if err != nil {
				return err
			}
			n += w
		}
	} else {
		// The members now, each reached through the first group of the
		// job that has them (the group itself before those below it),
		// written expandBatch at a time: nothing but the engine's member
		// list of one group is held, and a member listed twice (two
		// roles, two groups) is skipped by the idempotency key.
		chunk := make([]Delivery, 0, expandBatch)
		for _, g := range j.Groups {
			ms := s.cfg.Engine.Members(g)
			for i, m := range ms {
				if len(j.Roles) == 0 || slices.Contains(j.Roles, m.Role) {
					chunk = append(chunk, Delivery{Job: j.ID, User: m.User, Via: g, State: StateQueued})
				}
				if len(chunk) > 0 && (len(chunk) == expandBatch || i == len(ms)-1) {
					w, err := s.writeDeliveries(ctx, j.ID, chunk)
					if err != nil {
						return err
					}
					n, chunk = n+w, chunk[:0]
				}
			}
		}
	}
	return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		j.Expanded, j.Recipients = true, n
		if err := jsonrec.Put(tx, Namespace, "job/"+j.ID, j); err != nil {
			return err
		}
		return tx.DeleteRecord(Namespace, "pending/"+j.ID)
	})
}

// userOf reads the recipient of d. Deliveries are queued without their
// tenant (the engine does not say it, and looking it up would slow the
// expansion down); the first attempt finds it.
func userOf(tx store.Tx, d *Delivery) (policy.User, error) {
	if d.Tenant != "" {
		return tx.User(d.Tenant, d.User)
	}
	ts, err := tx.Tenants()
	if err != nil {
		return policy.User{}, err
	}
	for _, t := range ts {
		u, err := tx.User(t.ID, d.User)
		if err == nil {
			d.Tenant = t.ID
			return u, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return policy.User{}, err
		}
	}
	return policy.User{}, fmt.Errorf("mail: user %s: %w", d.User, store.ErrNotFound)
}

// writeDeliveries queues the deliveries of chunk that are not queued or
// done yet (the key <job>/<user> is the idempotency key: a crashed
// expansion resumes without repeating anyone) in one transaction and
// returns how many it wrote.
func (s *Service) writeDeliveries(ctx context.Context, job string, chunk []Delivery) (int, error) {
	n := 0
	err := s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		n = 0
		for _, d := range chunk {
			key := job + "/" + string(d.User)
			// Only q/ is looked at: Process expands every pending job
			// before it delivers anything, so no delivery of a job that
			// is still being expanded can have been sent (m/).
			if _, err := tx.GetRecord(Namespace, "q/"+key); err == nil {
				continue
			}
			if err := jsonrec.Put(tx, Namespace, "q/"+key, d); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// due is one queued delivery picked for sending.
type due struct {
	key string
	d   Delivery
}

// maxRateWait is the longest a worker waits for a domain's rate limit;
// a delivery that would wait longer is deferred to a later pass.
const maxRateWait = time.Second

// deliver sends the deliveries that are due, Batch at a time, by Workers
// goroutines, until none is left that is due now.
func (s *Service) deliver(ctx context.Context) error {
	if s.cfg.Sender == nil {
		return errors.New("mail: no Sender configured")
	}
	if c, ok := s.cfg.Sender.(interface{ CloseIdle() error }); ok {
		// Connections stay open through a pass, not between passes.
		defer func() { _ = c.CloseIdle() }()
	}
	for {
		batch, err := s.dueBatch(ctx)
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := s.sendBatch(ctx, batch); err != nil {
			return err
		}
		if len(batch) < s.cfg.Batch {
			return nil
		}
	}
}

// dueBatch reads up to Batch deliveries that are due, oldest job first.
func (s *Service) dueBatch(ctx context.Context) ([]due, error) {
	now := s.cfg.Now()
	var batch []due
	errFull := errors.New("full")
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		err := tx.ScanRecords(Namespace, "q/", func(k string, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return nil
			}
			if d.Next.After(now) {
				return nil
			}
			batch = append(batch, due{strings.TrimPrefix(k, "q/"), d})
			if len(batch) >= s.cfg.Batch {
				return errFull
			}
			return nil
		})
		if errors.Is(err, errFull) {
			return nil
		}
		return err
	})
	return batch, err
}

// outcome is a delivery after an attempt: done (moved to m/) or waiting
// again (rewritten in q/).
type outcome struct {
	it   due
	done bool
}

// sendBatch sends batch with Workers goroutines. Outcomes are written by
// one committer in group commits (whatever the workers finished
// meanwhile, in one transaction), and a worker takes its next delivery
// only once its outcome is stored, so a crash can repeat at most the
// messages in flight.
func (s *Service) sendBatch(ctx context.Context, batch []due) error {
	jobs := map[string]*Job{}
	type task struct {
		it due
		j  *Job
	}
	work := make(chan task)
	results := make(chan outcome)
	committed := make(chan error)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() {
			for t := range work {
				o, err := s.attempt(ctx, t.j, t.it)
				if err != nil {
					cancel(err)
					continue
				}
				results <- o
				if err := <-committed; err != nil {
					cancel(err)
				}
			}
		})
	}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		for o := range results {
			group := []outcome{o}
		more:
			for len(group) < 256 {
				select {
				case o2, ok := <-results:
					if !ok {
						break more
					}
					group = append(group, o2)
				default:
					break more
				}
			}
			// Stored even when ctx is cancelled: these were sent.
			err := s.cfg.Store.Update(context.WithoutCancel(ctx), "mail", func(tx store.Tx) error {
				for _, o := range group {
					if err := s.store(tx, o); err != nil {
						return err
					}
				}
				return nil
			})
			for range group {
				committed <- err
			}
		}
	}()
	// The jobs are read here, before the workers see them.
	var err error
feed:
	for _, it := range batch {
		j, seen := jobs[it.d.Job]
		if !seen {
			j = new(Job)
			gerr := s.cfg.Store.View(ctx, func(tx store.Tx) error { return jsonrec.Get(tx, Namespace, "job/"+it.d.Job, j) })
			if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
				err = gerr
				break
			}
			if gerr != nil {
				j = nil // the job is gone: attempt drops the delivery
			}
			jobs[it.d.Job] = j
		}
		select {
		case work <- task{it, j}:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(results)
	<-commitDone
	if err != nil {
		return err
	}
	return context.Cause(ctx)
}

// store writes one outcome.
func (s *Service) store(tx store.Tx, o outcome) error {
	if !o.done {
		return jsonrec.Put(tx, Namespace, "q/"+o.it.key, o.it.d)
	}
	if err := jsonrec.Put(tx, Namespace, "m/"+o.it.key, o.it.d); err != nil {
		return err
	}
	return tx.DeleteRecord(Namespace, "q/"+o.it.key)
}

// attempt checks that the recipient still wants and may get the message,
// waits for the domain's rate limit, sends it and returns the outcome.
// It returns an error only when the store cannot be read; delivery
// failures are recorded on the delivery.
func (s *Service) attempt(ctx context.Context, j *Job, it due) (outcome, error) {
	drop := func(reason string) (outcome, error) {
		it.d.State, it.d.LastError = StateDropped, reason
		return outcome{it, true}, nil
	}
	if j == nil {
		return drop("the job is gone")
	}
	var u policy.User
	var prefs Prefs
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if u, err = userOf(tx, &it.d); err != nil {
			return err
		}
		prefs, err = readPrefs(tx, it.d.User)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return drop("the user no longer exists")
	case err != nil:
		return outcome{}, err
	case !u.Active:
		return drop("the user is deactivated")
	case u.PrimaryEmail() == "":
		return drop("the user has no e-mail address")
	}
	if reason := s.stillWanted(j, &it.d, prefs); reason != "" {
		return drop(reason)
	}
	now := s.cfg.Now()
	if wait := s.limits.reserve(domainOf(u.PrimaryEmail()), now, maxRateWait); wait > maxRateWait {
		// Deferred, not failed: no attempt is counted.
		it.d.Next = now.Add(wait)
		return outcome{it, false}, nil
	} else if wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		}
	}
	msg, err := s.render(ctx, j, it.d, u)
	if err != nil {
		it.d.State, it.d.LastError = StateFailed, err.Error()
		return outcome{it, true}, nil
	}
	sendErr := s.cfg.Sender.Send(ctx, msg)
	now = s.cfg.Now()
	it.d.Attempts++
	var pe *PermanentError
	switch {
	case sendErr == nil:
		it.d.State, it.d.LastError, it.d.Done = StateSent, "", now
		return outcome{it, true}, nil
	case errors.As(sendErr, &pe) || it.d.Attempts >= s.cfg.MaxAttempts:
		s.log.Warn("mail: delivery failed for good", "job", j.ID, "user", it.d.User, "attempts", it.d.Attempts, "err", sendErr)
		it.d.State, it.d.LastError, it.d.Done = StateFailed, sendErr.Error(), now
		return outcome{it, true}, nil
	}
	wait := s.cfg.Backoff << min(it.d.Attempts-1, 20)
	if wait > 6*time.Hour || wait <= 0 {
		wait = 6 * time.Hour
	}
	it.d.Next, it.d.LastError = now.Add(wait), sendErr.Error()
	s.log.Info("mail: delivery will be retried", "job", j.ID, "user", it.d.User, "attempt", it.d.Attempts, "next", it.d.Next, "err", sendErr)
	return outcome{it, false}, nil
}

// stillWanted returns why d must not be sent now, or "".
func (s *Service) stillWanted(j *Job, d *Delivery, p Prefs) string {
	if p.None {
		return "the user unsubscribed from all mail"
	}
	if j.Kind == KindDirect {
		return "" // about the user's own doing: only None stops it
	}
	if j.Kind == KindReminder {
		// They said they are going: a reminder stops only with
		// "nothing" from the group or leaving it.
		if p.mode(j.Group) == ModeNone {
			return "the user chose none for the group"
		}
		for _, m := range s.cfg.Engine.EffectiveGroups(d.User) {
			if m.Group == j.Group {
				return ""
			}
		}
		return "the user is no longer a member of the group"
	}
	member := map[policy.GroupID]bool{}
	for _, m := range s.cfg.Engine.EffectiveGroups(d.User) {
		if j.Kind == KindDigest || len(j.Roles) == 0 || slices.Contains(j.Roles, m.Role) {
			member[m.Group] = true
		}
	}
	if j.Kind == KindDigest {
		if p.mode("") == ModeNone { // the digest's own unsubscribe link
			return "the user unsubscribed from the digest"
		}
		items := d.Items[:0:0]
		for _, it := range d.Items {
			if member[it.Group] && p.mode(it.Group) != ModeNone {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			return "no meeting of the user's groups is left in the digest"
		}
		d.Items = items
		return ""
	}
	if !member[d.Via] {
		return "the user is no longer a member of the group"
	}
	if m := p.mode(d.Via); m != ModeAll {
		return "the user chose " + m + " for the group"
	}
	if d.Via != j.Group && p.mode(j.Group) != ModeAll {
		return "the user chose " + p.mode(j.Group) + " for " + j.GroupName
	}
	return ""
}
