package bolt

import (
	"bytes"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// The e-mail index, t/<tenant>/idx/user_email: <FoldEmail>·<userID> →
// userID, one entry per distinct folded address of each user. It is kept
// with the other user indexes (writeIndexes), verified
// and rebuilt through the indexes table, and added to files written before
// it existed when they are opened for writing (addEmailIndexes).

var _ store.EmailTx = (*tx)(nil)

// emailEntries are the index entries of u.
func emailEntries(u policy.User) []kv {
	out := make([]kv, 0, len(u.Emails))
	seen := map[string]bool{}
	for _, e := range u.Emails {
		f := store.FoldEmail(e.Value)
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, kv{key(f, string(u.ID)), []byte(u.ID)})
	}
	return out
}

// UsersByEmail implements store.EmailTx. A file opened read-only that
// predates the index is scanned instead.
func (t *tx) UsersByEmail(tenant policy.TenantID, addr string) ([]policy.User, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return nil, err
	}
	fold := store.FoldEmail(addr)
	if fold == "" {
		return nil, nil
	}
	has := func(u policy.User) bool {
		for _, e := range u.Emails {
			if store.FoldEmail(e.Value) == fold {
				return true
			}
		}
		return false
	}
	var out []policy.User
	b := getBucket(tb, bktIdx, bktUserEmail)
	if b == nil {
		err := t.ForEachUser(tenant, func(u policy.User) error {
			if has(u) {
				out = append(out, u)
			}
			return nil
		})
		return out, err
	}
	err = scanPrefix(b, prefix(fold), func(k, id []byte) error {
		v := users.Get(id)
		if v == nil {
			return fmt.Errorf("bolt: index %s points to missing user %s: %w", bktUserEmail, id, store.ErrNotFound)
		}
		u, err := decode[policy.User](v, "user")
		if err != nil {
			return err
		}
		// An address holding NUL shares a prefix with a shorter one.
		if has(u) && bytes.Equal(k, key(fold, string(u.ID))) {
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

// addEmailIndexes creates and fills the e-mail index of every tenant whose
// bucket predates it. It runs when a file is opened for writing.
func addEmailIndexes(root *bbolt.Bucket) error {
	for _, tn := range tenantIDs(root) {
		tb := getBucket(root, bktTenantData, []byte(tn))
		if getBucket(tb, bktIdx, bktUserEmail) != nil {
			continue
		}
		b, err := createBucket(tb, bktIdx, bktUserEmail)
		if err != nil {
			return err
		}
		users := tb.Bucket(bktUsers)
		if users == nil {
			continue
		}
		err = users.ForEach(func(_, v []byte) error {
			u, err := decode[policy.User](v, "user")
			if err != nil {
				return nil // quarantined when the store opens; rebuilt then
			}
			for _, e := range emailEntries(u) {
				if err := put(b, e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bolt: add the e-mail index of tenant %q: %w", tn, err)
		}
	}
	return nil
}
