package store

import (
	"context"
	"errors"
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
	actor string // "" for the Batcher's own
	fn    func(Tx) error
	done  chan error
}

// ActorTx is implemented by the transactions of backends that can change,
// within one transaction, the actor recorded for the entries that follow.
// A Batcher uses it to keep each operation's own actor in a group commit.
type ActorTx interface {
	SetActor(actor string)
}

// errOwnTx stops a batch whose transaction cannot take an operation's own
// actor; the operations are then run one per transaction.
var errOwnTx = errors.New("store: operation needs its own transaction")

const maxBatch = 128

// NewBatcher returns a Batcher whose transactions run on st on behalf of
// actor.
func NewBatcher(st Store, actor string) *Batcher { return &Batcher{st: st, actor: actor} }

// Do runs fn in a transaction shared with other concurrent callers and
// returns when that transaction has committed (or fn's own error).
func (b *Batcher) Do(ctx context.Context, fn func(Tx) error) error {
	return b.DoAs(ctx, "", fn)
}

// DoAs is Do on behalf of actor: the audit entries fn writes name actor
// rather than the Batcher's (with backends whose transactions implement
// ActorTx; with others such operations run in a transaction of their own).
func (b *Batcher) DoAs(ctx context.Context, actor string, fn func(Tx) error) error {
	op := &batchOp{actor: actor, fn: fn, done: make(chan error, 1)}
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
	if len(batch) == 1 {
		batch[0].done <- b.st.Update(ctx, b.actorOf(batch[0]), batch[0].fn)
		return
	}
	err := b.st.Update(ctx, b.actor, func(tx Tx) error {
		at, canSet := tx.(ActorTx)
		for _, op := range batch {
			switch {
			case canSet:
				at.SetActor(b.actorOf(op))
			case b.actorOf(op) != b.actor:
				return errOwnTx
			}
			if err := op.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, op := range batch {
			op.done <- nil
		}
		return
	}
	for _, op := range batch {
		op.done <- b.st.Update(ctx, b.actorOf(op), op.fn)
	}
}

func (b *Batcher) actorOf(op *batchOp) string {
	if op.actor != "" {
		return op.actor
	}
	return b.actor
}
