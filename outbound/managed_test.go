package outbound

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/roster-dev/roster/store"
)

func runService(t *testing.T, e *env, key []byte) *Service {
	t.Helper()
	svc, err := New(Config{Logger: testLogger(t), Store: e.st, Engine: e.eng, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-svc.Ready()
	return svc
}

// TestManagedTargetsAcrossReplicas: a target created through one
// Service's Create (a replica's admin API) is started by the Service that
// delivers, through the change feed, and stopped there when deleted; its
// secret is only in the store encrypted, and another key cannot read it.
func TestManagedTargetsAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	key := bytes.Repeat([]byte{7}, 32)
	ctx := store.WithActor(context.Background(), "admin:ops")

	noKey, err := New(Config{Store: e.st, Engine: e.eng})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noKey.Create(ctx, webhookTarget("chat", "http://127.0.0.1:1/x")); !errors.Is(err, ErrNoSecretKey) {
		t.Fatalf("Create without a key: %v", err)
	}

	deliverer := runService(t, e, key)
	other, err := New(Config{Store: e.st, Engine: e.eng, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, testSecret, func(int) action { return answerOK })
	if _, err := other.Create(ctx, webhookTarget("chat", rcv.url())); err != nil {
		t.Fatal(err)
	}
	// Made before the worker may have started: delivered all the same.
	g := e.createGroup("rug", "")
	if got := other.Targets(); !slices.Equal(got, []string{"chat"}) {
		t.Errorf("the creating Service lists %v", got)
	}
	waitFor(t, "group.created", func() bool {
		return rcv.has(func(ev Event) bool { return ev.Type == "group.created" && ev.Subject == "group:"+string(g.ID) })
	})

	var raw []byte
	e.update(func(tx store.Tx) error {
		raw, err = tx.GetRecord(Namespace, managedPrefix+"chat")
		return err
	})
	if bytes.Contains(raw, []byte(testSecret)) {
		t.Errorf("the secret is in the record in clear: %s", raw)
	}
	wrong, err := New(Config{Store: e.st, Engine: e.eng, SecretKey: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wrong.storedTargets(ctx); err != nil || len(got) != 0 {
		t.Errorf("another key reads %v, %v", got, err)
	}

	if err := other.Delete(ctx, "chat"); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(ctx, "chat"); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("Delete twice: %v", err)
	}
	waitFor(t, "the worker stopped and its state purged", func() bool {
		if len(deliverer.Targets()) != 0 {
			return false
		}
		var found bool
		e.update(func(tx store.Tx) error {
			_, err := tx.GetRecord(Namespace, cursorKey("chat"))
			found = !errors.Is(err, store.ErrNotFound)
			return nil
		})
		return !found
	})
}
