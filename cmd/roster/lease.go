package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-dev/roster/oidc"
)

// Leaser grants the leases of work that must run once across all the
// replicas of an installation: scheduled directory syncs, OIDC key
// rotation and expiry sweeps. The PostgreSQL store is one (a session-level
// advisory lock per lease, see postgres.Store.Lead); with bbolt there is
// one process, always the leader (soleLeader).
type Leaser interface {
	// Lead runs fn while this process holds the lease name: it waits
	// until it can take it, cancels fn's context when the lease is lost
	// (and takes it again later), and returns when ctx is done or fn
	// returns on its own.
	Lead(ctx context.Context, name string, fn func(ctx context.Context)) error
}

// soleLeader is the Leaser of a store only one process opens (bbolt).
type soleLeader struct{}

// Lead implements Leaser: fn runs at once.
func (soleLeader) Lead(ctx context.Context, _ string, fn func(context.Context)) error {
	fn(ctx)
	return ctx.Err()
}

// leaserOf returns the store's Leaser, or soleLeader.
func leaserOf(st any) Leaser {
	if l, ok := st.(Leaser); ok {
		return l
	}
	return soleLeader{}
}

// leased returns a job that runs fn under the lease name, and reports in
// roster_lease_held whether this process holds it.
func (a *app) leased(name string, fn func(ctx context.Context)) func(ctx context.Context) {
	held := a.leaseHeld.WithLabelValues(name)
	return func(ctx context.Context) {
		err := a.leaser.Lead(ctx, name, func(ctx context.Context) {
			held.Set(1)
			defer held.Set(0)
			a.log.Info("leased job started", "lease", name)
			fn(ctx)
		})
		if err != nil && ctx.Err() == nil {
			a.log.Error("leased job stopped", "lease", name, "err", err)
		}
	}
}

func newLeaseGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roster_lease_held", Help: "1 while this replica holds the lease of a job that runs once across replicas.",
	}, []string{"lease"})
	reg.MustRegister(g)
	return g
}

// keyReloadEvery is how often a replica reads the signing keys again.
const keyReloadEvery = 15 * time.Second

// keyReload returns the job, run on every replica of a shared store, that
// picks up signing keys another replica rotated, so that each publishes
// them in its JWKS and verifies with them.
func (a *app) keyReload(p *oidc.Provider) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(keyReloadEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := p.ReloadKeys(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("oidc: reloading signing keys failed", "err", err)
			}
		}
	}
}
