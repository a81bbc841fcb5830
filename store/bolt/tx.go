package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// errTxDone is returned when a Tx is used after its View or Update ended.
var errTxDone = errors.New("bolt: transaction has ended")

// tx implements store.Tx on one bbolt transaction.
type tx struct {
	ctx  context.Context
	s    *Store
	btx  *bbolt.Tx
	root *bbolt.Bucket
	now  time.Time
	done bool

	// journal makes the audit entries and the change feed's batch
	// (nil in a View); batch is that batch once committed.
	journal *store.Journal
	batch   []policy.Change

	// cascade holds directory groups that lost members through a cascade
	// (DeleteUser, DeleteDirGroup). They are rewritten once, by flush,
	// before the next directory-group read or write and before commit, so
	// deleting many members of one large group stays linear.
	cascade store.Cascade
}

var (
	_ store.Tx      = (*tx)(nil)
	_ store.ActorTx = (*tx)(nil)
)

// SetActor implements store.ActorTx: the audit entries written from now on
// in this transaction name actor.
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

// auditLog is the bbolt half of the audit log (store.AuditLog): each
// entry is numbered with the audit bucket's NextSequence and stored under
// its 8-byte big-endian number.
type auditLog struct{ root *bbolt.Bucket }

// Append implements store.AuditLog. Before and After are written as they
// are (see appendChange).
func (l auditLog) Append(entries []policy.Change) error {
	b := l.root.Bucket(bktAudit)
	// The audit log is append-only: fill its pages before splitting.
	b.FillPercent = 1.0
	for i := range entries {
		c := &entries[i]
		seq, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("bolt: audit sequence: %w", err)
		}
		c.Seq = seq
		v, err := appendChange(make([]byte, 0, 160+len(c.Actor)+len(c.ID)+len(c.Before)+len(c.After)), *c)
		if err != nil {
			return fmt.Errorf("bolt: encode audit entry: %w", err)
		}
		if err := b.Put(be8(seq), v); err != nil {
			return fmt.Errorf("bolt: write audit entry: %w", err)
		}
	}
	return nil
}

// commit stores the transaction's audit entries and keeps the batch for
// the change feed: the last write of an Update.
func (t *tx) commit() error {
	var err error
	t.batch, err = t.journal.Commit(auditLog{t.root})
	return err
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

// decodeAll decodes every record of b.
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
