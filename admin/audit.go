package admin

// This file holds the audit-log handler (/api/v1/audit).

import (
	"net/http"
	"strconv"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) audit(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	var after uint64
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeErr(w, badRequest("after must be a sequence number"))
			return
		}
		after = n
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeErr(w, badRequest("limit must be an integer from 1 to 1000"))
			return
		}
		limit = n
	}
	var cs []policy.Change
	if err := s.view(r, func(tx store.Tx) (err error) { cs, err = tx.Audit(after, limit); return }); err != nil {
		writeErr(w, err)
		return
	}
	out := list[policy.Change]{Items: nonNil(cs)}
	if len(cs) == limit {
		out.Next = strconv.FormatUint(cs[len(cs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
}
