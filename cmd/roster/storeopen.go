package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/postgres"
)

// openStore opens the configured backend. path is the bbolt file ("" for
// PostgreSQL), for the storage health's free-space check.
func openStore(ctx context.Context, sc config.StoreConfig, logger *slog.Logger) (st store.Store, path string, err error) {
	if p := sc.Postgres; p != nil {
		s, err := postgres.Open(ctx, p.DSN, postgres.Options{Logger: logger, MaxConns: p.MaxConns, Migrate: p.Migrate == "auto"})
		if err != nil {
			return nil, "", fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return s, "", nil
	}
	s, err := bolt.Open(sc.Bbolt.Path, bolt.Options{Logger: logger, Timeout: 5 * time.Second})
	if err != nil {
		return nil, "", fmt.Errorf("open store %s: %w", sc.Bbolt.Path, err)
	}
	return s, sc.Bbolt.Path, nil
}

// boltFlags declares --config and --data on fs for a command that works
// on a bbolt file while the server is stopped (configHelp says what it
// does with the configured store); after fs.Parse the returned func
// resolves them with boltFile, named after fs.
func boltFlags(fs *flag.FlagSet, configHelp string) func() (path string, cfg *config.Config, err error) {
	cfgPath := fs.String("config", "", "configuration file ("+configHelp+")")
	data := fs.String("data", "", "data directory of `roster demo` (alternative to --config)")
	return func() (string, *config.Config, error) { return boltFile(fs.Name(), *cfgPath, *data) }
}

// boltFile resolves the bbolt file a command cmd works on: the one the
// configuration at cfgPath names, or roster.db in the folder data. cfg is
// the loaded configuration (nil with data). A PostgreSQL configuration
// is refused (errNotBbolt).
func boltFile(cmd, cfgPath, data string) (path string, cfg *config.Config, err error) {
	switch {
	case cfgPath != "":
		if cfg, err = config.Load(cfgPath); err != nil {
			return "", nil, err
		}
		if cfg.Store.Postgres != nil {
			return "", nil, errNotBbolt(cmd)
		}
		return cfg.Store.Bbolt.Path, cfg, nil
	case data != "":
		return filepath.Join(data, "roster.db"), nil, nil
	default:
		return "", nil, fmt.Errorf("%s: --config or --data is required", cmd)
	}
}

// errNotBbolt answers the commands that work on a bbolt file only.
func errNotBbolt(cmd string) error {
	return fmt.Errorf("%s: the configured store is PostgreSQL; this command works on a bbolt file. %s", cmd, pgDumpHint)
}

const pgDumpHint = `Back up PostgreSQL with pg_dump while Roster runs (pg_dump --format=custom --file=roster.dump "$ROSTER_DATABASE_URL") and restore with pg_restore.`

// cmdMigrate applies the schema migrations of the configured PostgreSQL
// store: `roster migrate --config FILE`.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (its store.postgres is migrated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("migrate: --config is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Store.Postgres == nil {
		return errors.New("migrate: the configured store is bbolt, which needs no migration (only store.postgres is migrated)")
	}
	applied, err := postgres.Migrate(ctx, cfg.Store.Postgres.DSN)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", postgres.SchemaVersion())
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; schema version %d\n", applied, postgres.SchemaVersion())
	return nil
}

// backupConfigHint answers `roster backup --config FILE` for a PostgreSQL
// store with the pg_dump command, instead of a backup the server cannot
// make: it returns nil when args do not name such a configuration.
func backupConfigHint(args []string) error {
	var cfgPath string
	for i, a := range args {
		switch {
		case (a == "--config" || a == "-config") && i+1 < len(args):
			cfgPath = args[i+1]
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			_, cfgPath, _ = strings.Cut(a, "=")
		}
	}
	if cfgPath == "" {
		return nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if cfg.Store.Postgres == nil {
		return errors.New("backup: --config is for a PostgreSQL store; back up a bbolt store through the server (--server)")
	}
	return errors.New("backup: the store is PostgreSQL. " + pgDumpHint)
}
