package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaseClass is the first key of the session-level advisory locks that
// hold leases ("rost"); the second is a hash of the lease's name. Locks
// with two int4 keys never collide with the single bigint key of the
// audit lock.
const leaseClass int32 = 0x726f7374

func leaseKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// defaultLeaseEvery is how often a waiting replica tries to take a lease
// and how often its holder checks that it still has it.
const defaultLeaseEvery = 2 * time.Second

// minLeaseCheck is the least time a holder's connection check may take
// before the holder gives the lease up: a busy database or machine must not
// cost a healthy holder its lease (a session the database ended fails the
// check at once, whatever this is).
const minLeaseCheck = 5 * time.Second

// Lead runs fn while this process holds the lease name, for work that must
// run once across all the replicas on the database (scheduled directory
// syncs, key rotation, expiry sweeps). It waits until it can take the
// lease, runs fn, and returns when ctx is done or fn returns on its own.
//
// The lease is a session-level advisory lock (pg_try_advisory_lock) on a
// connection of its own, outside the pool. PostgreSQL releases it when that
// session ends: the holder closes it, its process dies (SIGKILL, a lost
// node: the server sees the connection drop, or, across a network
// partition, its TCP keepalive expire), or the server restarts. The holder
// checks its connection every Options.LeaseEvery; when the check fails the
// lease may already be another replica's, so fn's context is cancelled and
// Lead waits for fn to return, and two LeaseEvery more so that a waiting
// replica takes over, before it tries to take the lease again.
// Two holders can therefore overlap by at most one check interval, and
// only when the database drops a holder that is still alive: the leased
// jobs write in transactions and converge, so an overlap costs work, not
// correctness.
func (s *Store) Lead(ctx context.Context, name string, fn func(ctx context.Context)) error {
	key := leaseKey(name)
	waiting := false
	for {
		conn, err := s.tryLease(ctx, key)
		if err != nil && ctx.Err() == nil && !waiting {
			s.log.Warn("postgres: lease: cannot reach the database; retrying", "lease", name, "err", err)
		}
		if conn == nil {
			if !waiting && err == nil {
				s.log.Info("postgres: lease held by another replica; waiting", "lease", name)
			}
			waiting = true
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.leaseEvery):
			}
			continue
		}
		waiting = false
		s.log.Info("postgres: lease taken", "lease", name)
		lost := s.hold(ctx, conn, fn)
		conn.Close(context.Background()) // ends the session: releases the lock
		switch {
		case ctx.Err() != nil:
			s.log.Info("postgres: lease released", "lease", name)
			return ctx.Err()
		case lost == nil:
			s.log.Info("postgres: lease released", "lease", name)
			return nil
		}
		s.log.Warn("postgres: lease lost; its work stopped until it is taken again", "lease", name, "err", lost)
		// The replicas waiting try every LeaseEvery: one that lost its
		// session gives them two turns before it tries again itself.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * s.leaseEvery):
		}
	}
}

// tryLease connects and tries the lock once: the connection holding it,
// or nil when another session holds it (err nil) or the database cannot be
// reached (err).
func (s *Store) tryLease(ctx context.Context, key int32) (*pgx.Conn, error) {
	if s.isClosed() {
		return nil, errors.New("postgres: lease: store closed")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.connCfg.Copy())
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1, $2)`, leaseClass, key).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// hold runs fn while conn answers. It returns nil when fn returned on its
// own or ctx ended, and the failed check when the lease was lost.
func (s *Store) hold(ctx context.Context, conn *pgx.Conn, fn func(context.Context)) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(runCtx)
	}()
	t := time.NewTicker(s.leaseEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			<-done
			return nil
		case <-t.C:
		}
		cctx, ccancel := context.WithTimeout(ctx, max(s.leaseEvery, minLeaseCheck))
		_, err := conn.Exec(cctx, `SELECT 1`)
		ccancel()
		if err != nil && ctx.Err() == nil {
			cancel()
			<-done
			return fmt.Errorf("lease check: %w", err)
		}
	}
}
