package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchema is returned (wrapped) when the database has no Roster schema
// yet (run Migrate, `roster migrate`) or a schema newer than this build.
var ErrSchema = errors.New("postgres: incompatible schema")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one forward-only step of the schema: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration file %q is not NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: versions must be 1, 2, 3… without gaps", m.name)
		}
	}
	return out, nil
}

// SchemaVersion returns the newest schema version this build knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrateLock is the advisory lock key that keeps two processes from
// migrating at once ("roster-m").
const migrateLock int64 = 0x726f737465722d6d

const versionTable = `CREATE TABLE IF NOT EXISTS roster_schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// currentVersion returns the highest applied migration, 0 when none.
func currentVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('roster_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM roster_schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	return v, nil
}

// Migrate applies the embedded migrations the database lacks, each in its
// own transaction together with its row in roster_schema_migrations, and
// returns the versions it applied. Migrations are forward-only: a database
// of a newer schema than this build is refused with ErrSchema. Concurrent
// callers (replicas starting together) are serialised by an advisory lock.
func Migrate(ctx context.Context, dsn string) ([]int, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrateConn(ctx, conn)
}

func migrateConn(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock) //nolint:errcheck // the session ends soon
	if _, err := conn.Exec(ctx, versionTable); err != nil {
		return nil, fmt.Errorf("postgres: create version table: %w", err)
	}
	cur, err := currentVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	if latest := ms[len(ms)-1].version; cur > latest {
		return nil, fmt.Errorf("%w: database has schema version %d, this build knows up to %d", ErrSchema, cur, latest)
	}
	var applied []int
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO roster_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

// checkSchema verifies that the database has exactly the schema this build
// writes.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	cur, err := currentVersion(ctx, pool)
	if err != nil {
		return err
	}
	latest := SchemaVersion()
	switch {
	case cur == 0:
		return fmt.Errorf("%w: the database has no Roster schema; run `roster migrate` or set store.postgres.migrate: auto", ErrSchema)
	case cur < latest:
		return fmt.Errorf("%w: the database has schema version %d, this build needs %d; run `roster migrate`", ErrSchema, cur, latest)
	case cur > latest:
		return fmt.Errorf("%w: the database has schema version %d, newer than this build (%d)", ErrSchema, cur, latest)
	}
	return nil
}
