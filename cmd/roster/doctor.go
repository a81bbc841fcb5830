package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// errDoctorFindings is returned when doctor found something to look at,
// so that scripts see a non-zero exit.
var errDoctorFindings = errors.New("doctor: the store needs attention")

// cmdDoctor checks a store while the server is stopped: opening it
// quarantines the records that do not decode (logged on stderr); doctor
// then lists the quarantine and verifies every index. --delete drops one
// quarantined record (with the cascades of a delete).
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := boltFlags(fs, "its store is checked")
	drop := fs.String("delete", "", "drop the quarantined record with this id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path, cfg, err := file()
	if err != nil {
		return err
	}
	hier := policy.DefaultHierarchy()
	if cfg != nil {
		if hier, err = cfg.Policy.Hierarchy(); err != nil {
			return err
		}
	}
	st, err := bolt.Open(path, bolt.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil)), Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("doctor: %w (is the server still running?)", err)
	}
	defer st.Close()
	if *drop != "" {
		if err := st.Update(ctx, "doctor", func(tx store.Tx) error { return tx.DeleteQuarantined(*drop) }); err != nil {
			return fmt.Errorf("doctor: delete %s: %w", *drop, err)
		}
		fmt.Fprintf(stdout, "deleted quarantined record %s\n", *drop)
	}
	var q []store.Quarantined
	if err := st.View(ctx, func(tx store.Tx) (err error) { q, err = tx.Quarantine(); return }); err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	findings := false
	fmt.Fprintf(stdout, "quarantine: %d records\n", len(q))
	for _, r := range q {
		findings = true
		fmt.Fprintf(stdout, "  %s\t%s\ttenant=%s\tkey=%s\t%d bytes\t%s\t%s\n", r.ID, r.Kind, r.Tenant, r.Key, r.Size, r.Time.Format(time.RFC3339), r.Reason)
	}
	if len(q) > 0 {
		fmt.Fprintln(stdout, "  repair with PUT /api/v1/quarantine/{id}, drop with DELETE or roster doctor --delete ID")
	}
	var ie *bolt.IndexError
	switch err := st.Verify(ctx); {
	case err == nil:
		fmt.Fprintln(stdout, "indexes: ok")
	case errors.As(err, &ie):
		findings = true
		fmt.Fprintf(stdout, "indexes: %d problems\n", len(ie.Problems))
		for _, p := range ie.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	default:
		return fmt.Errorf("doctor: verify: %w", err)
	}
	var groups []policy.Group
	if err := st.View(ctx, func(tx store.Tx) (err error) { groups, err = tx.Groups(); return }); err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	if v := hier.Violations(groups); len(v) > 0 {
		findings = true
		fmt.Fprintf(stdout, "hierarchy: %d groups break a placement rule\n", len(v))
		for _, l := range v {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
		fmt.Fprintln(stdout, "  fix with PATCH or POST /api/v1/groups/{g}/move (the API refuses new breaches)")
	} else {
		fmt.Fprintln(stdout, "hierarchy: ok")
	}
	if findings {
		return errDoctorFindings
	}
	return nil
}
