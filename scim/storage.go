package scim

import (
	"errors"

	"github.com/roster-dev/roster/store"
)

// update runs fn in one store.Update on behalf of r's tenant and follows
// the storage condition: a write the medium refuses (store.ErrStorage: out
// of space, read-only, I/O error) is answered 507 to every writer while it
// lasts, but logged once when it starts and once when a write succeeds
// again, never once per request.
//
// The operations of a Bulk request run in the transaction of the Bulk
// driver instead (r.bulk), which is told when fn fails after it may have
// written.
func (s *Server) update(r request, fn func(store.Tx) error) error {
	if r.bulk != nil {
		err := fn(r.bulk.tx)
		if err != nil {
			r.bulk.dirty = true
		}
		return err
	}
	err := s.st.Update(r.Context(), r.actor(), fn)
	s.noteStorage(err)
	return err
}

// noteStorage follows the storage condition from the outcome of a write.
func (s *Server) noteStorage(err error) {
	switch {
	case errors.Is(err, store.ErrStorage):
		if s.storageFailing.CompareAndSwap(false, true) {
			s.log.Warn("scim: storage refuses writes; SCIM writes get 507 until it recovers", "err", err)
		}
	case err == nil:
		if s.storageFailing.CompareAndSwap(true, false) {
			s.log.Info("scim: storage takes writes again")
		}
	}
}
