package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var _ store.Copier = (*Store)(nil)

// exportQueries select, per kind of store.CopyKinds, the rows of the
// kind's table as (tenant, key, value), in the order Export promises.
var exportQueries = map[policy.Kind]string{
	policy.KindTenant:     `SELECT '', id, data FROM tenants ORDER BY id`,
	policy.KindUser:       `SELECT tenant, id, data FROM users ORDER BY tenant, id`,
	policy.KindDirGroup:   `SELECT tenant, id, data FROM dirgroups ORDER BY tenant, id`,
	policy.KindGroup:      `SELECT '', id, data FROM groups ORDER BY id`,
	policy.KindRole:       `SELECT '', name, data FROM roles ORDER BY name`,
	policy.KindRule:       `SELECT '', id, data FROM rules ORDER BY id`,
	policy.KindMembership: `SELECT '', group_id || '/' || user_id || '/' || role, data FROM memberships ORDER BY group_id, user_id, role`,
	store.KindRecord:      `SELECT ns, key, value FROM records ORDER BY ns, key`, // ns in the first column
}

// Export implements store.Copier: one REPEATABLE READ snapshot, every
// table in the order of store.CopyKinds. Memberships come ordered by
// group, user and role.
func (s *Store) Export(ctx context.Context, fn func(store.Item) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(ptx pgx.Tx) error {
		var q int
		if err := ptx.QueryRow(ctx, `SELECT count(*) FROM quarantine`).Scan(&q); err != nil {
			return s.connErr("export", err)
		}
		if q > 0 {
			return fmt.Errorf("postgres: export: %d records: %w", q, store.ErrQuarantined)
		}
		for _, kind := range store.CopyKinds {
			if kind == store.KindAudit {
				if err := exportAudit(ctx, ptx, fn); err != nil {
					return err
				}
				continue
			}
			rows, err := ptx.Query(ctx, exportQueries[kind])
			if err != nil {
				return s.connErr("export "+string(kind), err)
			}
			var tenant, key string
			var value []byte
			_, err = pgx.ForEachRow(rows, []any{&tenant, &key, &value}, func() error {
				if kind == store.KindRecord { // text cannot hold the NUL of the item key
					tenant, key = "", tenant+"\x00"+key
				}
				return fn(store.Item{Kind: kind, Tenant: policy.TenantID(tenant), Key: key, Value: bytes.Clone(value)})
			})
			if err != nil {
				return fmt.Errorf("postgres: export %s: %w", kind, err)
			}
		}
		return nil
	})
}

func exportAudit(ctx context.Context, ptx pgx.Tx, fn func(store.Item) error) error {
	rows, err := ptx.Query(ctx, `SELECT `+auditColumns+` FROM audit ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, _, err := scanChange(rows)
		if err != nil {
			return fmt.Errorf("postgres: export audit: %w", err)
		}
		v, err := store.CanonicalChange(c)
		if err != nil {
			return fmt.Errorf("postgres: export audit %d: %w", c.Seq, err)
		}
		if err := fn(store.Item{Kind: store.KindAudit, Key: store.AuditKey(c.Seq), Value: v}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// importBatch is how many rows Import sends in one round trip.
const importBatch = 1000

// Import implements store.Copier: one transaction, rows sent in batches;
// the indexes are the columns and tables PostgreSQL keeps with them, and
// user-group parents are set once every group is in.
func (s *Store) Import(ctx context.Context, items func(yield func(store.Item) error) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(ptx pgx.Tx) error {
		var used bool
		if err := ptx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants) OR EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM audit)`).Scan(&used); err != nil {
			return s.connErr("import", err)
		}
		if used {
			return fmt.Errorf("postgres: import: %w", store.ErrNotEmpty)
		}
		im := &importer{ctx: ctx, tx: ptx, userTenant: map[policy.UserID]policy.TenantID{}, parents: map[policy.GroupID]policy.GroupID{}}
		if err := items(im.put); err != nil {
			return err
		}
		if err := im.flush(); err != nil {
			return err
		}
		if err := im.setParents(); err != nil {
			return err
		}
		if im.lastSeq > 0 {
			if _, err := ptx.Exec(ctx, `SELECT setval('audit_seq', $1)`, int64(im.lastSeq)); err != nil {
				return fmt.Errorf("postgres: import: audit sequence: %w", err)
			}
		}
		return nil
	})
}

type importer struct {
	ctx        context.Context
	tx         pgx.Tx
	batch      pgx.Batch
	userTenant map[policy.UserID]policy.TenantID
	parents    map[policy.GroupID]policy.GroupID
	parentsSet bool
	lastSeq    uint64
}

func (im *importer) queue(sql string, args ...any) error {
	im.batch.Queue(sql, args...)
	if im.batch.Len() >= importBatch {
		return im.flush()
	}
	return nil
}

func (im *importer) flush() error {
	if im.batch.Len() == 0 {
		return nil
	}
	err := im.tx.SendBatch(im.ctx, &im.batch).Close()
	im.batch = pgx.Batch{}
	if err != nil {
		return fmt.Errorf("postgres: import: %w", err)
	}
	return nil
}

// setParents links user groups to their parents, once all are in.
func (im *importer) setParents() error {
	if im.parentsSet {
		return nil
	}
	im.parentsSet = true
	if err := im.flush(); err != nil {
		return err
	}
	for id, parent := range im.parents {
		if err := im.queue(`UPDATE groups SET parent = $2 WHERE id = $1`, string(id), string(parent)); err != nil {
			return err
		}
	}
	return im.flush()
}

func (im *importer) put(it store.Item) error {
	if it.Kind != policy.KindGroup && len(im.parents) > 0 {
		if err := im.setParents(); err != nil {
			return err
		}
	}
	bad := func(err error) error {
		return fmt.Errorf("postgres: import %s %q: %w", it.Kind, it.Key, err)
	}
	switch it.Kind {
	case policy.KindTenant:
		return im.queue(`INSERT INTO tenants (id, data) VALUES ($1, $2)`, it.Key, it.Value)
	case policy.KindUser:
		var u policy.User
		if err := json.Unmarshal(it.Value, &u); err != nil {
			return bad(err)
		}
		im.userTenant[u.ID] = u.Tenant
		return im.queue(`INSERT INTO users (id, tenant, name_fold, external_id, data) VALUES ($1, $2, $3, $4, $5)`,
			string(u.ID), string(it.Tenant), policy.FoldUserName(u.UserName), nullable(u.ExternalID), it.Value)
	case policy.KindDirGroup:
		var g policy.DirGroup
		if err := json.Unmarshal(it.Value, &g); err != nil {
			return bad(err)
		}
		if err := im.queue(`INSERT INTO dirgroups (id, tenant, name_fold, external_id, data) VALUES ($1, $2, $3, $4, $5)`,
			string(g.ID), string(it.Tenant), policy.FoldName(g.DisplayName), nullable(g.ExternalID), it.Value); err != nil {
			return err
		}
		if members := append(ids(g.MemberUsers), ids(g.MemberGroups)...); len(members) > 0 {
			return im.queue(`INSERT INTO dg_members (tenant, member, group_id)
				SELECT $1, m, $3 FROM unnest($2::text[]) AS m ON CONFLICT DO NOTHING`, string(it.Tenant), members, string(g.ID))
		}
		return nil
	case policy.KindGroup:
		var g policy.Group
		if err := json.Unmarshal(it.Value, &g); err != nil {
			return bad(err)
		}
		if g.Parent != "" {
			im.parents[g.ID] = g.Parent
		}
		return im.queue(`INSERT INTO groups (id, slug, parent, data) VALUES ($1, $2, NULL, $3)`, string(g.ID), g.Slug, it.Value)
	case policy.KindRole:
		return im.queue(`INSERT INTO roles (name, data) VALUES ($1, $2)`, it.Key, it.Value)
	case policy.KindRule:
		var r policy.Rule
		if err := json.Unmarshal(it.Value, &r); err != nil {
			return bad(err)
		}
		return im.queue(`INSERT INTO rules (id, tenant, dir_group, group_id, role, data) VALUES ($1, $2, $3, $4, $5, $6)`,
			string(r.ID), string(r.Tenant), string(r.DirGroup), string(r.Group), string(r.Role), it.Value)
	case policy.KindMembership:
		var m policy.Membership
		if err := json.Unmarshal(it.Value, &m); err != nil {
			return bad(err)
		}
		return im.queue(`INSERT INTO memberships (group_id, user_id, role, tenant, data) VALUES ($1, $2, $3, $4, $5)`,
			string(m.Group), string(m.User), string(m.Role), string(im.userTenant[m.User]), it.Value)
	case store.KindRecord:
		ns, key, ok := strings.Cut(it.Key, "\x00")
		if !ok {
			return bad(fmt.Errorf("key without a namespace"))
		}
		return im.queue(`INSERT INTO records (ns, key, value) VALUES ($1, $2, $3)`, ns, key, it.Value)
	case store.KindAudit:
		var c policy.Change
		if err := json.Unmarshal(it.Value, &c); err != nil {
			return bad(err)
		}
		if seq, err := strconv.ParseUint(it.Key, 10, 64); err != nil || seq != c.Seq {
			return bad(fmt.Errorf("key does not match seq %d", c.Seq))
		}
		im.lastSeq = max(im.lastSeq, c.Seq)
		return im.queue(`INSERT INTO audit (`+auditColumns+`) VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			int64(c.Seq), c.Time.UTC(), c.Actor, string(c.Tenant), string(c.Kind), string(c.Op), c.ID,
			nilIfEmpty(c.Before), nilIfEmpty(c.After))
	}
	return bad(fmt.Errorf("unknown kind"))
}
