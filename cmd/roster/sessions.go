package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// cmdSessions lists or ends a user's browser sessions at the OpenID
// provider through the admin API:
//
//	roster sessions list --tenant T --user U
//	roster sessions revoke --tenant T --user U (--id ID | --all)
//
// Ending a session revokes the tokens issued in it and sends back-channel
// logout tokens to its clients.
func cmdSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke") {
		fmt.Fprintln(stderr, "usage: roster sessions list|revoke --tenant T --user U [--id ID | --all]")
		return flag.ErrHelp
	}
	verb := args[0]
	fs := flag.NewFlagSet("sessions "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	tenant := fs.String("tenant", "", "tenant id")
	user := fs.String("user", "", "user id or user name")
	id := fs.String("id", "", "session id (revoke)")
	all := fs.Bool("all", false, "revoke every session of the user")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *tenant == "" || *user == "" {
		return errors.New("sessions: --tenant and --user are required")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	path := "/tenants/" + url.PathEscape(*tenant) + "/users/" + url.PathEscape(*user) + "/sessions"
	if verb == "revoke" {
		switch {
		case *id != "" && *all, *id == "" && !*all:
			return errors.New("sessions revoke: give either --id or --all")
		case *id != "":
			path += "/" + url.PathEscape(*id)
		}
		var out struct {
			Revoked int `json:"revoked"`
		}
		if err := c.do(ctx, "DELETE", path, nil, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d session(s) ended\n", out.Revoked)
		return nil
	}
	var out struct {
		Items []struct {
			ID        string    `json:"id"`
			AMR       []string  `json:"amr"`
			AuthTime  time.Time `json:"authTime"`
			LastUsed  time.Time `json:"lastUsed"`
			Expires   time.Time `json:"expires"`
			Address   string    `json:"address"`
			Clients   []string  `json:"clients"`
			UserAgent string    `json:"userAgent"`
		} `json:"items"`
	}
	if err := c.do(ctx, "GET", path, nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIGNED IN\tBY\tLAST USED\tENDS\tADDRESS\tCLIENTS")
	for _, s := range out.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.AuthTime.Format(time.RFC3339), strings.Join(s.AMR, ","),
			s.LastUsed.Format(time.RFC3339), s.Expires.Format(time.RFC3339), s.Address, strings.Join(s.Clients, ","))
	}
	return tw.Flush()
}
