package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var (
	// errTxDone is returned when a Tx is used after its View or Update ended.
	errTxDone = errors.New("postgres: transaction has ended")
	// errReadOnly is returned by write methods of a Tx inside View.
	errReadOnly = errors.New("postgres: write in a read-only transaction")
)

// auditLock is the key of the transaction-level advisory lock under which
// audit sequence numbers are taken ("roster-a").
const auditLock int64 = 0x726f737465722d61

// tx implements store.Tx on one PostgreSQL transaction.
type tx struct {
	ctx      context.Context
	s        *Store
	pg       pgx.Tx
	writable bool
	now      time.Time
	done     bool

	// journal makes the audit entries and the change feed's batch
	// (nil in a View); batch is that batch once committed.
	journal *store.Journal
	batch   []policy.Change

	// err is the first failed statement: PostgreSQL has aborted the
	// transaction. retry says that failure was a serialization conflict.
	err   error
	retry bool

	// tenants caches tenants known to exist (tenants are never deleted).
	tenants map[policy.TenantID]bool

	// cascade holds directory groups that lost members through a cascade;
	// see flush (the same scheme as store/bolt).
	cascade store.Cascade
}

var (
	_ store.Tx      = (*tx)(nil)
	_ store.ActorTx = (*tx)(nil)
)

// SetActor implements store.ActorTx: the audit entries written from now on
// in this transaction name actor (a store.Batcher's group commit keeps
// each operation's own actor). A retried transaction starts again with
// Update's actor.
func (t *tx) SetActor(actor string) {
	if t.journal != nil { // nil in a View, which writes nothing
		t.journal.SetActor(actor)
	}
}

// read checks that the transaction may still be used.
func (t *tx) read() error {
	if t.done {
		return errTxDone
	}
	if t.err != nil {
		return t.err
	}
	return t.ctx.Err()
}

// write checks that the transaction may be written.
func (t *tx) write() error {
	if err := t.read(); err != nil {
		return err
	}
	if !t.writable {
		return errReadOnly
	}
	return nil
}

// fail records a failed statement and returns its wrapped error.
func (t *tx) fail(what string, err error) error {
	if isRetryable(err) {
		t.retry = true
	}
	e := t.s.connErr(what, err)
	if t.err == nil {
		t.err = e
	}
	return e
}

// exec runs a statement.
func (t *tx) exec(what, sql string, args ...any) (int64, error) {
	tag, err := t.pg.Exec(t.ctx, sql, args...)
	if err != nil {
		return 0, t.fail(what, err)
	}
	return tag.RowsAffected(), nil
}

// one scans the single row of a query into dst; found is false when there
// is none.
func (t *tx) one(what, sql string, args []any, dst ...any) (found bool, err error) {
	err = t.pg.QueryRow(t.ctx, sql, args...).Scan(dst...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(what, err)
	}
	return true, nil
}

// data reads one record's JSON; nil when there is none.
func (t *tx) data(what, sql string, args ...any) ([]byte, error) {
	var v []byte
	if _, err := t.one(what, sql, args, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// strings collects the single text column of a query.
func (t *tx) strings(what, sql string, args ...any) ([]string, error) {
	rows, err := t.pg.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.fail(what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, t.fail(what, err)
	}
	return out, nil
}

// list decodes the records (one JSON column) a query returns.
func list[T any](t *tx, what, sql string, args ...any) ([]T, error) {
	rows, err := t.pg.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.fail(what, err)
	}
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, t.fail(what, err)
	}
	var out []T
	for _, v := range raw {
		x, err := decode[T](v, what)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// auditLog is the PostgreSQL half of the audit log (store.AuditLog): the
// entries are numbered under the audit lock from audit_seq, written with
// COPY, and announced to the listeners of other processes (NOTIFY,
// delivered on commit).
type auditLog struct{ t *tx }

// Append implements store.AuditLog.
func (l auditLog) Append(entries []policy.Change) error {
	t := l.t
	n := int64(len(entries))
	if _, err := t.exec("audit lock", `SELECT pg_advisory_xact_lock($1)`, auditLock); err != nil {
		return err
	}
	var last int64
	if _, err := t.one("audit sequence", `SELECT setval('audit_seq', nextval('audit_seq') + $1 - 1)`, []any{n}, &last); err != nil {
		return err
	}
	first := last - n + 1
	rows := make([][]any, n)
	for i := range entries {
		c := &entries[i]
		c.Seq = uint64(first + int64(i))
		rows[i] = []any{first + int64(i), first, c.Time, c.Actor, string(c.Tenant), string(c.Kind), string(c.Op), c.ID,
			nilIfEmpty(c.Before), nilIfEmpty(c.After)}
	}
	_, err := t.pg.CopyFrom(t.ctx, pgx.Identifier{"audit"},
		[]string{"seq", "batch", "time", "actor", "tenant", "kind", "op", "id", "before", "after"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return t.fail("write audit", err)
	}
	_, err = t.exec("notify", `SELECT pg_notify($1, $2)`, notifyChannel, strconv.FormatInt(last, 10))
	return err
}

// commit stores the transaction's audit entries and keeps the batch for
// the change feed: the last statement of an attempt before COMMIT.
func (t *tx) commit() error {
	var err error
	t.batch, err = t.journal.Commit(auditLog{t})
	return err
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func decode[T any](v []byte, what string) (T, error) {
	var x T
	if err := json.Unmarshal(v, &x); err != nil {
		return x, fmt.Errorf("postgres: decode %s: %w", what, err)
	}
	return x, nil
}

// encode returns the JSON of v, refusing (store.ErrInvalid) a value that
// does not encode or would not decode again as a T. Errors never quote the
// value.
func encode[T any](v T, what string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode %s: %w", what, store.ErrInvalid)
	}
	var back T
	if err := json.Unmarshal(b, &back); err != nil {
		return nil, fmt.Errorf("postgres: %s would not read back: %w", what, store.ErrInvalid)
	}
	return b, nil
}

// text reports whether s can be stored in a text column.
func text(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// checkID refuses ids and keys PostgreSQL text cannot hold.
func checkID(kind, id string) error {
	if !text(id) {
		return fmt.Errorf("postgres: %s id contains NUL or invalid UTF-8: %w", kind, policy.ErrInvalid)
	}
	return nil
}

// nullable maps "" to NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// limit maps Page.Limit to a LIMIT parameter (NULL: all).
func limit(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

// ---- tenants ----

// tenantExists checks the tenant, ErrNotFound when there is none.
func (t *tx) tenantExists(id policy.TenantID) error {
	if t.tenants[id] {
		return nil
	}
	if id == "" || !text(string(id)) {
		return fmt.Errorf("postgres: tenant %q: %w", id, store.ErrNotFound)
	}
	var one int
	found, err := t.one("tenant", `SELECT 1 FROM tenants WHERE id = $1`, []any{string(id)}, &one)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("postgres: tenant %q: %w", id, store.ErrNotFound)
	}
	if t.tenants == nil {
		t.tenants = map[policy.TenantID]bool{}
	}
	t.tenants[id] = true
	return nil
}

// PutTenant implements store.Tx: it creates or replaces a tenant.
func (t *tx) PutTenant(tn policy.Tenant) error {
	if err := t.write(); err != nil {
		return err
	}
	if tn.ID == "" {
		return fmt.Errorf("postgres: tenant id is required: %w", policy.ErrInvalid)
	}
	if err := checkID("tenant", string(tn.ID)); err != nil {
		return err
	}
	before, err := t.data("tenant", `SELECT data FROM tenants WHERE id = $1`, string(tn.ID))
	if err != nil {
		return err
	}
	v, err := encode(tn, "tenant")
	if err != nil {
		return err
	}
	if _, err := t.exec("put tenant", `INSERT INTO tenants (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`, string(tn.ID), v); err != nil {
		return err
	}
	t.journal.Put(policy.KindTenant, tn.ID, string(tn.ID), before, v, nil, tn)
	return nil
}

// Tenant implements store.Tx.
func (t *tx) Tenant(id policy.TenantID) (policy.Tenant, error) {
	if err := t.read(); err != nil {
		return policy.Tenant{}, err
	}
	var v []byte
	if id != "" && text(string(id)) {
		var err error
		if v, err = t.data("tenant", `SELECT data FROM tenants WHERE id = $1`, string(id)); err != nil {
			return policy.Tenant{}, err
		}
	}
	if v == nil {
		return policy.Tenant{}, fmt.Errorf("postgres: tenant %q: %w", id, store.ErrNotFound)
	}
	return decode[policy.Tenant](v, "tenant")
}

// Tenants implements store.Tx: all tenants, ordered by id.
func (t *tx) Tenants() ([]policy.Tenant, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return list[policy.Tenant](t, "tenant", `SELECT data FROM tenants ORDER BY id`)
}

// ---- users ----

func notFoundUser(tenant policy.TenantID, id any) error {
	return fmt.Errorf("postgres: user %v in tenant %q: %w", id, tenant, store.ErrNotFound)
}

// idTaken reports whether id is used by any user or directory group
// (they share one id space).
func (t *tx) idTaken(id string) (bool, error) {
	var taken bool
	_, err := t.one("id", `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) OR EXISTS (SELECT 1 FROM dirgroups WHERE id = $1)`,
		[]any{id}, &taken)
	return taken, err
}

// userKeysFree checks the unique keys of a user: its folded userName
// (unless it is oldFold) and its externalId (unless empty or oldExt).
func (t *tx) userKeysFree(tenant policy.TenantID, u policy.User, oldFold, oldExt string) error {
	fold := policy.FoldUserName(u.UserName)
	if !text(fold) || !text(u.ExternalID) {
		return fmt.Errorf("postgres: userName or externalId contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	var nameTaken, extTaken bool
	var checkName, checkExt any
	if fold != oldFold {
		checkName = fold
	}
	if u.ExternalID != "" && u.ExternalID != oldExt {
		checkExt = u.ExternalID
	}
	if checkName == nil && checkExt == nil {
		return nil
	}
	_, err := t.one("user keys", `SELECT
		$2::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE tenant = $1 AND name_fold = $2),
		$3::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE tenant = $1 AND external_id = $3)`,
		[]any{string(tenant), checkName, checkExt}, &nameTaken, &extTaken)
	switch {
	case err != nil:
		return err
	case nameTaken:
		return fmt.Errorf("postgres: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
	case extTaken:
		return fmt.Errorf("postgres: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
	}
	return nil
}

// CreateUser implements store.Tx.
func (t *tx) CreateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	if err := t.tenantExists(tenant); err != nil {
		return policy.User{}, err
	}
	fresh, err := store.NewUser(tenant, &u, t.now, checkID)
	if err != nil {
		return policy.User{}, err
	}
	if !fresh { // a new v7 id is unique (see store.NewID)
		taken, err := t.idTaken(string(u.ID))
		if err != nil {
			return policy.User{}, err
		}
		if taken {
			return policy.User{}, fmt.Errorf("postgres: user id %s: %w", u.ID, store.ErrExists)
		}
	}
	if err := t.userKeysFree(tenant, u, "", ""); err != nil {
		return policy.User{}, err
	}
	v, err := encode(u, "user")
	if err != nil {
		return policy.User{}, err
	}
	if _, err := t.exec("create user", `INSERT INTO users (id, tenant, name_fold, external_id, data) VALUES ($1, $2, $3, $4, $5)`,
		string(u.ID), string(tenant), policy.FoldUserName(u.UserName), nullable(u.ExternalID), v); err != nil {
		return policy.User{}, err
	}
	t.journal.Created(policy.KindUser, tenant, string(u.ID), v, u)
	return u, nil
}

// userBy reads one user of the tenant by a column.
func (t *tx) userBy(tenant policy.TenantID, col, k string, what any) (policy.User, error) {
	if err := t.read(); err != nil {
		return policy.User{}, err
	}
	var v []byte
	if k != "" && text(k) && text(string(tenant)) {
		var err error
		if v, err = t.data("user", `SELECT data FROM users WHERE tenant = $1 AND `+col+` = $2`, string(tenant), k); err != nil {
			return policy.User{}, err
		}
	}
	if v == nil {
		if err := t.tenantExists(tenant); err != nil {
			return policy.User{}, err
		}
		return policy.User{}, notFoundUser(tenant, what)
	}
	return decode[policy.User](v, "user")
}

// User implements store.Tx.
func (t *tx) User(tenant policy.TenantID, id policy.UserID) (policy.User, error) {
	return t.userBy(tenant, "id", string(id), id)
}

// UserByUserName implements store.Tx; the match is case-insensitive
// (policy.FoldUserName).
func (t *tx) UserByUserName(tenant policy.TenantID, userName string) (policy.User, error) {
	return t.userBy(tenant, "name_fold", policy.FoldUserName(userName), fmt.Sprintf("userName %q", userName))
}

// UserByExternalID implements store.Tx; the match is exact.
func (t *tx) UserByExternalID(tenant policy.TenantID, externalID string) (policy.User, error) {
	return t.userBy(tenant, "external_id", externalID, fmt.Sprintf("externalId %q", externalID))
}

// oldUser reads the stored user for an update or delete.
func (t *tx) oldUser(tenant policy.TenantID, id policy.UserID) (policy.User, []byte, error) {
	if err := t.tenantExists(tenant); err != nil {
		return policy.User{}, nil, err
	}
	var before []byte
	if id != "" && text(string(id)) {
		var err error
		if before, err = t.data("user", `SELECT data FROM users WHERE tenant = $1 AND id = $2`, string(tenant), string(id)); err != nil {
			return policy.User{}, nil, err
		}
	}
	if before == nil {
		return policy.User{}, nil, notFoundUser(tenant, id)
	}
	old, err := decode[policy.User](before, "user")
	return old, before, err
}

// UpdateUser implements store.Tx.
func (t *tx) UpdateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	old, before, err := t.oldUser(tenant, u.ID)
	if err != nil {
		return policy.User{}, err
	}
	if err := store.ChangeUser(tenant, old, &u, t.now); err != nil {
		return policy.User{}, err
	}
	if err := t.userKeysFree(tenant, u, policy.FoldUserName(old.UserName), old.ExternalID); err != nil {
		return policy.User{}, err
	}
	v, err := encode(u, "user")
	if err != nil {
		return policy.User{}, err
	}
	if _, err := t.exec("update user", `UPDATE users SET name_fold = $2, external_id = $3, data = $4 WHERE id = $1`,
		string(u.ID), policy.FoldUserName(u.UserName), nullable(u.ExternalID), v); err != nil {
		return policy.User{}, err
	}
	t.journal.Updated(policy.KindUser, tenant, string(u.ID), before, v, old, u)
	return u, nil
}

// DeleteUser implements store.Tx. The user's manual memberships are
// deleted first, then it is taken out of its directory groups (each such
// group gets one new version and one audit entry per transaction), then the
// user itself is deleted.
func (t *tx) DeleteUser(tenant policy.TenantID, id policy.UserID) error {
	if err := t.write(); err != nil {
		return err
	}
	old, before, err := t.oldUser(tenant, id)
	if err != nil {
		return err
	}
	type key struct{ group, role string }
	rows, err := t.pg.Query(t.ctx, `SELECT group_id, role FROM memberships WHERE user_id = $1 ORDER BY group_id, role`, string(id))
	if err != nil {
		return t.fail("memberships of user", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
		var k key
		return k, r.Scan(&k.group, &k.role)
	})
	if err != nil {
		return t.fail("memberships of user", err)
	}
	for _, k := range keys {
		if err := t.removeMembership(policy.GroupID(k.group), id, policy.RoleName(k.role)); err != nil {
			return err
		}
	}
	if err := t.dropMember(tenant, string(id), func(g policy.DirGroupID) { t.cascade.DropUser(tenant, g, id) }); err != nil {
		return err
	}
	if _, err := t.exec("delete user", `DELETE FROM users WHERE id = $1`, string(id)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindUser, tenant, string(id), before, old)
	return nil
}

// dropMember removes member from every directory group of the tenant that
// lists it: the reverse-index rows go now, the groups are rewritten by
// flush. mark records the removal from group g in t.cascade.
func (t *tx) dropMember(tenant policy.TenantID, member string, mark func(g policy.DirGroupID)) error {
	groups, err := t.strings("drop member", `DELETE FROM dg_members WHERE tenant = $1 AND member = $2 RETURNING group_id`,
		string(tenant), member)
	if err != nil {
		return err
	}
	slices.Sort(groups)
	for _, g := range groups {
		mark(policy.DirGroupID(g))
	}
	return nil
}

// flush makes the rewrites of the directory groups that lost members
// through cascades (store.Cascade.Flush decides which, skipping a group
// deleted meanwhile); it only writes them.
func (t *tx) flush() error {
	return t.cascade.Flush(t, t.now, func(rw *store.CascadeRewrite, old, g policy.DirGroup) error {
		before, err := encode(old, "directory group")
		if err != nil {
			return err
		}
		v, err := encode(g, "directory group")
		if err != nil {
			return err
		}
		if _, err := t.exec("update directory group", `UPDATE dirgroups SET data = $2 WHERE id = $1`, string(g.ID), v); err != nil {
			return err
		}
		t.journal.Cascaded(rw, before, v, old, g)
		return nil
	})
}

// Users implements store.Tx: the tenant's users in id order.
func (t *tx) Users(tenant policy.TenantID, p store.Page) ([]policy.User, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if err := t.tenantExists(tenant); err != nil {
		return nil, err
	}
	if !text(p.After) {
		return nil, fmt.Errorf("postgres: page key contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	return list[policy.User](t, "user", `SELECT data FROM users WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`,
		string(tenant), p.After, limit(p.Limit))
}

// forEach pages through a listing in key order and calls fn with each
// record. It reads a chunk, then calls fn, so fn may use the Tx (and write,
// inside Update).
func forEach[T any](t *tx, what, sql string, tenant policy.TenantID, key func(T) string, fn func(T) error) error {
	const chunk = 256
	after := ""
	for {
		if err := t.read(); err != nil {
			return err
		}
		batch, err := list[T](t, what, sql, string(tenant), after, chunk)
		if err != nil {
			return err
		}
		for _, x := range batch {
			if err := fn(x); err != nil {
				return err
			}
		}
		if len(batch) < chunk {
			return nil
		}
		after = key(batch[len(batch)-1])
	}
}

// ForEachUser implements store.Tx, in id order, reading in chunks.
func (t *tx) ForEachUser(tenant policy.TenantID, fn func(policy.User) error) error {
	if err := t.read(); err != nil {
		return err
	}
	if err := t.tenantExists(tenant); err != nil {
		return err
	}
	return forEach(t, "user", `SELECT data FROM users WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`, tenant,
		func(u policy.User) string { return string(u.ID) }, fn)
}

// CountUsers implements store.Tx.
func (t *tx) CountUsers(tenant policy.TenantID) (int, error) {
	if err := t.read(); err != nil {
		return 0, err
	}
	if err := t.tenantExists(tenant); err != nil {
		return 0, err
	}
	var n int
	_, err := t.one("count users", `SELECT count(*) FROM users WHERE tenant = $1`, []any{string(tenant)}, &n)
	return n, err
}
