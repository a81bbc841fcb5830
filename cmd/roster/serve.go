package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/oidc"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	listen := fs.String("listen", "", "listen address (overrides the config's listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("serve: --config is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.SetListen(*listen)
	}
	logger := newLogger(cfg.Log, stderr)
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.serve(ctx, nil)
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is the assembled server: the one place where packages are wired.
type app struct {
	cfg *config.Config
	// sections are cfg's protocol sections, decoded.
	sections *sections
	log      *slog.Logger
	store    store.Store // watched: every write reports to storage
	storage  *storageHealth
	engine   *policy.Engine
	reg      *prometheus.Registry
	mux      *http.ServeMux
	ready    atomic.Bool
	closers  []func()
	// background jobs started by serve (directory schedules…).
	jobs []func(ctx context.Context)
	// directories are the LDAP sources, keyed "tenant/id".
	directories map[string]*ldap.Source
	// oidc is the OpenID provider.
	oidc *oidc.Provider
	// leaser runs the jobs that must run once across replicas
	// (lease.go); leaseHeld reports the leases held.
	leaser    Leaser
	leaseHeld *prometheus.GaugeVec
	// syncer is the store's cross-process feed (PostgreSQL), nil for
	// bbolt; engineFeed feeds the policy engine (ready.go).
	syncer     feedSyncer
	engineFeed *store.Follower
}

// openApp opens the store, seeds configuration facts, loads the engine and
// builds every handler.
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*app, error) {
	sec, err := decodeSections(cfg)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := decodeMail(cfg); err != nil { // before the store opens
		return nil, err
	}
	st, path, err := openStore(ctx, cfg.Store, logger)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, sections: sec, log: logger, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	a.storage = newStorageHealth(logger.With("component", "store"), st, path, a.reg)
	a.store = watchedStore{Store: st, h: a.storage}
	a.leaser, a.leaseHeld = leaserOf(st), newLeaseGauge(a.reg)
	if s, ok := st.(feedSyncer); ok {
		a.syncer = s
	}
	a.closers = append(a.closers, func() { _ = st.Close() })
	if err := a.seed(ctx); err != nil {
		a.Close()
		return nil, err
	}
	ecfg := policy.EngineConfig{Charter: policy.DefaultCharter}
	if cfg.Policy.Charter != nil {
		ecfg.Charter = *cfg.Policy.Charter
	}
	if ecfg.Hierarchy, err = cfg.Policy.Hierarchy(); err != nil { // governance modes; checked by config.Validate
		a.Close()
		return nil, err
	}
	a.engine = policy.NewEngine(ecfg)
	if err := a.loadEngine(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.routes(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close releases everything openApp acquired, in reverse order.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// seed writes the tenants and roles of the configuration into the store
// (one transaction; unchanged records are left alone).
func (a *app) seed(ctx context.Context) error {
	roles := demo.DefaultRoles()
	for _, r := range a.cfg.Policy.Roles {
		perms := make([]policy.Permission, len(r.Permissions))
		for i, p := range r.Permissions {
			perms[i] = policy.Permission(p)
		}
		roles = append(roles, policy.Role{Name: policy.RoleName(r.Name), Description: r.Description, Permissions: perms, Inherit: r.Inherit})
	}
	return a.store.Update(ctx, "config", func(tx store.Tx) error {
		for _, t := range a.cfg.Tenants {
			want := t.Tenant()
			if cur, err := tx.Tenant(want.ID); err == nil && cur.Equal(want) {
				continue
			}
			if err := tx.PutTenant(want); err != nil {
				return fmt.Errorf("seed tenant %s: %w", want.ID, err)
			}
		}
		configured := map[policy.RoleName]bool{}
		for _, r := range a.cfg.Policy.Roles {
			configured[policy.RoleName(r.Name)] = true
		}
		for _, r := range roles {
			cur, err := tx.Role(r.Name)
			switch {
			case err == nil && !configured[r.Name]:
				continue // a default role an admin may have edited
			case err == nil:
				if sameRole(cur, r) {
					continue
				}
				r.Version = cur.Version
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			if _, err := tx.PutRole(r); err != nil {
				return fmt.Errorf("seed role %s: %w", r.Name, err)
			}
		}
		return nil
	})
}

func sameRole(a, b policy.Role) bool {
	return a.Description == b.Description && a.Inherit == b.Inherit && slices.Equal(a.Permissions, b.Permissions)
}

// loadEngine keeps the policy engine in step with the store's change feed
// (store.Follower: loaded from a snapshot, then fed every commit, reloaded
// when it falls behind).
func (a *app) loadEngine(ctx context.Context) error {
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "roster_policy_apply_errors_total", Help: "Change batches the policy engine could not apply (each triggers a reload).",
	})
	a.reg.MustRegister(errs)
	f, err := store.Follow(ctx, a.store, a.engine, store.FollowConfig{
		Logger:       a.log,
		OnApplyError: func(error) { errs.Inc() },
	})
	if err != nil {
		return err
	}
	a.engineFeed = f
	a.closers = append(a.closers, f.Close)
	return nil
}

// routes builds the HTTP surface: health, metrics, admin API and the
// protocol handlers.
func (a *app) routes(ctx context.Context) error {
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_http_requests_total", Help: "HTTP requests by component and status class.",
	}, []string{"component", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "roster_http_request_duration_seconds", Help: "HTTP request latency by component.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
	}, []string{"component"})
	a.reg.MustRegister(requests, latency)
	instrument := func(component string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerDuration(latency.MustCurryWith(prometheus.Labels{"component": component}),
			promhttp.InstrumentHandlerCounter(requests.MustCurryWith(prometheus.Labels{"component": component}), h))
	}

	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	a.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if err := a.store.View(r.Context(), func(store.Tx) error { return nil }); err != nil || !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n")
			return
		}
		if err := a.storage.Ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: storage cannot take writes ("+storageCause(err)+")\n")
			return
		}
		if err := a.engineCaughtUp(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: policy engine has not caught up with the change feed\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	if a.cfg.Metrics.Listen == "" {
		a.mux.Handle("GET /metrics", a.metricsHandler(true))
	}

	p, err := a.protocols(ctx)
	if err != nil {
		return err
	}
	if err := a.wirePortal(&p); err != nil {
		return err
	}
	if err := a.wireOutbound(&p); err != nil { // cmd/roster/outbound.go
		return err
	}
	if err := a.wireMail(&p); err != nil { // cmd/roster/mail.go
		return err
	}
	hierarchy, err := a.cfg.Policy.Hierarchy() // checked by config.Validate
	if err != nil {
		return err
	}
	adm, err := admin.New(admin.Config{
		Logger:       a.log.With("component", "admin"),
		Store:        a.store,
		Engine:       a.engine,
		Tokens:       adminTokens(a.cfg.Admin.Tokens),
		Hierarchy:    hierarchy,
		Products:     a.cfg.Policy.Products,
		AccessTokens: p.accessTokens,
		MaxBodyBytes: a.cfg.Admin.MaxBodyBytes,
		Extensions:   p.adminExtensions,
	})
	if err != nil {
		return err
	}
	// Changes of charter status, whatever their source, are audited off
	// the request path (one replica does it).
	a.jobs = append(a.jobs, a.leased("charters", func(ctx context.Context) { adm.WatchCharters(ctx, 5*time.Second) }))
	// The analytics fold each day into the groups' months (one replica).
	a.jobs = append(a.jobs, a.leased("stats", func(ctx context.Context) { adm.WatchStats(ctx, time.Hour) }))
	a.mux.Handle("/api/v1/", instrument("admin", adm))
	for _, pat := range admin.FeedPatterns { // the iCalendar feeds
		a.mux.Handle(pat, instrument("calendar", adm))
	}
	for _, h := range p.handlers {
		a.mux.Handle(h.pattern, instrument(h.component, h.handler))
	}
	return nil
}

// serve listens on cfg.Listen (or uses ln) and runs until ctx is done, then
// shuts down gracefully.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.Listen); err != nil {
			return err
		}
	}
	srv := newHTTPServer(a.mux, a.log)
	if a.cfg.Metrics.Listen != "" {
		mln, err := net.Listen("tcp", a.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", a.metricsHandler(false))
		msrv := newHTTPServer(mmux, a.log)
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		a.log.Info("metrics listening", "addr", mln.Addr().String())
	}
	// Jobs are stopped and waited for on every way out: the caller closes
	// the store and the directory sources as soon as serve returns.
	jobCtx, cancelJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	defer jobs.Wait()
	defer cancelJobs()
	for _, j := range a.jobs {
		jobs.Go(func() { j(jobCtx) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.ready.Store(true)
	a.log.Info("roster listening", "addr", ln.Addr().String(), "issuer", a.cfg.Issuer, "version", versionString())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.ready.Store(false)
	a.log.Info("shutting down")
	cancelJobs()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// adminTokens converts the configured admin tokens for the admin API.
func adminTokens(ts []config.AdminToken) []admin.Token {
	out := make([]admin.Token, len(ts))
	for i, t := range ts {
		out[i] = admin.Token{Name: t.Name, Token: t.Token}
	}
	return out
}

// newHTTPServer returns an HTTP server with every timeout set, so a slow
// or stalled client holds a connection for a bounded time. Handlers that
// stream for long (the backup) lift their own write deadline.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// metricsHandler serves the Prometheus registry. On the main listener
// (public) it needs an admin token or the metrics token; on a separate
// metrics listener only the metrics token, if one is set.
func (a *app) metricsHandler(public bool) http.Handler {
	var sums [][32]byte
	if a.cfg.Metrics.Token != "" {
		sums = append(sums, sha256.Sum256([]byte(a.cfg.Metrics.Token)))
	}
	if public {
		for _, t := range a.cfg.Admin.Tokens {
			sums = append(sums, sha256.Sum256([]byte(t.Token)))
		}
	}
	h := promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})
	if !public && a.cfg.Metrics.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(tok))
		ok := 0
		for _, s := range sums {
			ok |= subtle.ConstantTimeCompare(sum[:], s[:])
		}
		if ok != 1 || !strings.EqualFold(scheme, "bearer") || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="roster-metrics"`)
			http.Error(w, "metrics need a bearer token (metrics.token or an admin token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
