package outbound

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Event is the JSON body of one webhook delivery, following the Standard
// Webhooks payload shape (type, timestamp, data), with the audit seq it
// comes from and the subject whose events arrive in order.
type Event struct {
	// ID is also the webhook-id header: the same for every attempt, so
	// a receiver can drop a redelivery it has already processed.
	ID string `json:"id"`
	// Type is "<kind>.<created|changed|removed>", kind one of user,
	// group, meeting, membership, effective_membership.
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Seq       uint64    `json:"seq"`
	Subject   string    `json:"subject"`
	Data      any       `json:"data"`

	fact   bool              // derived from one audit entry (counts in cursor.Skip)
	writes map[string][]byte // records to commit when acknowledged
}

// signingKey returns the HMAC key of a secret: the base64 after "whsec_",
// or the secret's bytes.
func signingKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, errors.New("a whsec_ secret must be base64 after the prefix")
		}
		return k, nil
	}
	return []byte(secret), nil
}

// Sign returns the webhook-signature header value of a message: "v1,"
// and the base64 HMAC-SHA256, keyed by key, of "id.timestamp.body"
// (Standard Webhooks).
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks the Standard Webhooks headers of a delivery against
// secret (as configured: whsec_… or plain), with a tolerance on the
// timestamp. It is what a receiver written in Go would do, and what the
// tests do.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := signingKey(secret)
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("outbound: missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("outbound: webhook timestamp outside tolerance")
	}
	want := Sign(key, id, sec, body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("outbound: no valid webhook signature")
}

// StatusError is a delivery answered with a status other than 2xx.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("outbound: target answered %d", e.Code)
	}
	return fmt.Sprintf("outbound: target answered %d: %s", e.Code, e.Body)
}

// post delivers one event.
func (t *target) post(ctx context.Context, ev *Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ts := t.svc.cfg.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "roster-outbound")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(t.key, ev.ID, ts, body))
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("outbound: post %s: %w", ev.Type, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return nil
}

// runWebhook is the worker of a webhook target: chunk by chunk, it turns
// audit entries into events and delivers them one at a time, in order.
func (t *target) runWebhook(ctx context.Context) {
	for {
		ok := t.waitRunnable(ctx, func(c cursor) (bool, time.Duration) {
			return t.svc.applied.Load() > c.After, -1
		})
		if !ok {
			return
		}
		c, gen := t.snapshot()
		entries, err := t.svc.read(ctx, c.After)
		if err == nil && len(entries) == 0 {
			t.advance(gen, func(cc *cursor) { cc.After, cc.Skip = t.svc.applied.Load(), 0 }, nil)
			continue
		}
		var events []*Event
		if err == nil {
			t.setOldest(entries[0].Time)
			events, err = t.events(ctx, entries)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			t.svc.log.Error("outbound: reading the change feed failed", "target", t.cfg.ID, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		last := entries[len(entries)-1].Seq
		facts, delivered := 0, true
		for _, ev := range events {
			if ev.fact {
				facts++
				if facts <= c.Skip {
					continue // delivered before a restart or a failure
				}
			}
			if err := t.attempt(ctx, gen, ev.Type, func(ctx context.Context) error { return t.post(ctx, ev) }); err != nil {
				delivered = false
				break
			}
			n := facts
			t.advance(gen, func(cc *cursor) { cc.Skip = n }, ev.writes)
		}
		if delivered {
			t.advance(gen, func(cc *cursor) { cc.After, cc.Skip = last, 0 }, nil)
			t.setOldest(time.Time{})
		}
	}
}

// read returns the audit entries after seq that the engine has applied,
// at most a chunk of them.
func (s *Service) read(ctx context.Context, after uint64) ([]policy.Change, error) {
	head := s.applied.Load()
	var out []policy.Change
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		es, err := tx.Audit(after, s.cfg.ChunkSize)
		for _, e := range es {
			if e.Seq > head {
				break
			}
			out = append(out, e)
		}
		return err
	})
	return out, err
}
