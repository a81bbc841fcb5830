package store

import (
	"context"
	"sync"
	"sync/atomic"
)

// Batcher groups concurrent writes into one store transaction (group
// commit): the first caller to find no commit in progress runs every
// pending operation in one Update, and keeps doing so while more arrive.
// With a store that syncs to disk on every commit this multiplies the
// write throughput of many small concurrent writers (the OIDC token
// endpoint). Like bbolt's own DB.Batch, but over any Store and with the
// change feed of Update.
//
// An operation must leave its outcome in variables it captures and return
// an error only for store failures: a failing operation aborts the whole
// batch, which is then retried one operation per transaction. Operations
// therefore must be safe to run more than once.
type Batcher struct {
	st    Store
	actor string

	mu      sync.Mutex
	pending []*batchOp
	running bool

	// Batches and Ops count the transactions run and the operations in
	// them (for benchmarks and metrics).
	Batches, Ops atomic.Int64
}

type batchOp struct {
	fn   func(Tx) error
	done chan error
}

const maxBatch = 128

// NewBatcher returns a Batcher whose transactions run on st on behalf of
// actor.
func NewBatcher(st Store, actor string) *Batcher { return &Batcher{st: st, actor: actor} }

// Do runs fn in a transaction shared with other concurrent callers and
// returns when that transaction has committed (or fn's own error).
func (b *Batcher) Do(ctx context.Context, fn func(Tx) error) error {
	op := &batchOp{fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, op)
	if b.running {
		b.mu.Unlock()
		select {
		case err := <-op.done:
			return err
		case <-ctx.Done():
			// The operation may still run; its outcome is discarded.
			return ctx.Err()
		}
	}
	b.running = true
	ctx = context.WithoutCancel(ctx)
	for len(b.pending) > 0 {
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.run(ctx, batch)
		b.mu.Lock()
	}
	b.pending = nil
	b.running = false
	b.mu.Unlock()
	return <-op.done
}

func (b *Batcher) run(ctx context.Context, batch []*batchOp) {
	b.Batches.Add(1)
	b.Ops.Add(int64(len(batch)))
	err := b.st.Update(ctx, b.actor, func(tx Tx) error {
		for _, op := range batch {
			if err := op.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, op := range batch {
			op.done <- err
		}
		return
	}
	for _, op := range batch {
		op.done <- b.st.Update(ctx, b.actor, op.fn)
	}
}
