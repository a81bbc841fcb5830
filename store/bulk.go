package store

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/roster-dev/roster/policy"
)

// BulkTx is implemented by the transactions of backends that write many
// new records faster together than one at a time (a directory's first
// load). Callers find it by type assertion, or call CreateUsers, which
// falls back to one CreateUser per record.
type BulkTx interface {
	// CreateUsers creates the users in order, as as many calls to
	// CreateUser would (the same checks and indexes, in order), and
	// returns them as stored. The audit log gets one entry of Op
	// policy.OpCreateBatch naming them in order instead of a copy of
	// each record; the change feed gets one OpCreate per user. When one
	// is refused it returns the users created before it and a *BulkError
	// naming it; those are written in the transaction, the ones after it
	// are not.
	CreateUsers(tenant policy.TenantID, us []policy.User) ([]policy.User, error)
	// CreateDirGroups is CreateUsers for directory groups: as many calls
	// to CreateDirGroup, in order, so that a group may list groups
	// created before it in the same call.
	CreateDirGroups(tenant policy.TenantID, gs []policy.DirGroup) ([]policy.DirGroup, error)
}

// BulkError reports the record of a bulk write that was refused: Index is
// its position in the caller's slice, Err the error CreateUser would have
// returned for it.
type BulkError struct {
	Index int
	Err   error
}

func (e *BulkError) Error() string {
	return fmt.Sprintf("store: record %d of a bulk write: %v", e.Index, e.Err)
}

// Unwrap returns the record's error, so errors.Is(err, ErrExists) holds
// for a bulk write refused on a taken userName.
func (e *BulkError) Unwrap() error { return e.Err }

// CreateUsers creates us in tx with tx's BulkTx when it has one, and with
// one CreateUser each otherwise. Either way, a refused user stops the
// write with a *BulkError, after the users before it.
func CreateUsers(tx Tx, tenant policy.TenantID, us []policy.User) ([]policy.User, error) {
	if b, ok := tx.(BulkTx); ok {
		return b.CreateUsers(tenant, us)
	}
	return oneByOne(us, func(u policy.User) (policy.User, error) { return tx.CreateUser(tenant, u) })
}

// CreateDirGroups is CreateUsers for directory groups.
func CreateDirGroups(tx Tx, tenant policy.TenantID, gs []policy.DirGroup) ([]policy.DirGroup, error) {
	if b, ok := tx.(BulkTx); ok {
		return b.CreateDirGroups(tenant, gs)
	}
	return oneByOne(gs, func(g policy.DirGroup) (policy.DirGroup, error) { return tx.CreateDirGroup(tenant, g) })
}

// oneByOne is the fallback of a bulk write: create for each record, in
// order, up to the first it refuses.
func oneByOne[T any](recs []T, create func(T) (T, error)) ([]T, error) {
	out := make([]T, 0, len(recs))
	for i, r := range recs {
		c, err := create(r)
		if err != nil {
			return out, &BulkError{Index: i, Err: err}
		}
		out = append(out, c)
	}
	return out, nil
}

// AsBulkError returns the *BulkError in err's chain, if any.
func AsBulkError(err error) (*BulkError, bool) {
	var be *BulkError
	ok := errors.As(err, &be)
	return be, ok
}

// Parallel calls fn(i) for every i in [0, n), spread over the CPUs, and
// returns when all calls have: the preparation of a bulk write (checks,
// encoding, resolving members) that needs no store. fn must write only to
// what belongs to i. A few calls run on the caller's goroutine.
func Parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		wg.Go(func() {
			for i := lo; i < min(lo+per, n); i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}
