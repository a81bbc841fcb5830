package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func checkRecordKey(ns, k string) error {
	if ns == "" || k == "" {
		return fmt.Errorf("bolt: record namespace and key are required: %w", policy.ErrInvalid)
	}
	return nil
}

// PutRecord implements store.Tx. It creates the namespace when needed.
func (t *tx) PutRecord(ns, k string, value []byte) error {
	if err := t.write(); err != nil {
		return err
	}
	if err := checkRecordKey(ns, k); err != nil {
		return err
	}
	b, err := createBucket(t.root, bktRecords, []byte(ns))
	if err != nil {
		return err
	}
	// Namespaces are mostly written in key order (ldap-dn by a full
	// LDAP run) and read whole: fuller pages than bbolt's default half.
	b.FillPercent = 0.9
	if value == nil {
		value = []byte{}
	}
	return put(b, []byte(k), value)
}

// GetRecord implements store.Tx: a copy of the value, or ErrNotFound.
func (t *tx) GetRecord(ns, k string) ([]byte, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	v := getKey(getBucket(t.root, bktRecords, []byte(ns)), []byte(k))
	if v == nil {
		return nil, fmt.Errorf("bolt: record %s/%s: %w", ns, k, store.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// DeleteRecord implements store.Tx; an absent record is ErrNotFound.
func (t *tx) DeleteRecord(ns, k string) error {
	if err := t.write(); err != nil {
		return err
	}
	b := getBucket(t.root, bktRecords, []byte(ns))
	if getKey(b, []byte(k)) == nil {
		return fmt.Errorf("bolt: record %s/%s: %w", ns, k, store.ErrNotFound)
	}
	return del(b, []byte(k))
}

// ScanRecords implements store.Tx. Keys and values passed to fn are copies.
// fn must not write to the same namespace.
func (t *tx) ScanRecords(ns, pfx string, fn func(key string, value []byte) error) error {
	if err := t.read(); err != nil {
		return err
	}
	b := getBucket(t.root, bktRecords, []byte(ns))
	if b == nil {
		return nil
	}
	return scanPrefix(b, []byte(pfx), func(k, v []byte) error {
		return fn(string(k), bytes.Clone(v))
	})
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

// Audit implements store.Tx.
func (t *tx) Audit(after uint64, limit int) ([]policy.Change, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	var out []policy.Change
	c := t.root.Bucket(bktAudit).Cursor()
	for k, v := c.Seek(be8(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		if after == ^uint64(0) || binary.BigEndian.Uint64(k) <= after {
			break
		}
		ch, err := decode[policy.Change](v, "audit entry")
		if err != nil {
			// An entry written before records were checked on the way
			// in: list it as unreadable rather than fail the log.
			seq := binary.BigEndian.Uint64(k)
			t.s.log.Warn("bolt: audit entry does not decode", "seq", seq, "reason", errorKind(err))
			ch = policy.Change{Seq: seq, Actor: quarantineActor, Kind: policy.KindEvent, Op: store.OpUnreadable, ID: strconv.FormatUint(seq, 10)}
		}
		out = append(out, ch)
	}
	return out, nil
}
