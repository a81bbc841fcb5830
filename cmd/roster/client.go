package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonreq"
)

// client talks to a running server's admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// clientFlags adds --server and --token to fs.
func clientFlags(fs *flag.FlagSet) func() (*client, error) {
	server := fs.String("server", envOr("ROSTER_SERVER", "http://127.0.0.1:8080"), "server base URL (env ROSTER_SERVER)")
	token := fs.String("token", "", "admin token (default: env ROSTER_ADMIN_TOKEN)")
	return func() (*client, error) {
		t := *token
		if t == "" {
			t = os.Getenv("ROSTER_ADMIN_TOKEN")
		}
		if t == "" {
			return nil, errors.New("no admin token: set ROSTER_ADMIN_TOKEN or pass --token")
		}
		return &client{base: strings.TrimRight(*server, "/"), token: t, http: &http.Client{Timeout: 5 * time.Minute}}, nil
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// apiError is the admin API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends a request to /api/v1+path and decodes a JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := jsonreq.New(ctx, method, c.base+"/api/v1"+path, c.token, "application/json", in)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

type groupJSON struct {
	ID             string `json:"id"`
	Slug           string `json:"slug"`
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	Parent         string `json:"parent"`
	Type           string `json:"type"`
	GovernanceMode string `json:"governanceMode"`
	Location       *struct {
		City    string `json:"city"`
		Region  string `json:"region"`
		Country string `json:"country"`
	} `json:"location"`
	Suspensions []struct {
		User   string `json:"user"`
		Reason string `json:"reason"`
	} `json:"suspensions"`
	Charter *struct {
		Applies                bool    `json:"applies"`
		Members                int     `json:"members"`
		InReference            int     `json:"inReference"`
		Ratio                  float64 `json:"ratio"`
		Subscribers            int     `json:"subscribers"`
		SubscribersInReference int     `json:"subscribersInReference"`
		SubscriberRatio        float64 `json:"subscriberRatio"`
		Chartered              bool    `json:"chartered"`
		Basis                  string  `json:"basis"`
		Reference              string  `json:"reference"`
		ReferenceKind          string  `json:"referenceKind"`
		Reason                 string  `json:"reason"`
	} `json:"charter"`
}

// cmdGroups prints the user groups as a tree.
func cmdGroups(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("groups", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var out struct{ Items []groupJSON }
	if err := c.do(ctx, "GET", "/groups", nil, &out); err != nil {
		return err
	}
	printTree(stdout, out.Items)
	return nil
}

func printTree(w io.Writer, gs []groupJSON) {
	byID := map[string]bool{}
	children := map[string][]groupJSON{}
	for _, g := range gs {
		byID[g.ID] = true
	}
	for _, g := range gs {
		p := g.Parent
		if !byID[p] {
			p = ""
		}
		children[p] = append(children[p], g)
	}
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		kids := children[parent]
		sort.Slice(kids, func(i, j int) bool { return kids[i].Slug < kids[j].Slug })
		for i, g := range kids {
			branch, next := "├── ", "│   "
			if i == len(kids)-1 {
				branch, next = "└── ", "    "
			}
			line := fmt.Sprintf("%s%s%s (%s) — %s", indent, branch, g.Slug, g.Kind, g.Name)
			var facts []string
			if g.Type != "" {
				facts = append(facts, g.Type)
			}
			if l := g.Location; l != nil {
				var at []string
				for _, p := range []string{l.City, l.Region, l.Country} {
					if p != "" && !slices.Contains(at, p) {
						at = append(at, p)
					}
				}
				if len(at) > 0 {
					facts = append(facts, strings.Join(at, ", "))
				}
			}
			if g.GovernanceMode == "self" {
				facts = append(facts, "self-governing")
			}
			for _, su := range g.Suspensions {
				if su.User == "" {
					facts = append(facts, "SUSPENDED: "+su.Reason)
				}
			}
			if len(facts) > 0 {
				line += " · " + strings.Join(facts, " · ")
			}
			if ch := g.Charter; ch != nil && ch.Applies {
				state := "not chartered"
				switch ch.Basis {
				case "members":
					state = "chartered by members"
				case "mailing-list":
					state = "chartered by mailing list"
				case "both":
					state = "chartered by members and mailing list"
				}
				line += fmt.Sprintf(" [%s: %d/%d members in the %s group %s, %.0f%%", state, ch.InReference, ch.Members, ch.ReferenceKind, ch.Reference, ch.Ratio*100)
				if ch.Subscribers > 0 {
					line += fmt.Sprintf("; %d/%d mailing-list subscribers, %.0f%%", ch.SubscribersInReference, ch.Subscribers, ch.SubscriberRatio*100)
				}
				line += "]"
			} else if ch != nil && ch.Reason != "" {
				line += " [charter: " + ch.Reason + "]"
			}
			fmt.Fprintln(w, line)
			walk(g.ID, indent+next)
		}
	}
	walk("", "")
}

// clientWithArgs parses the command line of client command name, which
// takes the client flags and exactly n positional arguments (else the
// error is usage), and opens the client.
func clientWithArgs(name string, n int, usage string, args []string, stderr io.Writer) (*client, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != n {
		return nil, nil, errors.New(usage)
	}
	c, err := mk()
	return c, pos, err
}

// cmdMembers prints a group's effective members.
func cmdMembers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, pos, err := clientWithArgs("members", 1, "usage: roster members GROUP", args, stderr)
	if err != nil {
		return err
	}
	var out struct {
		Slug    string `json:"slug"`
		Members []struct {
			User        string   `json:"user"`
			Role        string   `json:"role"`
			Origins     []string `json:"origins"`
			Tenant      string   `json:"tenant"`
			UserName    string   `json:"userName"`
			DisplayName string   `json:"displayName"`
		} `json:"members"`
	}
	if err := c.do(ctx, "GET", "/groups/"+url.PathEscape(pos[0])+"/members", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d memberships\n", out.Slug, len(out.Members))
	for _, m := range out.Members {
		fmt.Fprintf(stdout, "  %-10s %-28s %-24s %s\n", m.Role, m.Tenant+"/"+m.UserName, m.DisplayName, strings.Join(m.Origins, ","))
	}
	return nil
}

// cmdExplain prints why USER may or may not use PERMISSION in GROUP.
func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, pos, err := clientWithArgs("explain", 3, "usage: roster explain USER PERMISSION GROUP  (USER: id or tenant/userName; GROUP: id or slug)", args, stderr)
	if err != nil {
		return err
	}
	q := url.Values{"user": {pos[0]}, "permission": {pos[1]}, "group": {pos[2]}}
	var ex struct {
		Allowed bool   `json:"allowed"`
		Reason  string `json:"reason"`
		Steps   []struct {
			Text string `json:"text"`
		} `json:"steps"`
	}
	if err := c.do(ctx, "GET", "/explain?"+q.Encode(), nil, &ex); err != nil {
		return err
	}
	if ex.Allowed {
		fmt.Fprintf(stdout, "ALLOWED: %s may %s in %s because\n", pos[0], pos[1], pos[2])
		for i, s := range ex.Steps {
			fmt.Fprintf(stdout, "  %d. %s\n", i+1, s.Text)
		}
		return nil
	}
	fmt.Fprintf(stdout, "DENIED: %s may not %s in %s: %s\n", pos[0], pos[1], pos[2], ex.Reason)
	return nil
}

// cmdSCIMToken creates, lists and revokes SCIM bearer tokens.
func cmdSCIMToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: roster scim-token create|list|revoke --tenant T [--name N]")
	}
	verb := args[0]
	fs := flag.NewFlagSet("scim-token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	tenant := fs.String("tenant", "", "tenant id")
	name := fs.String("name", "", "token name (default: a timestamp on create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("scim-token: --tenant is required")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	path := "/tenants/" + url.PathEscape(*tenant) + "/scim-tokens"
	switch verb {
	case "create":
		n := *name
		if n == "" {
			n = "token-" + time.Now().UTC().Format("20060102-150405")
		}
		var out struct {
			Name  string `json:"name"`
			Token string `json:"token"`
		}
		if err := c.do(ctx, "POST", path, map[string]string{"name": n}, &out); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "SCIM token %q for tenant %s (shown once; only its hash is stored):\n", out.Name, *tenant)
		fmt.Fprintln(stdout, out.Token)
	case "list":
		var out struct {
			Items []struct {
				Name    string    `json:"name"`
				Created time.Time `json:"created"`
			} `json:"items"`
		}
		if err := c.do(ctx, "GET", path, nil, &out); err != nil {
			return err
		}
		for _, t := range out.Items {
			fmt.Fprintf(stdout, "%-30s %s\n", t.Name, t.Created.Format(time.RFC3339))
		}
	case "revoke":
		if *name == "" {
			return errors.New("scim-token revoke: --name is required")
		}
		if err := c.do(ctx, "DELETE", path+"/"+url.PathEscape(*name), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", *name)
	default:
		return fmt.Errorf("scim-token: unknown verb %q", verb)
	}
	return nil
}

// cmdBackup streams an online backup from a running server into a file.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	out := fs.String("out", "", "file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out is required")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	c.http.Timeout = 0 // a large store takes its time; Ctrl-C stops it
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	cw := &countingWriter{w: f}
	err = c.do(ctx, "GET", "/backup", nil, cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && cw.n == 0 {
		err = errors.New("backup: server sent an empty backup")
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, cw.n)
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// parseArgs parses flags that may stand before, between or after the
// positional arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
