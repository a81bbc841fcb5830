package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// errTxDone is returned when a Tx is used after its View or Update ended.
var errTxDone = errors.New("bolt: transaction has ended")

// tx implements store.Tx on one bbolt transaction.
type tx struct {
	ctx     context.Context
	s       *Store
	btx     *bbolt.Tx
	root    *bbolt.Bucket
	actor   string
	now     time.Time
	changes []policy.Change
	done    bool

	// pending holds directory groups that lost members through a cascade
	// (DeleteUser, DeleteDirGroup). They are rewritten once, by flush,
	// before the next directory-group read or write and before commit, so
	// deleting many members of one large group stays linear.
	pending      map[dgRef]*pendingDG
	pendingOrder []dgRef
}

var (
	_ store.Tx      = (*tx)(nil)
	_ store.ActorTx = (*tx)(nil)
)

// SetActor implements store.ActorTx: the audit entries written from now on
// in this transaction name actor.
func (t *tx) SetActor(actor string) { t.actor = actor }

type dgRef struct {
	tenant policy.TenantID
	id     policy.DirGroupID
}

type pendingDG struct {
	removeUsers  map[policy.UserID]bool
	removeGroups map[policy.DirGroupID]bool
}

// read checks that the transaction may still be used.
func (t *tx) read() error {
	if t.done {
		return errTxDone
	}
	return t.ctx.Err()
}

// write checks that the transaction may be written.
func (t *tx) write() error {
	if err := t.read(); err != nil {
		return err
	}
	if !t.btx.Writable() {
		return errReadOnly
	}
	return nil
}

// audit appends one entry to the audit log and to the batch of the
// transaction. It keeps before and after, which must be compact JSON owned
// by the caller (never a slice of the mapped file; see appendChange): a new
// record's encoding is written once and shared by the record, its audit
// entry and the change feed.
func (t *tx) audit(tenant policy.TenantID, kind policy.Kind, op policy.Op, id string, before, after []byte) error {
	b := t.root.Bucket(bktAudit)
	// The audit log is append-only: fill its pages before splitting.
	b.FillPercent = 1.0
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: audit sequence: %w", err)
	}
	c := policy.Change{
		Seq: seq, Time: t.now, Actor: t.actor, Tenant: tenant,
		Kind: kind, Op: op, ID: id,
		Before: before, After: after,
	}
	v, err := appendChange(make([]byte, 0, 160+len(t.actor)+len(id)+len(before)+len(after)), c)
	if err != nil {
		return fmt.Errorf("bolt: encode audit entry: %w", err)
	}
	if err := b.Put(be8(seq), v); err != nil {
		return fmt.Errorf("bolt: write audit entry: %w", err)
	}
	t.changes = append(t.changes, c)
	return nil
}

func decode[T any](v []byte, what string) (T, error) {
	var x T
	if err := json.Unmarshal(v, &x); err != nil {
		return x, fmt.Errorf("bolt: decode %s: %w", what, err)
	}
	return x, nil
}

// maxRecordDepth bounds the nesting of a stored record: a record with
// attributes at policy.MaxAttrDepth, with room to spare, and far below
// the 10,000 levels where encoding/json stops decoding (its audit entry
// and change-feed entry add two more).
const maxRecordDepth = policy.MaxAttrDepth + 32

// encode returns the JSON of v, and refuses (store.ErrInvalid) a value that
// does not encode or whose encoding would not decode again as a T: a
// record is committed only if it can be read back. The errors name what
// went wrong, never the value.
//
// What can keep an encoding from decoding is its depth and, inside an
// any, a number beyond float64. Depth is checked here for every record;
// typed records keep numbers in typed fields or in Attributes, whose
// numbers policy.ValidateUser and ValidateDirGroup check before encode
// runs, so only values of free form (T is any: audit details) are decoded
// back in full. (Decoding every user back cost a bulk load a third of
// its speed.)
func encode[T any](v T, what string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode %s: %s: %w", what, errorKind(err), store.ErrInvalid)
	}
	if policy.JSONTooDeep(b, maxRecordDepth) {
		return nil, fmt.Errorf("bolt: %s would not read back: nested deeper than %d levels: %w", what, maxRecordDepth, store.ErrInvalid)
	}
	if reflect.TypeFor[T]().Kind() == reflect.Interface {
		var back T
		if err := json.Unmarshal(b, &back); err != nil {
			return nil, fmt.Errorf("bolt: %s would not read back: %s: %w", what, errorKind(err), store.ErrInvalid)
		}
	}
	return b, nil
}

// errorKind describes a JSON error without the data it may quote.
func errorKind(err error) string {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	var uve *json.UnsupportedValueError
	var ute2 *json.UnsupportedTypeError
	var me *json.MarshalerError
	switch {
	case errors.As(err, &se):
		if strings.Contains(se.Error(), "exceeded max depth") {
			return fmt.Sprintf("nested too deeply (at byte %d)", se.Offset)
		}
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &ute):
		if ute.Field != "" {
			return fmt.Sprintf("a value of field %s does not fit %s", ute.Field, ute.Type)
		}
		return fmt.Sprintf("a value does not fit %s", ute.Type)
	case errors.As(err, &uve):
		return "a value JSON cannot hold"
	case errors.As(err, &ute2):
		return "a type JSON cannot hold"
	case errors.As(err, &me):
		return "a value that does not encode"
	}
	return "does not decode"
}

// put writes k → v in b, wrapping the error. The error does not quote the
// key, which may be a user's name; a key or value bbolt cannot hold is
// store.ErrInvalid.
func put(b *bbolt.Bucket, k, v []byte) error {
	if err := b.Put(k, v); err != nil {
		if errors.Is(err, bolterrors.ErrKeyTooLarge) || errors.Is(err, bolterrors.ErrKeyRequired) || errors.Is(err, bolterrors.ErrValueTooLarge) {
			return fmt.Errorf("bolt: put a key of %d bytes: %w: %w", len(k), err, store.ErrInvalid)
		}
		return fmt.Errorf("bolt: put a key of %d bytes: %w", len(k), err)
	}
	return nil
}

// del deletes k from b, wrapping the error (without the key).
func del(b *bbolt.Bucket, k []byte) error {
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("bolt: delete a key of %d bytes: %w", len(k), err)
	}
	return nil
}

// checkID refuses ids that would break composite keys.
func checkID(kind, id string) error {
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("bolt: %s id contains NUL: %w", kind, policy.ErrInvalid)
	}
	return nil
}

// newID returns a new record id: a version 7 UUID (RFC 9562 §5.7), whose
// leading timestamp makes new keys sort after existing ones, so a bulk load
// appends to the right edge of the B+trees instead of rewriting pages all
// over them. Its 74 random bits under a millisecond timestamp make it
// unique without a look-up: creates check only ids given by the caller.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// ---- tenants ----

// tenantBucket returns the bucket t/<id>, or ErrNotFound.
func (t *tx) tenantBucket(id policy.TenantID) (*bbolt.Bucket, error) {
	if id != "" {
		if b := getBucket(t.root, bktTenantData, []byte(id)); b != nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("bolt: tenant %q: %w", id, store.ErrNotFound)
}

// PutTenant implements store.Tx: it creates or replaces a tenant.
func (t *tx) PutTenant(tn policy.Tenant) error {
	if err := t.write(); err != nil {
		return err
	}
	if tn.ID == "" {
		return fmt.Errorf("bolt: tenant id is required: %w", policy.ErrInvalid)
	}
	if err := checkID("tenant", string(tn.ID)); err != nil {
		return err
	}
	b := t.root.Bucket(bktTenants)
	before := b.Get([]byte(tn.ID))
	op := policy.OpCreate
	if before != nil {
		op = policy.OpUpdate
		before = bytes.Clone(before)
	}
	v, err := encode(tn, "tenant")
	if err != nil {
		return err
	}
	if err := put(b, []byte(tn.ID), v); err != nil {
		return err
	}
	tb, err := createBucket(t.root, bktTenantData, []byte(tn.ID))
	if err != nil {
		return err
	}
	for _, p := range tenantPaths {
		if _, err := createBucket(tb, p...); err != nil {
			return err
		}
	}
	return t.audit(tn.ID, policy.KindTenant, op, string(tn.ID), before, v)
}

// Tenant implements store.Tx.
func (t *tx) Tenant(id policy.TenantID) (policy.Tenant, error) {
	if err := t.read(); err != nil {
		return policy.Tenant{}, err
	}
	v := t.root.Bucket(bktTenants).Get([]byte(id))
	if v == nil || id == "" {
		return policy.Tenant{}, fmt.Errorf("bolt: tenant %q: %w", id, store.ErrNotFound)
	}
	return decode[policy.Tenant](v, "tenant")
}

// Tenants implements store.Tx: all tenants, ordered by id.
func (t *tx) Tenants() ([]policy.Tenant, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Tenant](t.root.Bucket(bktTenants), "tenant")
}

func decodeAll[T any](b *bbolt.Bucket, what string) ([]T, error) {
	var out []T
	err := b.ForEach(func(_, v []byte) error {
		x, err := decode[T](v, what)
		if err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// ---- users ----

// userScope returns the tenant bucket and its users bucket.
func (t *tx) userScope(tenant policy.TenantID) (tb, users *bbolt.Bucket, err error) {
	tb, err = t.tenantBucket(tenant)
	if err != nil {
		return nil, nil, err
	}
	users = tb.Bucket(bktUsers)
	// Ids are time-ordered (newID), so new users append at the right
	// edge: fill pages before splitting, as for the audit log, instead
	// of bbolt's default half (a full reconcile reads the whole bucket).
	users.FillPercent = 1.0
	return tb, users, nil
}

func notFoundUser(tenant policy.TenantID, id any) error {
	return fmt.Errorf("bolt: user %v in tenant %q: %w", id, tenant, store.ErrNotFound)
}

// idTaken reports whether id is used by any user or directory group.
func (t *tx) idTaken(id string) bool {
	idx := t.root.Bucket(bktIdx)
	return idx.Bucket(bktUserTenant).Get([]byte(id)) != nil || idx.Bucket(bktDGTenant).Get([]byte(id)) != nil
}

// CreateUser implements store.Tx.
func (t *tx) CreateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	fresh := u.ID == ""
	if fresh {
		u.ID = policy.UserID(newID())
	}
	if err := checkID("user", string(u.ID)); err != nil {
		return policy.User{}, err
	}
	if err := store.PrepareUser(tenant, &u); err != nil {
		return policy.User{}, err
	}
	if !fresh && t.idTaken(string(u.ID)) { // a new v7 id is unique (see newID)
		return policy.User{}, fmt.Errorf("bolt: user id %s: %w", u.ID, store.ErrExists)
	}
	idx := tb.Bucket(bktIdx)
	fold := policy.FoldUserName(u.UserName)
	if idx.Bucket(bktUserName).Get([]byte(fold)) != nil {
		return policy.User{}, fmt.Errorf("bolt: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
	}
	if u.ExternalID != "" && idx.Bucket(bktUserExt).Get([]byte(u.ExternalID)) != nil {
		return policy.User{}, fmt.Errorf("bolt: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
	}
	u.Created, u.Updated, u.Version = t.now, t.now, 1
	v, err := encodeUser(u)
	if err != nil {
		return policy.User{}, err
	}
	id := []byte(u.ID)
	if err := put(users, id, v); err != nil {
		return policy.User{}, err
	}
	if err := t.writeIndexes(tb, userIndexes(nil, &u)); err != nil {
		return policy.User{}, err
	}
	return u, t.audit(tenant, policy.KindUser, policy.OpCreate, string(u.ID), nil, v)
}

// User implements store.Tx.
func (t *tx) User(tenant policy.TenantID, id policy.UserID) (policy.User, error) {
	if err := t.read(); err != nil {
		return policy.User{}, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	v := users.Get([]byte(id))
	if v == nil || id == "" {
		return policy.User{}, notFoundUser(tenant, id)
	}
	return decode[policy.User](v, "user")
}

// userByIndex looks up a user through a unique index of its tenant.
func (t *tx) userByIndex(tenant policy.TenantID, bkt []byte, k string) (policy.User, error) {
	if err := t.read(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	id := getBucket(tb, bktIdx, bkt).Get([]byte(k))
	if id == nil || k == "" {
		return policy.User{}, notFoundUser(tenant, fmt.Sprintf("%s %q", bkt, k))
	}
	v := users.Get(id)
	if v == nil {
		return policy.User{}, fmt.Errorf("bolt: index %s points to missing user %s: %w", bkt, id, store.ErrNotFound)
	}
	return decode[policy.User](v, "user")
}

// UserByUserName implements store.Tx; the match is case-insensitive.
func (t *tx) UserByUserName(tenant policy.TenantID, userName string) (policy.User, error) {
	return t.userByIndex(tenant, bktUserName, policy.FoldUserName(userName))
}

// UserByExternalID implements store.Tx; the match is exact.
func (t *tx) UserByExternalID(tenant policy.TenantID, externalID string) (policy.User, error) {
	return t.userByIndex(tenant, bktUserExt, externalID)
}

// UpdateUser implements store.Tx.
func (t *tx) UpdateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	id := []byte(u.ID)
	before := users.Get(id)
	if before == nil || u.ID == "" {
		return policy.User{}, notFoundUser(tenant, u.ID)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.User](before, "user")
	if err != nil {
		return policy.User{}, err
	}
	if err := store.CheckVersion("user", u.ID, old.Version, u.Version); err != nil {
		return policy.User{}, err
	}
	if err := store.PrepareUser(tenant, &u); err != nil {
		return policy.User{}, err
	}
	idx := tb.Bucket(bktIdx)
	oldFold, newFold := policy.FoldUserName(old.UserName), policy.FoldUserName(u.UserName)
	if oldFold != newFold && idx.Bucket(bktUserName).Get([]byte(newFold)) != nil {
		return policy.User{}, fmt.Errorf("bolt: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
	}
	if u.ExternalID != "" && u.ExternalID != old.ExternalID && idx.Bucket(bktUserExt).Get([]byte(u.ExternalID)) != nil {
		return policy.User{}, fmt.Errorf("bolt: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
	}
	u.Created, u.Updated, u.Version = old.Created, t.now, old.Version+1
	v, err := encodeUser(u)
	if err != nil {
		return policy.User{}, err
	}
	if err := put(users, id, v); err != nil {
		return policy.User{}, err
	}
	if err := t.writeIndexes(tb, userIndexes(&old, &u)); err != nil {
		return policy.User{}, err
	}
	return u, t.audit(tenant, policy.KindUser, policy.OpUpdate, string(u.ID), before, v)
}

// DeleteUser implements store.Tx. The user's manual memberships are
// deleted first, then it is taken out of its directory groups (each such
// group gets one new version and one audit entry per transaction), then the
// user itself is deleted.
func (t *tx) DeleteUser(tenant policy.TenantID, id policy.UserID) error {
	if err := t.write(); err != nil {
		return err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return err
	}
	before := users.Get([]byte(id))
	if before == nil || id == "" {
		return notFoundUser(tenant, id)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.User](before, "user")
	if err != nil {
		return err
	}
	// Manual memberships.
	msUser := getBucket(t.root, bktIdx, bktMSUser)
	for _, k := range keysWithPrefix(msUser, prefix(string(id))) {
		p := splitKey(k) // user, group, role
		if err := t.removeMembership(policy.GroupID(p[1]), id, policy.RoleName(p[2])); err != nil {
			return err
		}
	}
	// Directory groups listing the user.
	if err := t.dropMember(tb, tenant, string(id), func(pd *pendingDG) { pd.removeUsers[id] = true }); err != nil {
		return err
	}
	if err := t.writeIndexes(tb, userIndexes(&old, nil)); err != nil {
		return err
	}
	if err := del(users, []byte(id)); err != nil {
		return err
	}
	return t.audit(tenant, policy.KindUser, policy.OpDelete, string(id), before, nil)
}

// dropMember removes member from every directory group of the tenant that
// lists it: the reverse-index entries go now, the groups are rewritten by
// flush. mark records the removal in a group's pending entry.
func (t *tx) dropMember(tb *bbolt.Bucket, tenant policy.TenantID, member string, mark func(*pendingDG)) error {
	rev := getBucket(tb, bktIdx, bktDGMember)
	for _, k := range keysWithPrefix(rev, prefix(member)) {
		g := policy.DirGroupID(lastPart(k))
		mark(t.pendingFor(tenant, g))
		if err := del(rev, k); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) pendingFor(tenant policy.TenantID, id policy.DirGroupID) *pendingDG {
	r := dgRef{tenant, id}
	if pd, ok := t.pending[r]; ok {
		return pd
	}
	if t.pending == nil {
		t.pending = map[dgRef]*pendingDG{}
	}
	pd := &pendingDG{removeUsers: map[policy.UserID]bool{}, removeGroups: map[policy.DirGroupID]bool{}}
	t.pending[r] = pd
	t.pendingOrder = append(t.pendingOrder, r)
	return pd
}

// flush rewrites the directory groups that lost members through cascades.
func (t *tx) flush() error {
	if len(t.pendingOrder) == 0 {
		return nil
	}
	order, pending := t.pendingOrder, t.pending
	t.pendingOrder, t.pending = nil, nil
	for _, r := range order {
		pd := pending[r]
		tb, err := t.tenantBucket(r.tenant)
		if err != nil {
			return err
		}
		v := tb.Bucket(bktDirGroups).Get([]byte(r.id))
		if v == nil {
			continue // deleted meanwhile
		}
		old, err := decodeDG(tb, v)
		if err != nil {
			return err
		}
		before, err := encode(old, "directory group")
		if err != nil {
			return err
		}
		g := old
		g.MemberUsers, g.MemberGroups = slices.Clone(old.MemberUsers), slices.Clone(old.MemberGroups)
		g.MemberUsers = slicesDeleteFunc(g.MemberUsers, func(u policy.UserID) bool { return pd.removeUsers[u] })
		g.MemberGroups = slicesDeleteFunc(g.MemberGroups, func(m policy.DirGroupID) bool { return pd.removeGroups[m] })
		g.Updated, g.Version = t.now, g.Version+1
		after, err := putDG(tb, g, &old)
		if err != nil {
			return err
		}
		if err := t.audit(r.tenant, policy.KindDirGroup, policy.OpUpdate, string(g.ID), before, after); err != nil {
			return err
		}
	}
	return nil
}

func slicesDeleteFunc[T any](s []T, drop func(T) bool) []T {
	out := s[:0]
	for _, x := range s {
		if !drop(x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Users implements store.Tx: the tenant's users in id order.
func (t *tx) Users(tenant policy.TenantID, p store.Page) ([]policy.User, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return nil, err
	}
	return page[policy.User](users, p, "user")
}

// page decodes the records of b after p.After, at most p.Limit of them.
func page[T any](b *bbolt.Bucket, p store.Page, what string) ([]T, error) {
	var out []T
	c := b.Cursor()
	var k, v []byte
	if p.After == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek([]byte(p.After))
		if k != nil && string(k) == p.After {
			k, v = c.Next()
		}
	}
	for ; k != nil && (p.Limit <= 0 || len(out) < p.Limit); k, v = c.Next() {
		x, err := decode[T](v, what)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// ForEachUser implements store.Tx. It streams with a cursor: one user is
// decoded at a time.
func (t *tx) ForEachUser(tenant policy.TenantID, fn func(policy.User) error) error {
	if err := t.read(); err != nil {
		return err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return err
	}
	return forEach(t.ctx, users, "user", fn)
}

// forEach decodes the records of b in key order and calls fn with each. It
// reads in chunks and re-seeks after each chunk, so fn may write to the
// store (bbolt cursors do not survive writes to their bucket).
func forEach[T any](ctx context.Context, b *bbolt.Bucket, what string, fn func(T) error) error {
	const chunk = 256
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := b.Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		batch := make([]T, 0, chunk)
		for ; k != nil && len(batch) < chunk; k, v = c.Next() {
			x, err := decode[T](v, what)
			if err != nil {
				return err
			}
			batch = append(batch, x)
			after = append(after[:0], k...)
		}
		for _, x := range batch {
			if err := fn(x); err != nil {
				return err
			}
		}
		if len(batch) < chunk {
			return nil
		}
	}
}

// CountUsers implements store.Tx.
func (t *tx) CountUsers(tenant policy.TenantID) (int, error) {
	if err := t.read(); err != nil {
		return 0, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return 0, err
	}
	n := 0
	c := users.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n, nil
}
