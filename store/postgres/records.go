package postgres

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ---- records ----

func checkRecordKey(ns, k string) error {
	if ns == "" || k == "" {
		return fmt.Errorf("postgres: record namespace and key are required: %w", policy.ErrInvalid)
	}
	if !text(ns) || !text(k) {
		return fmt.Errorf("postgres: record namespace or key contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	return nil
}

// PutRecord implements store.Tx.
func (t *tx) PutRecord(ns, k string, value []byte) error {
	if err := t.write(); err != nil {
		return err
	}
	if err := checkRecordKey(ns, k); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	_, err := t.exec("put record", `INSERT INTO records (ns, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value`, ns, k, value)
	return err
}

// GetRecord implements store.Tx: a copy of the value, or ErrNotFound.
func (t *tx) GetRecord(ns, k string) ([]byte, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	var v []byte
	found := false
	if text(ns) && text(k) {
		var err error
		if found, err = t.one("get record", `SELECT value FROM records WHERE ns = $1 AND key = $2`, []any{ns, k}, &v); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("postgres: record %s/%s: %w", ns, k, store.ErrNotFound)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// DeleteRecord implements store.Tx; an absent record is ErrNotFound.
func (t *tx) DeleteRecord(ns, k string) error {
	if err := t.write(); err != nil {
		return err
	}
	var n int64
	if text(ns) && text(k) {
		var err error
		if n, err = t.exec("delete record", `DELETE FROM records WHERE ns = $1 AND key = $2`, ns, k); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("postgres: record %s/%s: %w", ns, k, store.ErrNotFound)
	}
	return nil
}

// ScanRecords implements store.Tx, in key order. It reads in chunks, so fn
// may use the Tx; it must not write to the namespace it scans.
func (t *tx) ScanRecords(ns, pfx string, fn func(key string, value []byte) error) error {
	if err := t.read(); err != nil {
		return err
	}
	if !text(ns) || !text(pfx) {
		return nil
	}
	const chunk = 512
	type kv struct {
		k string
		v []byte
	}
	after := ""
	first := true
	for {
		rows, err := t.pg.Query(t.ctx, `SELECT key, value FROM records
			WHERE ns = $1 AND key >= $2 AND starts_with(key, $2) AND ($4 OR key > $3)
			ORDER BY key LIMIT $5`, ns, pfx, after, first, chunk)
		if err != nil {
			return t.fail("scan records", err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv, error) {
			var x kv
			return x, r.Scan(&x.k, &x.v)
		})
		if err != nil {
			return t.fail("scan records", err)
		}
		for _, x := range batch {
			if x.v == nil {
				x.v = []byte{}
			}
			if err := fn(x.k, x.v); err != nil {
				return err
			}
		}
		if len(batch) < chunk {
			return nil
		}
		after, first = batch[len(batch)-1].k, false
		if err := t.read(); err != nil {
			return err
		}
	}
}

// Record implements store.Tx: an audit-only entry whose After is detail
// encoded as JSON.
func (t *tx) Record(tenant policy.TenantID, op policy.Op, id string, detail any) error {
	if err := t.write(); err != nil {
		return err
	}
	v, err := encode(detail, "event detail")
	if err != nil {
		return err
	}
	t.journal.Event(tenant, op, id, v)
	return nil
}

// Audit implements store.Tx. Inside Update it does not list the entries of
// the Update itself: they are numbered when it commits.
func (t *tx) Audit(after uint64, limit int) ([]policy.Change, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if after >= 1<<63-1 {
		return nil, nil
	}
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := t.pg.Query(t.ctx, `SELECT `+auditColumns+` FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(after), lim)
	if err != nil {
		return nil, t.fail("audit", err)
	}
	cs, _, err := collectChanges(rows)
	if err != nil {
		return nil, t.fail("audit", err)
	}
	return cs, nil
}

// ---- quarantine ----

// Quarantine implements store.Tx. This backend refuses, when they are
// written, records that would not read back (store.ErrInvalid), so its
// quarantine holds only what an operator or a copy put there.
func (t *tx) Quarantine() ([]store.Quarantined, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	rows, err := t.pg.Query(t.ctx, `SELECT id, kind, tenant, key, reason, length(value), time FROM quarantine ORDER BY id`)
	if err != nil {
		return nil, t.fail("quarantine", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Quarantined, error) {
		var q store.Quarantined
		var kind, tenant string
		err := r.Scan(&q.ID, &kind, &tenant, &q.Key, &q.Reason, &q.Size, &q.Time)
		q.Kind, q.Tenant, q.Time = policy.Kind(kind), policy.TenantID(tenant), q.Time.UTC()
		return q, err
	})
	if err != nil {
		return nil, t.fail("quarantine", err)
	}
	return out, nil
}

// QuarantinedRecord implements store.Tx.
func (t *tx) QuarantinedRecord(id string) (store.Quarantined, error) {
	if err := t.read(); err != nil {
		return store.Quarantined{}, err
	}
	var q store.Quarantined
	var kind, tenant string
	found := false
	if text(id) {
		var err error
		found, err = t.one("quarantine", `SELECT id, kind, tenant, key, reason, length(value), time, value FROM quarantine WHERE id = $1`,
			[]any{id}, &q.ID, &kind, &tenant, &q.Key, &q.Reason, &q.Size, &q.Time, &q.Value)
		if err != nil {
			return store.Quarantined{}, err
		}
	}
	if !found {
		return store.Quarantined{}, fmt.Errorf("postgres: quarantined record %q: %w", id, store.ErrNotFound)
	}
	q.Kind, q.Tenant, q.Time = policy.Kind(kind), policy.TenantID(tenant), q.Time.UTC()
	return q, nil
}

// RepairQuarantined implements store.Tx. Putting a record back is not
// implemented by this backend yet: it answers ErrNotFound for an unknown
// id and an error otherwise.
func (t *tx) RepairQuarantined(id string, value []byte) error {
	if err := t.write(); err != nil {
		return err
	}
	if _, err := t.QuarantinedRecord(id); err != nil {
		return err
	}
	return fmt.Errorf("postgres: repairing quarantined records is not supported; delete it and write the record again: %w", policy.ErrInvalid)
}

// DeleteQuarantined implements store.Tx.
func (t *tx) DeleteQuarantined(id string) error {
	if err := t.write(); err != nil {
		return err
	}
	q, err := t.QuarantinedRecord(id)
	if err != nil {
		return err
	}
	if _, err := t.exec("delete quarantined", `DELETE FROM quarantine WHERE id = $1`, id); err != nil {
		return err
	}
	detail, err := encode(map[string]any{"kind": q.Kind, "key": q.Key}, "event detail")
	if err != nil {
		return err
	}
	t.journal.Event(q.Tenant, store.OpQuarantineDelete, id, detail)
	return nil
}

// ---- backup ----

// exportTables are the tables Backup writes, in an order a loader can
// follow (referenced rows first).
var exportTables = []string{"tenants", "users", "dirgroups", "dg_members", "groups", "roles", "rules", "memberships", "records", "audit", "quarantine"}

// Backup implements store.Store with a logical export: one JSON object per
// line, a header line then every row of every table ({"table": …, "row":
// {…}}), all read from one snapshot while writers go on. It is for
// inspection and for moving data; the backup of a PostgreSQL installation
// is pg_dump's (or the server's own) job, and `roster restore` does not
// read this format.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(ptx pgx.Tx) error {
		head, err := json.Marshal(map[string]any{"format": "roster-postgres-export", "schema": SchemaVersion(), "time": s.now().UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return err
		}
		if _, err := bw.Write(append(head, '\n')); err != nil {
			return err
		}
		for _, table := range exportTables {
			if err := backupTable(ctx, ptx, bw, table); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return cw.n, fmt.Errorf("postgres: backup: %w", err)
	}
	return cw.n, nil
}

// backupTable writes the rows of one table. The rows are closed however
// it ends (also when w panics), so the transaction can end and its
// connection go back to the pool.
func backupTable(ctx context.Context, ptx pgx.Tx, w io.Writer, table string) error {
	rows, err := ptx.Query(ctx, `SELECT row_to_json(x)::text FROM `+pgx.Identifier{table}.Sanitize()+` AS x ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, `{"table":%q,"row":%s}`+"\n", table, row); err != nil {
			return err
		}
	}
	return rows.Err()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
