package bolt

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var _ store.UserNameOrderTx = (*tx)(nil)

// UserIDsByUserName implements store.UserNameOrderTx with a cursor over
// t/<tenant>/idx/user_name, whose keys are the folded userNames.
func (t *tx) UserIDsByUserName(tenant policy.TenantID, desc bool, fn func(policy.UserID) error) error {
	if err := t.read(); err != nil {
		return err
	}
	tb, _, err := t.userScope(tenant)
	if err != nil {
		return err
	}
	c := getBucket(tb, bktIdx, bktUserName).Cursor()
	first, next := c.First, c.Next
	if desc {
		first, next = c.Last, c.Prev
	}
	for k, v := first(); k != nil; k, v = next() {
		if err := fn(policy.UserID(v)); err != nil {
			return err
		}
	}
	return nil
}
