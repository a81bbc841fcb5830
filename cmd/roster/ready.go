package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// feedSyncer is a store whose change feed spans processes (PostgreSQL):
// Sync returns once every change any process committed before the call has
// reached this process's subscribers, the policy engine among them.
type feedSyncer interface {
	Sync(ctx context.Context) error
}

// errEngineLoading: the policy engine is (re)loading from a snapshot.
var errEngineLoading = errors.New("policy engine is loading")

// engineCaughtUp reports nil once this replica's policy engine holds every
// change committed before the call, by this or another replica: /readyz
// says ready only then, so a load balancer sends no request to a replica
// that would answer from an older state. With bbolt (one process, the feed
// delivered before Update returns) it checks only that the engine is not
// loading.
func (a *app) engineCaughtUp(ctx context.Context) error {
	if a.syncer != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.syncer.Sync(ctx); err != nil {
			return fmt.Errorf("change feed: %w", err)
		}
	}
	if f := a.engineFeed; f != nil && f.Loading() {
		return errEngineLoading
	}
	return nil
}
