package main

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/ldap"
)

// openDirectories builds one ldap.Source per tenants[].ldap[] entry, keyed
// "tenant/id".
func (a *app) openDirectories(onRun func(ldap.RunStatus)) (map[string]*ldap.Source, error) {
	sources := map[string]*ldap.Source{}
	for _, d := range a.sections.directories {
		src, err := ldap.NewSource(ldap.Config{
			Logger:    a.log.With("component", "ldap", "tenant", d.tenant, "directory", d.cfg.ID),
			Store:     a.store,
			Tenant:    d.tenant,
			Directory: d.cfg,
			OnRun:     onRun,
		})
		if err != nil {
			return nil, &config.Error{Field: d.field, Msg: err.Error()}
		}
		sources[string(d.tenant)+"/"+d.cfg.ID] = src
		a.closers = append(a.closers, func() { _ = src.Close() })
	}
	return sources, nil
}

// permDirectories lets a delegated caller who holds it on every root
// group use the sync endpoints (status, run, approve): the default admin
// role carries it, so the vendor's admins approve a held sync in the
// portal.
const permDirectories = "directories.manage"

// wireLDAP schedules the directories, exports their metrics and adds the
// sync endpoints to the admin API.
func (a *app) wireLDAP(p *protocolSet) error {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_ldap_sync_runs_total", Help: "Directory sync runs by result.",
	}, []string{"tenant", "directory", "mode", "result"})
	records := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roster_ldap_sync_last_records", Help: "Records of the last directory sync run by kind and outcome.",
	}, []string{"tenant", "directory", "kind", "outcome"})
	duration := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roster_ldap_sync_last_duration_seconds", Help: "Duration of the last directory sync run.",
	}, []string{"tenant", "directory", "mode"})
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roster_ldap_sync_pending_approval", Help: "1 while the deletion guard holds changes back.",
	}, []string{"tenant", "directory"})
	a.reg.MustRegister(runs, records, duration, pending)
	onRun := func(rs ldap.RunStatus) {
		t, d := string(rs.Tenant), rs.Directory
		result := "ok"
		if rs.Error != "" {
			result = "error"
		}
		runs.WithLabelValues(t, d, string(rs.Mode), result).Inc()
		duration.WithLabelValues(t, d, string(rs.Mode)).Set(rs.Finished.Sub(rs.Started).Seconds())
		for kind, c := range map[string]ldap.Counts{"users": rs.Users, "groups": rs.Groups} {
			records.WithLabelValues(t, d, kind, "created").Set(float64(c.Created))
			records.WithLabelValues(t, d, kind, "updated").Set(float64(c.Updated))
			records.WithLabelValues(t, d, kind, "deleted").Set(float64(c.Deleted))
			records.WithLabelValues(t, d, kind, "unchanged").Set(float64(c.Unchanged))
			records.WithLabelValues(t, d, kind, "held").Set(float64(c.Held))
		}
		records.WithLabelValues(t, d, "memberships", "created").Set(float64(rs.Memberships.Added))
		records.WithLabelValues(t, d, "memberships", "deleted").Set(float64(rs.Memberships.Removed))
		records.WithLabelValues(t, d, "memberships", "held").Set(float64(rs.Memberships.Held))
		v := 0.0
		if rs.PendingApproval {
			v = 1
		}
		pending.WithLabelValues(t, d).Set(v)
	}
	sources, err := a.openDirectories(onRun)
	if err != nil {
		return err
	}
	a.directories = sources
	for key, src := range sources {
		// One replica runs a directory's schedule (a lease per
		// directory); another takes over when it dies.
		a.jobs = append(a.jobs, a.leased("ldap-sync:"+key, func(ctx context.Context) {
			if err := src.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("directory schedule stopped", "err", err)
			}
		}))
	}
	lookup := func(r *http.Request) (*ldap.Source, error) {
		src, ok := sources[r.PathValue("tenant")+"/"+r.PathValue("dir")]
		if !ok {
			return nil, &admin.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such directory"}
		}
		return src, nil
	}
	p.adminExtensions = append(p.adminExtensions,
		admin.Extension{Pattern: "GET /sync", Permission: permDirectories, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			keys := make([]string, 0, len(sources))
			for k := range sources {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := []ldap.RunStatus{}
			for _, k := range keys {
				st, err := sources[k].Status(r.Context())
				if err != nil {
					return 0, nil, err
				}
				out = append(out, st)
			}
			return http.StatusOK, map[string]any{"items": out}, nil
		}},
		admin.Extension{Pattern: "GET /sync/{tenant}/{dir}", Permission: permDirectories, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			src, err := lookup(r)
			if err != nil {
				return 0, nil, err
			}
			st, err := src.Status(r.Context())
			return http.StatusOK, st, err
		}},
		admin.Extension{Pattern: "POST /sync/{tenant}/{dir}/run", Permission: permDirectories, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			src, err := lookup(r)
			if err != nil {
				return 0, nil, err
			}
			mode := ldap.Mode(r.URL.Query().Get("mode"))
			if mode == "" {
				mode = ldap.Full
			}
			if mode != ldap.Full && mode != ldap.Incremental {
				return 0, nil, &admin.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "mode is full or incremental"}
			}
			// A failed run is reported in its status (error), not as a
			// failed call.
			st, _ := src.Sync(r.Context(), mode)
			return http.StatusOK, st, nil
		}},
		admin.Extension{Pattern: "POST /sync/{tenant}/{dir}/approve", Permission: permDirectories, Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			src, err := lookup(r)
			if err != nil {
				return 0, nil, err
			}
			// Without revalidate=true, exactly the held change is
			// applied; with it, a full run applies what the directory
			// still confirms of it.
			opts := ldap.ApproveOptions{Revalidate: r.URL.Query().Get("revalidate") == "true"}
			st, err := src.Approve(r.Context(), opts)
			switch {
			case errors.Is(err, ldap.ErrNothingPending):
				return 0, nil, &admin.Error{Status: http.StatusConflict, Code: "nothing_pending", Message: err.Error()}
			case errors.Is(err, ldap.ErrDirectoryUnavailable):
				return 0, nil, &admin.Error{Status: http.StatusBadGateway, Code: "directory_unavailable", Message: err.Error()}
			case err != nil:
				return 0, nil, err
			}
			return http.StatusOK, st, nil
		}},
	)
	return nil
}
