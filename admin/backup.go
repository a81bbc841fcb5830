package admin

// This file holds the backup handler (/api/v1/backup).

import (
	"net/http"
	"time"
)

func (s *Server) backup(w http.ResponseWriter, r *http.Request, p principal) {
	// A backup may take longer than the server's WriteTimeout: lift it
	// for this response alone.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="roster-`+s.cfg.Now().UTC().Format("20060102T150405Z")+`.db"`)
	if _, err := s.cfg.Store.Backup(r.Context(), w); err != nil {
		if r.Context().Err() != nil {
			s.cfg.Logger.Debug("backup canceled by the client")
		} else {
			s.cfg.Logger.Error("backup failed", "err", err)
		}
		// The status is already sent: abort the connection so the client
		// sees a broken transfer, never a complete-looking backup.
		panic(http.ErrAbortHandler)
	}
}
