package admin

// This file holds what every handler shares: transactions, JSON answers, paging.

import (
	"net/http"
	"strconv"

	"github.com/roster-dev/roster/store"
)

func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if !p.admin {
			writeErr(w, errForbidden)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) view(r *http.Request, fn func(store.Tx) error) error {
	return s.cfg.Store.View(r.Context(), fn)
}

func (s *Server) update(r *http.Request, p principal, fn func(store.Tx) error) error {
	// A change of charter status that the write causes is recorded by
	// WatchCharters, off the request path.
	return s.cfg.Store.Update(r.Context(), p.actor(), fn)
}

// read answers a request with what fn reads in one read transaction.
func read[T any](s *Server, w http.ResponseWriter, r *http.Request, fn func(tx store.Tx) (T, error)) {
	var v T
	if err := s.view(r, func(tx store.Tx) (err error) { v, err = fn(tx); return }); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// write answers a request with what fn writes in one read-write
// transaction: status and the JSON of fn's result, or an empty 204 when
// status is http.StatusNoContent.
func write[T any](s *Server, w http.ResponseWriter, r *http.Request, p principal, status int, fn func(tx store.Tx) (T, error)) {
	writeAs(s, w, r, p.actor(), status, fn)
}

// writeAs is write with the audit log naming actor instead of the caller
// (an anonymous author of product feedback, see feedback.go).
func writeAs[T any](s *Server, w http.ResponseWriter, r *http.Request, actor string, status int, fn func(tx store.Tx) (T, error)) {
	var v T
	if err := s.cfg.Store.Update(r.Context(), actor, func(tx store.Tx) (err error) { v, err = fn(tx); return }); err != nil {
		writeErr(w, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// none is the result of a write that answers 204.
type none struct{}

// readPage answers a paged listing: fetch reads one page, key names an
// item for ?after=.
func readPage[T any](s *Server, w http.ResponseWriter, r *http.Request, fetch func(tx store.Tx, pg store.Page) ([]T, error), key func(T) string) {
	pg, err := page(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (list[T], error) {
		items, err := fetch(tx, pg)
		out := list[T]{Items: nonNil(items)}
		if len(items) == pg.Limit {
			out.Next = key(items[len(items)-1])
		}
		return out, err
	})
}

// page reads ?after= and ?limit= (default 100, at most 1000).
func page(r *http.Request) (store.Page, error) {
	p := store.Page{After: r.URL.Query().Get("after"), Limit: 100}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return p, badRequest("limit must be an integer from 1 to 1000")
		}
		p.Limit = n
	}
	return p, nil
}

// list is the envelope of a paged listing.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
