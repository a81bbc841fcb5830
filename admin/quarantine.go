package admin

import (
	"encoding/json"
	"net/http"

	"github.com/roster-dev/roster/store"
)

// quarantineRoutes serves the records the store set aside because it could
// not read them (see store.Quarantined), admin-only:
//
//	GET    /api/v1/quarantine        the list, without values
//	GET    /api/v1/quarantine/{id}   one, with its stored value
//	PUT    /api/v1/quarantine/{id}   repair: the body is the corrected record
//	DELETE /api/v1/quarantine/{id}   drop it for good
func (s *Server) quarantineRoutes() {
	s.handle("GET /api/v1/quarantine", s.adminOnly(s.listQuarantine))
	s.handle("GET /api/v1/quarantine/{id}", s.adminOnly(s.getQuarantined))
	s.handle("PUT /api/v1/quarantine/{id}", s.adminOnly(s.repairQuarantined))
	s.handle("DELETE /api/v1/quarantine/{id}", s.adminOnly(s.deleteQuarantined))
}

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[store.Quarantined], error) {
		q, err := tx.Quarantine()
		return list[store.Quarantined]{Items: nonNil(q)}, err
	})
}

func (s *Server) getQuarantined(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (store.Quarantined, error) { return tx.QuarantinedRecord(r.PathValue("id")) })
}

func (s *Server) repairQuarantined(w http.ResponseWriter, r *http.Request, p principal) {
	var rec json.RawMessage
	if err := s.body(w, r)(&rec); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.RepairQuarantined(r.PathValue("id"), rec)
	})
}

func (s *Server) deleteQuarantined(w http.ResponseWriter, r *http.Request, p principal) {
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.DeleteQuarantined(r.PathValue("id"))
	})
}
