package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/postgres"
)

// cmdStore runs `roster store copy --from bbolt:PATH|postgres:DSN --to
// bbolt:PATH|postgres:DSN`: it moves an installation between backends.
// Every record is copied as it is kept (ids, versions, times, the audit log
// with its sequence numbers, the opaque records of the protocol packages),
// the indexes are built at the target, and the copy is verified: both
// stores are read again and must give the same count of each kind of
// record and the same checksum over all of them.
func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return errors.New("store: usage: roster store copy --from bbolt:PATH|postgres:DSN --to bbolt:PATH|postgres:DSN")
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "source store: bbolt:PATH or postgres:DSN (servers on it stopped)")
	to := fs.String("to", "", "target store, empty: bbolt:PATH (a new file) or postgres:DSN (an empty database, migrated)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New("store copy: --from and --to are required")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := openCopyStore(ctx, *from, false, log)
	if err != nil {
		return fmt.Errorf("store copy: from: %w", err)
	}
	defer src.Close()
	if strings.HasPrefix(*to, "bbolt:") {
		if _, err := os.Stat(strings.TrimPrefix(*to, "bbolt:")); err == nil {
			return fmt.Errorf("store copy: to: %s exists; the target must be a new file", strings.TrimPrefix(*to, "bbolt:"))
		}
	}
	dst, err := openCopyStore(ctx, *to, true, log)
	if err != nil {
		return fmt.Errorf("store copy: to: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	if err := dst.Import(ctx, func(yield func(store.Item) error) error { return src.Export(ctx, yield) }); err != nil {
		return fmt.Errorf("store copy: %w", err)
	}
	copied := time.Since(start)
	want, err := store.DigestOf(ctx, src)
	if err != nil {
		return fmt.Errorf("store copy: verify: reading the source: %w", err)
	}
	got, err := store.DigestOf(ctx, dst)
	if err != nil {
		return fmt.Errorf("store copy: verify: reading the target: %w", err)
	}
	for _, k := range store.CopyKinds {
		fmt.Fprintf(stdout, "%-11s %9d\n", k, want.Counts[k])
	}
	if !sameCounts(want.Counts, got.Counts) || want.Sum() != got.Sum() {
		for _, k := range store.CopyKinds {
			if want.Counts[k] != got.Counts[k] {
				fmt.Fprintf(stdout, "target has %d %s records, source %d\n", got.Counts[k], k, want.Counts[k])
			}
		}
		return fmt.Errorf("store copy: verify: the target differs from the source (checksum %s, source %s)", got.Sum(), want.Sum())
	}
	fmt.Fprintf(stdout, "checksum    %s (source and target)\ncopied in %s, verified in %s\n", got.Sum(),
		copied.Round(time.Millisecond), (time.Since(start) - copied).Round(time.Millisecond))
	return nil
}

// copyStore is a store that can be copied.
type copyStore interface {
	store.Store
	store.Copier
}

// openCopyStore opens "bbolt:PATH" or "postgres:DSN"; a PostgreSQL target
// is migrated.
func openCopyStore(ctx context.Context, spec string, target bool, log *slog.Logger) (copyStore, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, errors.New("a store is bbolt:PATH or postgres:DSN") // spec may hold a password: not quoted
	}
	switch kind {
	case "bbolt":
		s, err := bolt.Open(arg, bolt.Options{Logger: log, Timeout: 2 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("%s (is a server using it? stop it first): %w", arg, err)
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, arg, postgres.Options{Logger: log, Migrate: target, MaxConns: 4})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown store kind %q (bbolt or postgres)", kind) // not the spec: it may hold a password
}

func sameCounts(a, b map[policy.Kind]int) bool {
	for _, k := range store.CopyKinds {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
