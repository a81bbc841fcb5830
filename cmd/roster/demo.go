package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// cmdDemo runs the server on bbolt with demo data.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "listen address")
	data := fs.String("data", "./roster-data", "data directory")
	mapTiles := fs.String("map-tiles", "", "URL template of map tiles for the LUG finder, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png (default: no map)")
	mapAttribution := fs.String("map-attribution", "", "the credit the map tile provider asks for")
	smtpAddr := fs.String("smtp", "", "send the demo's mail (a welcome announcement, the meetings' invitations, then whatever you do) to this SMTP server without TLS, e.g. Mailpit at 127.0.0.1:1025")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := os.Getenv("ROSTER_ADMIN_TOKEN")
	if token == "" {
		token = randString() + randString()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	clientSecret := randString() + randString()
	portalSecret := randString() + randString()
	doc := demoConfig(addr, filepath.Join(*data, "roster.db"))
	if *smtpAddr != "" {
		host, port, err := net.SplitHostPort(*smtpAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("demo: --smtp wants host:port: %w", err)
		}
		doc = append(doc, fmt.Sprintf("mail: {smtp: {host: %q, port: %s, tls: none}, from: \"groups@vendor.example\"}\n", host, port)...)
	}
	cfg, err := config.Parse(doc, func(k string) (string, bool) {
		switch k {
		case "ROSTER_ADMIN_TOKEN":
			return token, true
		case "DEMO_CLIENT_SECRET":
			return clientSecret, true
		case "PORTAL_CLIENT_SECRET":
			return portalSecret, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Policy.Products = demo.Products // the demo world's product lines
	cfg.Portal.MapTiles, cfg.Portal.MapAttribution = *mapTiles, *mapAttribution
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	if err := seedDemo(ctx, cfg.Store.Bbolt.Path, *smtpAddr != ""); err != nil {
		ln.Close()
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.Close()
	base := cfg.Issuer
	rp := &demoRP{issuer: base, clientID: demoClientID, secret: clientSecret}
	rp.routes(a.mux)
	fmt.Fprintf(stdout, `Roster demo is running.

  Portal        %[1]s/portal/
  Public pages  %[1]s/portal/public   LUG finder %[1]s/portal/find?place=Reading
  Admin API     %[1]s/api/v1/groups
  Admin token   %[2]s
  Health        %[1]s/healthz   Metrics %[1]s/metrics
  SCIM (acme)   %[1]s/scim/v2/acme/Users
  OIDC          %[1]s/.well-known/openid-configuration

Try:
  export ROSTER_ADMIN_TOKEN='%[2]s' ROSTER_SERVER=%[1]s
  go run ./cmd/roster groups
  go run ./cmd/roster members lug-london
  go run ./cmd/roster explain %[3]s members.manage lug-london
`, base, token, "vendor/alice")
	fmt.Fprintf(stdout, `
Sign in as a member: open %[1]s/demo/ and choose a company; every demo
account's password is %[2]q. Try vendor: alice (organizer of lug-london),
victor (ISUG admin), quinn (RUG Europe admin); acme: bob@acme.example;
globex: tina@globex.example.

  OIDC client   id %[3]s, secret %[4]s
                redirect URI %[1]s/demo/callback
`, base, demoPassword, demoClientID, clientSecret)
	if *smtpAddr != "" {
		fmt.Fprintf(stdout, "\nMail goes to the SMTP server at %s: a welcome to LUG London's members and the\nmeetings' invitations first, then whatever you do (Mailpit shows it at http://127.0.0.1:8025).\n", *smtpAddr)
	}
	fmt.Fprintln(stdout, "\nData is kept in", *data, "— stop with Ctrl-C.")
	return a.serve(ctx, ln)
}

// Demo sign-in: the client of the demo portal and the password of every
// demo account.
const (
	demoClientID = "demo-portal"
	demoPassword = "roster-demo"
)

// demoAccounts are the local accounts of `roster demo`, per tenant.
var demoAccounts = map[string][]string{
	"vendor": {"alice", "victor", "quinn", "peter", "mallory", "hans"},
	"acme":   {"bob@acme.example", "pam@acme.example"},
	"globex": {"tina@globex.example"},
}

// demoConfig is the configuration of `roster demo`.
func demoConfig(addr, dbPath string) []byte {
	accounts := func(t string) string {
		s := ""
		for _, u := range demoAccounts[t] {
			s += fmt.Sprintf("\n      - {userName: %q, password: %q}", u, demoPassword)
		}
		return s
	}
	return []byte(fmt.Sprintf(`listen: %[1]q
issuer: "http://%[1]s"
store:
  bbolt: {path: %[2]q}
admin:
  tokens: ["${ROSTER_ADMIN_TOKEN}"]
  clients: [%[3]s, portal]
clients:
  - id: %[3]s
    name: Roster demo portal
    secret: "${DEMO_CLIENT_SECRET}"
    redirectURIs: ["http://%[1]s/demo/callback"]
    postLogoutRedirectURIs: ["http://%[1]s/demo/"]
  - id: portal
    name: Roster portal
    secret: "${PORTAL_CLIENT_SECRET}"
    redirectURIs: ["http://%[1]s/portal/callback"]
    postLogoutRedirectURIs: ["http://%[1]s/portal/"]
portal: {clientID: portal, clientSecret: "${PORTAL_CLIENT_SECRET}"}
ui: {title: "Vendor Inc user groups", primaryColor: "#1d4f91"}
tenants:
  - id: vendor
    name: Vendor Inc
    kind: vendor
    domains: [vendor.example]
    localAccounts:%[4]s
  - id: acme
    name: Acme Corp
    kind: partner
    domains: [acme.example]
    localAccounts:%[5]s
  - id: globex
    name: Globex Corporation
    kind: partner
    domains: [globex.example]
    localAccounts:%[6]s
`, addr, dbPath, demoClientID, accounts("vendor"), accounts("acme"), accounts("globex")))
}

// seedDemo loads the demo world into a fresh store; a store that already
// holds user groups is left as it is. With mail, the seeded meetings are
// mailed as invitations and LUG London's members get a welcome.
func seedDemo(ctx context.Context, path string, withMail bool) error {
	st, err := bolt.Open(path, bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	defer st.Close()
	var n int
	if err := st.View(ctx, func(tx store.Tx) error {
		gs, err := tx.Groups()
		n = len(gs)
		return err
	}); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	now := time.Now()
	w := demo.World(now)
	return st.Update(ctx, "demo", func(tx store.Tx) error {
		if err := loadWorld(tx, w); err != nil {
			return err
		}
		if withMail {
			if err := seedMail(tx, now); err != nil {
				return err
			}
		}
		// Talks, RSVPs, check-ins and ratings around the meetings.
		if err := admin.LoadMeetingActivity(tx, demo.Activity(now)); err != nil {
			return err
		}
		return seedVoice(tx, w, now)
	})
}

// loadWorld writes a whole world into the store in one transaction:
// tenants, roles, users, directory groups (then their members), user groups
// (parents first), rules and memberships.
func loadWorld(tx store.Tx, w policy.World) error {
	for _, t := range w.Tenants {
		if err := tx.PutTenant(t); err != nil {
			return err
		}
	}
	for _, r := range w.Roles {
		if cur, err := tx.Role(r.Name); err == nil {
			r.Version = cur.Version
		}
		if _, err := tx.PutRole(r); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
	}
	for _, u := range w.Users {
		u.Version = 0
		if _, err := tx.CreateUser(u.Tenant, u); err != nil {
			return fmt.Errorf("user %s: %w", u.UserName, err)
		}
	}
	for _, d := range w.DirGroups {
		bare := d
		bare.MemberUsers, bare.MemberGroups, bare.Version = nil, nil, 0
		if _, err := tx.CreateDirGroup(d.Tenant, bare); err != nil {
			return fmt.Errorf("dirgroup %s: %w", d.DisplayName, err)
		}
	}
	for _, d := range w.DirGroups {
		cur, err := tx.DirGroup(d.Tenant, d.ID)
		if err != nil {
			return err
		}
		cur.MemberUsers, cur.MemberGroups = d.MemberUsers, d.MemberGroups
		if _, err := tx.UpdateDirGroup(d.Tenant, cur); err != nil {
			return fmt.Errorf("dirgroup %s members: %w", d.DisplayName, err)
		}
	}
	groups := append([]policy.Group(nil), w.Groups...)
	depth := map[policy.GroupID]int{}
	byID := map[policy.GroupID]policy.Group{}
	for _, g := range groups {
		byID[g.ID] = g
	}
	var dep func(policy.GroupID, int) int
	dep = func(id policy.GroupID, guard int) int {
		g, ok := byID[id]
		if !ok || g.Parent == "" || guard > len(groups) {
			return 0
		}
		return 1 + dep(g.Parent, guard+1)
	}
	for _, g := range groups {
		depth[g.ID] = dep(g.ID, 0)
	}
	sort.SliceStable(groups, func(i, j int) bool { return depth[groups[i].ID] < depth[groups[j].ID] })
	for _, g := range groups {
		g.Version = 0
		if _, err := tx.CreateGroup(g); err != nil {
			return fmt.Errorf("group %s: %w", g.Slug, err)
		}
	}
	for _, r := range w.Rules {
		r.Version = 0
		if _, err := tx.CreateRule(r); err != nil {
			return fmt.Errorf("rule %s: %w", r.ID, err)
		}
	}
	for _, m := range w.Memberships {
		if _, err := tx.AddMembership(m); err != nil {
			return fmt.Errorf("membership %s: %w", policy.MembershipKey(m.Group, m.User, m.Role), err)
		}
	}
	return nil
}

// cmdRestore replaces the store file with a backup (the server must be
// stopped).
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "backup file")
	file := boltFlags(fs, "its store path is restored")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("restore: --in is required")
	}
	path, _, err := file()
	if err != nil {
		return err
	}
	if err := refusePostgresExport(*in); err != nil {
		return err
	}
	if err := bolt.Restore(*in, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s from %s\n", path, *in)
	return nil
}

// seedVoice writes the demo's product feedback, its pending application to
// found a LUG and two years of analytics (demo/voice.go).
func seedVoice(tx store.Tx, w policy.World, now time.Time) error {
	for _, f := range demo.Feedback(now) {
		if err := admin.PutFeedback(tx, f, demo.Products); err != nil {
			return fmt.Errorf("feedback %s: %w", f.ID, err)
		}
	}
	for _, a := range demo.Applications(now) {
		if err := admin.PutApplication(tx, a); err != nil {
			return fmt.Errorf("application %s: %w", a.ID, err)
		}
	}
	return admin.PutStatsMonths(tx, demo.History(w.Groups, now, 1))
}

// seedMail makes the demo's first outbox pass mail the seeded meetings'
// invitations, and queues a welcome announcement to LUG London.
func seedMail(tx store.Tx, now time.Time) error {
	if err := mail.NoticeFromStart(tx); err != nil {
		return err
	}
	g, err := tx.Group(demo.GroupLUGLondon)
	if err != nil {
		return err
	}
	_, err = mail.Queue(tx, mail.Announcement{Group: g, Subject: "Welcome to the Roster demo", AuthorName: "Alice",
		Body: "This is an **announcement** from LUG London, written in Markdown.\n\n" +
			"Invitations to the group's meetings arrive as separate messages; open one to add the meeting to your calendar. " +
			"The links at the bottom choose what you get: every message, a weekly digest, or nothing."}, now)
	return err
}
