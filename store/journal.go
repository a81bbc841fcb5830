package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/roster-dev/roster/policy"
)

// This file holds the audit side of a write transaction, above the
// backends: which audit entry each write makes, and the batch of the change
// feed. A backend only numbers and stores the entries (AuditLog).

// AuditLog is the part of the audit log a backend keeps: it numbers and
// stores the entries a Journal made, and decides nothing about them.
type AuditLog interface {
	// Append stores entries, in order, under consecutive sequence
	// numbers above every number already given, in the transaction
	// being committed, and sets each entry's Seq. Before and After are
	// compact JSON, to be kept as they are.
	Append(entries []policy.Change) error
}

// Journal turns the writes of one transaction into their audit entries and
// the transaction's batch for the change feed (store.Store.Subscribe). A
// backend tells it what each write did, with the records' JSON encodings
// (compact, owned by the caller and left unmodified until the batch is
// delivered: a new record's encoding is shared by the record, its audit
// entry and the feed) and the typed records they encode (policy.User…, or
// nil where the backend has none at hand), and calls Commit last, inside
// the transaction.
//
// The feed's entries carry both (policy.Change.WithRecords, which copies
// the typed records; a side given only as JSON is decoded once, here), so
// that its readers (the policy engine, meeting notices) decode no JSON;
// the audit entries carry only the JSON, which is what is stored and
// served.
//
// The rules it keeps: every entry carries the transaction's time and the
// actor current when it was made (SetActor); a create has no Before, a
// delete no After, a put is a create when nothing was stored before; a
// membership change that changes nothing makes no entry; a bulk create is
// one policy.OpCreateBatch entry naming the records, while the feed gets
// one policy.OpCreate per record under that entry's Seq. The entries and
// the feed keep the order of the writes.
type Journal struct {
	actor string
	now   time.Time

	// entries are the audit entries, in order; feed the change feed's
	// batch; ends[i] is len(feed) once entries[i] was made, so that
	// feed[ends[i-1]:ends[i]] take entries[i].Seq at commit.
	entries []policy.Change
	feed    []policy.Change
	ends    []int
}

// NewJournal returns the empty journal of a transaction run at now on
// behalf of actor.
func NewJournal(actor string, now time.Time) *Journal {
	return &Journal{actor: actor, now: now}
}

// SetActor names actor in the entries made from now on (a Batcher's group
// commit keeps each operation's own actor; see ActorTx).
func (j *Journal) SetActor(actor string) { j.actor = actor }

// Created records the creation of the record id of kind: rec, encoded as
// after.
func (j *Journal) Created(kind policy.Kind, tenant policy.TenantID, id string, after []byte, rec any) {
	j.add(kind, tenant, policy.OpCreate, id, nil, after, nil, rec)
}

// Updated records a change of the record id of kind from old, encoded as
// before, to rec, encoded as after.
func (j *Journal) Updated(kind policy.Kind, tenant policy.TenantID, id string, before, after []byte, old, rec any) {
	j.add(kind, tenant, policy.OpUpdate, id, before, after, old, rec)
}

// Put records a create-or-replace (tenants, roles): a create when there
// was no record before (before is nil), an update otherwise.
func (j *Journal) Put(kind policy.Kind, tenant policy.TenantID, id string, before, after []byte, old, rec any) {
	if before == nil {
		j.Created(kind, tenant, id, after, rec)
		return
	}
	j.Updated(kind, tenant, id, before, after, old, rec)
}

// Deleted records the deletion of the record id of kind, which was old,
// encoded as before.
func (j *Journal) Deleted(kind policy.Kind, tenant policy.TenantID, id string, before []byte, old any) {
	j.add(kind, tenant, policy.OpDelete, id, before, nil, old, nil)
}

// Cascaded records the rewrite a cascade made of a directory group (see
// Cascade) from old to g: an update of the group, like any other.
func (j *Journal) Cascaded(rw *CascadeRewrite, before, after []byte, old, g policy.DirGroup) {
	j.Updated(policy.KindDirGroup, rw.Tenant, string(rw.ID), before, after, old, g)
}

// MembershipCreated records a new manual membership m, encoded as after,
// under its key (policy.MembershipKey); tenant is its user's.
func (j *Journal) MembershipCreated(tenant policy.TenantID, m policy.Membership, after []byte) {
	j.Created(policy.KindMembership, tenant, policy.MembershipKey(m.Group, m.User, m.Role), after, m)
}

// MembershipDeleted records the removal of the manual membership (g, u, r),
// which was old (nil when not at hand), encoded as before; tenant is its
// user's.
func (j *Journal) MembershipDeleted(tenant policy.TenantID, g policy.GroupID, u policy.UserID, r policy.RoleName, before []byte, old any) {
	j.Deleted(policy.KindMembership, tenant, policy.MembershipKey(g, u, r), before, old)
}

// MembersChanged records applied, the net change a delta write made to
// directory group id (MemberResult.Applied), as one policy.OpMembers entry
// whose After is the change. An empty change records nothing: it wrote
// nothing.
func (j *Journal) MembersChanged(tenant policy.TenantID, id policy.DirGroupID, applied policy.MembersChange) error {
	if applied.Empty() {
		return nil
	}
	delta, err := json.Marshal(applied)
	if err != nil {
		return fmt.Errorf("store: encode members change: %w", err)
	}
	j.add(policy.KindDirGroup, tenant, policy.OpMembers, string(id), nil, delta, nil, applied)
	return nil
}

// CreatedBatch records the records of kind a bulk write created (BulkTx),
// ids in order, recs[i] the encoding of ids[i] (recs may be longer) and
// typed(i) its record (typed may be nil): one policy.OpCreateBatch entry
// naming them, and one policy.OpCreate per record in the feed. No records,
// no entry.
func (j *Journal) CreatedBatch(kind policy.Kind, tenant policy.TenantID, ids []string, recs [][]byte, typed func(i int) any) error {
	if len(ids) == 0 {
		return nil
	}
	if len(recs) < len(ids) {
		return fmt.Errorf("store: a batch of %d records with %d encodings", len(ids), len(recs))
	}
	after, err := json.Marshal(policy.CreatedBatch{IDs: ids})
	if err != nil {
		return fmt.Errorf("store: encode batch entry: %w", err)
	}
	j.entries = append(j.entries, j.change(kind, tenant, policy.OpCreateBatch, "", nil, after))
	j.feed = slices.Grow(j.feed, len(ids))
	for i, id := range ids {
		var rec any
		if typed != nil {
			rec = typed(i)
		}
		j.feed = append(j.feed, fed(j.change(kind, tenant, policy.OpCreate, id, nil, recs[i]), nil, rec))
	}
	j.ends = append(j.ends, len(j.feed))
	return nil
}

// Event records an audit-only entry (Kind policy.KindEvent) whose After is
// detail, already encoded (Tx.Record, quarantine).
func (j *Journal) Event(tenant policy.TenantID, op policy.Op, id string, detail []byte) {
	j.add(policy.KindEvent, tenant, op, id, nil, detail, nil, nil)
}

// Len returns the number of audit entries made so far.
func (j *Journal) Len() int { return len(j.entries) }

// Commit hands the entries to log to be numbered and stored, gives each
// entry of the feed the Seq of the audit entry it belongs to, and returns
// the feed's batch, in order (nil when the transaction made no entry, and
// then log is not called). Call it once, last in the transaction; deliver
// the batch once the transaction has committed.
func (j *Journal) Commit(log AuditLog) ([]policy.Change, error) {
	if len(j.entries) == 0 {
		return nil, nil
	}
	if err := log.Append(j.entries); err != nil {
		return nil, err
	}
	from := 0
	for i, e := range j.entries {
		for k := from; k < j.ends[i]; k++ {
			j.feed[k].Seq = e.Seq
		}
		from = j.ends[i]
	}
	return j.feed, nil
}

// add makes one entry that is also one entry of the feed, where it
// carries the typed records old and rec.
func (j *Journal) add(kind policy.Kind, tenant policy.TenantID, op policy.Op, id string, before, after []byte, old, rec any) {
	c := j.change(kind, tenant, op, id, before, after)
	j.entries = append(j.entries, c)
	j.feed = append(j.feed, fed(c, old, rec))
	j.ends = append(j.ends, len(j.feed))
}

// fed returns c as the feed carries it: with the typed records old and
// rec, and any side given only as JSON decoded here, once, for every
// reader. A side that does not decode is left as JSON: its readers meet
// the error.
func fed(c policy.Change, old, rec any) policy.Change {
	if old != nil || rec != nil {
		c = c.WithRecords(old, rec)
	}
	if d, err := c.Decoded(); err == nil {
		c = d
	}
	return c
}

func (j *Journal) change(kind policy.Kind, tenant policy.TenantID, op policy.Op, id string, before, after []byte) policy.Change {
	return policy.Change{
		Time: j.now, Actor: j.actor, Tenant: tenant,
		Kind: kind, Op: op, ID: id,
		Before: before, After: after,
	}
}
