package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	mp "github.com/roster-dev/roster/internal/mailpit"
	"github.com/roster-dev/roster/internal/testclock"
	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/storetest"
)

// mailpit is a running Mailpit on the loopback (internal/mailpit).
type mailpit struct {
	*mp.Server
	t        testing.TB
	smtpPort int
	api      string
}

// startMailpit starts Mailpit with extra flags and stops it (by its PID)
// when the test ends.
func startMailpit(t testing.TB, extra ...string) *mailpit {
	t.Helper()
	s := mp.Start(t, extra...)
	return &mailpit{Server: s, t: t, smtpPort: s.SMTPPort, api: s.API}
}

// received is one message as Mailpit got it, parsed.
type received struct {
	To      string
	Header  netmail.Header
	Subject string
	// Parts maps a media type (text/plain, text/html, text/calendar) to
	// the decoded part; ParamsOf its Content-Type parameters.
	Parts    map[string]string
	ParamsOf map[string]map[string]string
}

// messages reads every message Mailpit holds, sorted by recipient.
func (m *mailpit) messages() []received {
	m.t.Helper()
	var out []received
	for _, raw := range m.Raw() {
		out = append(out, parseMessage(m.t, raw))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To < out[j].To })
	return out
}

func (m *mailpit) clear() { m.Clear() }

// recipients lists the To addresses of every message held.
func (m *mailpit) recipients() []string {
	var out []string
	for _, r := range m.messages() {
		out = append(out, r.To)
	}
	return out
}

func parseMessage(t testing.TB, raw []byte) received {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	r := received{Header: msg.Header, Parts: map[string]string{}, ParamsOf: map[string]map[string]string{}}
	if to, err := netmail.ParseAddress(msg.Header.Get("To")); err == nil {
		r.To = to.Address
	}
	dec := new(mime.WordDecoder)
	r.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	var walk func(ct, cte string, body io.Reader)
	walk = func(ct, cte string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
		switch strings.ToLower(cte) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: bufio.NewReader(body)})
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		r.Parts[mt], r.ParamsOf[mt] = string(b), params
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return r
}

// crlfStripper drops line breaks from base64 text.
type crlfStripper struct{ r *bufio.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b != '\r' && b != '\n' {
			p[n] = b
			n++
		}
	}
	return n, nil
}

// flaky is an SMTP front for Mailpit that fails the connections fail
// says to (answering 421 at the greeting, RFC 5321 §3.8) and passes the
// others through.
type flaky struct {
	ln    net.Listener
	port  int
	conns atomic.Int64
	fail  func(n int64) bool
	wg    sync.WaitGroup
}

func startFlaky(t *testing.T, target int, fail func(n int64) bool) *flaky {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, fail: fail}
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := f.conns.Add(1)
			f.wg.Go(func() {
				defer c.Close()
				if f.fail(n) {
					_, _ = io.WriteString(c, "421 4.3.2 Service not available, try again later\r\n")
					return
				}
				up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", target))
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { _, _ = io.Copy(up, c); close(done) }()
				_, _ = io.Copy(c, up)
				<-done
			})
		}
	})
	return f
}

// world is a store with a small hierarchy, a policy engine fed by it and
// a clock the test moves.
type world struct {
	t     *testing.T
	st    store.Store
	eng   *policy.Engine
	clock *testclock.Clock
	ids   map[string]policy.UserID // userName → id
	grp   map[string]policy.Group  // slug → group
}

// newWorld: isug ⊃ rug ⊃ lug; alice, bob and carol are members of lug
// (carol from acme), erin of rug, frank of isug; dave of nothing.
func newWorld(t *testing.T) *world {
	t.Helper()
	st := teststore.Bolt(t, policy.Tenant{ID: "vendor", Name: "Vendor", Kind: policy.TenantVendor}, policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	w := &world{t: t, st: st, clock: testclock.New(time.Date(2031, 3, 5, 9, 0, 0, 0, time.UTC)), ids: map[string]policy.UserID{}, grp: map[string]policy.Group{}}
	err := st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, r := range demo.DefaultRoles() {
			if _, err := tx.PutRole(r); err != nil {
				return err
			}
		}
		for _, u := range []struct{ tenant, name string }{{"vendor", "alice"}, {"vendor", "bob"}, {"acme", "carol"}, {"vendor", "dave"}, {"vendor", "erin"}, {"acme", "frank"}} {
			nu, err := tx.CreateUser(policy.TenantID(u.tenant), policy.User{UserName: u.name, DisplayName: strings.ToUpper(u.name[:1]) + u.name[1:],
				Active: true, Source: "test", Emails: []policy.Email{{Value: u.name + "@" + u.tenant + ".example", Primary: true}}})
			if err != nil {
				return err
			}
			w.ids[u.name] = nu.ID
		}
		parent := policy.GroupID("")
		for _, g := range []policy.Group{{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational}, {Slug: "rug", Name: "RUG Europe", Kind: policy.GroupRegional}, {Slug: "lug", Name: "LUG London", Kind: policy.GroupLocal}} {
			g.Parent = parent
			ng, err := tx.CreateGroup(g)
			if err != nil {
				return err
			}
			w.grp[g.Slug], parent = ng, ng.ID
		}
		for _, m := range []struct{ user, group string }{{"alice", "lug"}, {"bob", "lug"}, {"carol", "lug"}, {"erin", "rug"}, {"frank", "isug"}} {
			if _, err := tx.AddMembership(policy.Membership{User: w.ids[m.user], Group: w.grp[m.group].ID, Role: "member", Origin: policy.OriginManual}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.eng = storetest.Engine(t, st, policy.EngineConfig{Charter: policy.DefaultCharter})
	return w
}

// service returns a Service sending to 127.0.0.1:port.
func (w *world) service(port int, tune func(*Config)) *Service {
	w.t.Helper()
	cfg := Config{
		Now: w.clock.Now, Store: w.st, Engine: w.eng,
		Sender:  &SMTP{Host: "127.0.0.1", Port: port, Timeout: 10 * time.Second},
		From:    netmail.Address{Address: "groups@roster.example"},
		BaseURL: "https://roster.example",
		Backoff: time.Minute,
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// announce queues an announcement from the group slug to groups.
func (w *world) announce(slug, subject string, groups ...string) Job {
	w.t.Helper()
	var j Job
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) (err error) {
		a := Announcement{Group: w.grp[slug], Subject: subject, Body: "Hello all.\n\nSee you soon.", AuthorName: "Alice"}
		for _, g := range groups {
			a.Groups = append(a.Groups, w.grp[g].ID)
		}
		j, err = Queue(tx, a, w.clock.Now())
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return j
}

// setActive (de)activates a user, as a directory would.
func (w *world) setActive(name, tenant string, active bool) {
	w.t.Helper()
	err := w.st.Update(context.Background(), "scim:"+tenant, func(tx store.Tx) error {
		u, err := tx.User(policy.TenantID(tenant), w.ids[name])
		if err != nil {
			return err
		}
		u.Active = active
		_, err = tx.UpdateUser(policy.TenantID(tenant), u)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// updateGroup changes group slug with fn.
func (w *world) updateGroup(slug string, fn func(*policy.Group)) {
	w.t.Helper()
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		g, err := tx.Group(w.grp[slug].ID)
		if err != nil {
			return err
		}
		fn(&g)
		_, err = tx.UpdateGroup(g)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func process(t *testing.T, s *Service) {
	t.Helper()
	if err := s.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
}
