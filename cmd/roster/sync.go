package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/ldap"
)

// cmdSync runs one directory sync and exits (for cron and benchmarks), or
// approves deletions held back by the guard.
//
//	roster sync --config FILE [--directory [TENANT/]ID] [--mode full|incremental] [--dry-run]
//	roster sync approve --directory TENANT/ID [--revalidate] (--config FILE | --server URL)
//
// --dry-run reads the directory and the store and prints what the run
// would create, update, deactivate and delete (and what the deletion guard
// would hold), writing nothing.
//
// approve applies exactly the change the deletion guard holds, or, with
// --revalidate, runs a full sync that applies what the directory still
// confirms of it.
func cmdSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	approve := len(args) > 0 && args[0] == "approve"
	if approve {
		args = args[1:]
	}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (opens the store directly: the server must be stopped)")
	dirFlag := fs.String("directory", "", "directory to sync, as TENANT/ID or ID (default: all)")
	mode := fs.String("mode", "full", "full or incremental")
	revalidate := fs.Bool("revalidate", false, "approve: re-read the directory and apply what it still confirms of the held change")
	dryRun := fs.Bool("dry-run", false, "print what the run would create, update, deactivate and delete, without writing")
	mk := clientFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if approve && *cfgPath == "" {
		// Through a running server's admin API.
		t, d, ok := strings.Cut(*dirFlag, "/")
		if !ok {
			return errors.New("sync approve: --directory TENANT/ID is required")
		}
		c, err := mk()
		if err != nil {
			return err
		}
		path := "/sync/" + url.PathEscape(t) + "/" + url.PathEscape(d) + "/approve"
		if *revalidate {
			path += "?revalidate=true"
		}
		var st ldap.RunStatus
		if err := c.do(ctx, "POST", path, nil, &st); err != nil {
			return err
		}
		printApproval(stdout, *dirFlag, st)
		return nil
	}
	if *cfgPath == "" {
		return errors.New("sync: --config is required")
	}
	if approve && *dryRun {
		return errors.New("sync approve: --dry-run is not supported")
	}
	if *mode != string(ldap.Full) && *mode != string(ldap.Incremental) {
		return fmt.Errorf("sync: --mode must be full or incremental, not %q", *mode)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	sec, err := decodeSections(cfg)
	if err != nil {
		return err
	}
	if approve && *dirFlag == "" {
		return errors.New("sync approve: --directory TENANT/ID is required")
	}
	logger := newLogger(cfg.Log, stderr)
	st, _, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		return fmt.Errorf("%w (is the server running?)", err)
	}
	a := &app{cfg: cfg, sections: sec, log: logger, store: st, reg: prometheus.NewRegistry()}
	a.closers = append(a.closers, func() { _ = st.Close() })
	defer a.Close()
	if err := a.seed(ctx); err != nil {
		return err
	}
	sources, err := a.openDirectories(nil)
	if err != nil {
		return err
	}
	var keys []string
	for k := range sources {
		if *dirFlag == "" || k == *dirFlag || strings.HasSuffix(k, "/"+*dirFlag) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("sync: no directory matches %q", *dirFlag)
	}
	sort.Strings(keys)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	var failed []string
	for _, k := range keys {
		if approve {
			st, err := sources[k].Approve(ctx, ldap.ApproveOptions{Revalidate: *revalidate})
			if err != nil {
				return err
			}
			printApproval(stdout, k, st)
			continue
		}
		if *dryRun {
			rs, changes, err := sources[k].DryRun(ctx, ldap.Mode(*mode))
			printDryRun(stdout, k, rs, changes)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", k, err))
			}
			continue
		}
		rs, err := sources[k].Sync(ctx, ldap.Mode(*mode))
		_ = enc.Encode(rs)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("sync failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// printApproval says what an approval applied.
func printApproval(w io.Writer, dir string, st ldap.RunStatus) {
	fmt.Fprintf(w, "approved %s: %d users deleted, %d deactivated, %d groups deleted, %d memberships removed\n",
		dir, st.Users.Deleted, st.Users.Deactivated, st.Groups.Deleted, st.Memberships.Removed)
	if st.Held != nil {
		fmt.Fprintf(w, "still held: %s\n", st.Held.Reason)
	}
}

// printDryRun lists the changes a dry run found, then sums them up.
func printDryRun(w io.Writer, dir string, rs ldap.RunStatus, changes []ldap.Change) {
	fmt.Fprintf(w, "dry run of %s (%s): nothing written\n", dir, rs.Mode)
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintf(w, "would create %d users and %d groups, update %d users (%d deactivated) and %d groups, delete %d users and %d groups; memberships +%d -%d\n",
		rs.Users.Created, rs.Groups.Created, rs.Users.Updated, rs.Users.Deactivated, rs.Groups.Updated,
		rs.Users.Deleted, rs.Groups.Deleted, rs.Memberships.Added, rs.Memberships.Removed)
	if rs.Guard != "" {
		fmt.Fprintf(w, "would hold (%d users, %d groups, %d memberships): %s\n", rs.Users.Held, rs.Groups.Held, rs.Memberships.Held, rs.Guard)
	}
	if rs.Error != "" {
		fmt.Fprintf(w, "error: %s\n", rs.Error)
	}
}
