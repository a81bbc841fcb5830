package outbound

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ErrNoSecretKey: a target cannot be created through the API because the
// deployment gave no key to encrypt its secret with (outbound.secretKey).
var ErrNoSecretKey = errors.New("outbound: no secret key configured (outbound.secretKey): targets with secrets cannot be stored")

// ErrTargetExists: a target with that id exists already.
var ErrTargetExists = errors.New("outbound: target exists")

// ErrConfigured: the target is defined in the configuration file, so it
// cannot be deleted through the API.
var ErrConfigured = errors.New("outbound: target is defined in the configuration")

// Target sources (Status.Source).
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// managedPrefix is the key prefix of targets created through the API, and
// the audit id prefix of their creation and deletion.
const managedPrefix = "target/"

func targetAuditID(id string) string { return "outbound/target/" + id }

// storedTarget is the record of a target created through the API. Its
// secret (the SCIM token or the webhook secret) is only in Sealed:
// AES-GCM under the deployment's key, the record key as additional data.
// It cannot be hashed: Roster presents or signs with it.
type storedTarget struct {
	Config    TargetConfig `json:"config"`
	Sealed    []byte       `json:"sealed"`
	CreatedBy string       `json:"createdBy"`
	CreatedAt time.Time    `json:"createdAt"`
}

// ParseSecretKey decodes the secret key of the deployment: 32 bytes in
// standard base64 (e.g. `openssl rand -base64 32`).
func ParseSecretKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != 32 {
		return nil, errors.New("outbound: the secret key must be 32 bytes in base64 (openssl rand -base64 32)")
	}
	return k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("outbound: secret key: %w", err)
	}
	return cipher.NewGCM(b)
}

func seal(key []byte, id, secret string) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, []byte(secret), []byte(managedPrefix+id)), nil
}

func open(key []byte, id string, sealed []byte) (string, error) {
	g, err := newGCM(key)
	if err != nil {
		return "", err
	}
	if len(sealed) < g.NonceSize() {
		return "", errors.New("outbound: sealed secret too short")
	}
	p, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(managedPrefix+id))
	if err != nil {
		return "", fmt.Errorf("outbound: target %s: cannot decrypt its secret (wrong outbound.secretKey?): %w", id, err)
	}
	return string(p), nil
}

// checkReachable resolves the target's host and refuses it if any of its
// addresses is one the dialer would refuse (see ErrForbiddenAddress), so
// that the admin API reports the reason at creation. The dialer checks
// again at each connection.
func checkReachable(ctx context.Context, c TargetConfig) error {
	u, err := url.Parse(c.URL())
	if err != nil {
		return err
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("%s does not resolve: %w", host, err)
		}
	}
	for _, a := range addrs {
		if err := checkAddr(a, c.AllowLinkLocal); err != nil {
			return err
		}
	}
	return nil
}

// Create adds a target through the API and starts its worker at once (at
// the end of the audit log: it is sent what happens from now on; a SCIM
// target is reconciled in full first). A webhook target without a secret
// is given a new one ("whsec_…"). The returned config carries the secret:
// the caller shows it once; it is stored only encrypted. allowLinkLocal
// cannot be set this way (configuration only), and the URL must resolve
// to addresses the dialer accepts. The creation is audited under the actor
// of ctx (store.WithActor).
func (s *Service) Create(ctx context.Context, c TargetConfig) (TargetConfig, error) {
	if len(s.cfg.SecretKey) == 0 {
		return TargetConfig{}, ErrNoSecretKey
	}
	if c.AllowLinkLocal {
		return TargetConfig{}, &FieldError{"allowLinkLocal", "can be set in the configuration only"}
	}
	if c.Webhook != nil && c.Webhook.Secret == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return TargetConfig{}, err
		}
		c.Webhook.Secret = "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	if err := c.Validate(); err != nil {
		return TargetConfig{}, err
	}
	if err := checkReachable(ctx, c); err != nil {
		return TargetConfig{}, &FieldError{c.Kind() + ".url", err.Error()}
	}
	s.mu.RLock()
	clash := s.byID[c.ID] != nil && s.byID[c.ID].source == SourceConfig
	s.mu.RUnlock()
	if clash {
		return TargetConfig{}, fmt.Errorf("%w: %s (in the configuration)", ErrTargetExists, c.ID)
	}
	rec := storedTarget{Config: c, CreatedBy: store.ActorOr(ctx, "outbound"), CreatedAt: s.cfg.Now().UTC()}
	var secret string
	if c.SCIM != nil {
		sc := *c.SCIM
		secret, sc.Token = sc.Token, ""
		rec.Config.SCIM = &sc
	} else {
		wh := *c.Webhook
		secret, wh.Secret = wh.Secret, ""
		rec.Config.Webhook = &wh
	}
	var err error
	if rec.Sealed, err = seal(s.cfg.SecretKey, c.ID, secret); err != nil {
		return TargetConfig{}, err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return TargetConfig{}, err
	}
	err = s.cfg.Store.Update(ctx, rec.CreatedBy, func(tx store.Tx) error {
		if _, err := tx.GetRecord(Namespace, managedPrefix+c.ID); err == nil {
			return fmt.Errorf("%w: %s", ErrTargetExists, c.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := purgeState(tx, c.ID); err != nil { // left by an earlier target of that id
			return err
		}
		if err := tx.PutRecord(Namespace, managedPrefix+c.ID, b); err != nil {
			return err
		}
		return tx.Record("", policy.OpCreate, targetAuditID(c.ID), auditDetail(c))
	})
	if err != nil {
		return TargetConfig{}, err
	}
	if err := s.reload(ctx); err != nil {
		return TargetConfig{}, err
	}
	return c, nil
}

// Delete removes a target created through the API and stops its worker;
// its cursor and delivery state go with it. What was pushed to the target
// stays there. A target of the configuration file is ErrConfigured.
func (s *Service) Delete(ctx context.Context, id string) error {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t != nil && t.source == SourceConfig {
		return fmt.Errorf("%w: %s", ErrConfigured, id)
	}
	actor := store.ActorOr(ctx, "outbound")
	err := s.cfg.Store.Update(ctx, actor, func(tx store.Tx) error {
		if err := tx.DeleteRecord(Namespace, managedPrefix+id); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownTarget, id)
		} else if err != nil {
			return err
		}
		return tx.Record("", policy.OpDelete, targetAuditID(id), map[string]any{"id": id})
	})
	if err != nil {
		return err
	}
	return s.reload(ctx)
}

func auditDetail(c TargetConfig) map[string]any {
	d := map[string]any{"id": c.ID, "kind": c.Kind(), "url": c.URL()}
	if len(c.Events) > 0 {
		d["events"] = c.Events
	}
	if c.Groups.Root != "" {
		d["groups"] = c.Groups.Root
	}
	return d
}

// purgeState deletes a target's cursor and delivery records.
func purgeState(tx store.Tx, id string) error {
	var keys []string
	for _, p := range []string{"eff/" + id + "/", "scim/" + id + "/"} {
		err := tx.ScanRecords(Namespace, p, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return err
		}
	}
	keys = append(keys, cursorKey(id))
	for _, k := range keys {
		if err := tx.DeleteRecord(Namespace, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// storedTargets reads the targets created through the API, with their
// secrets decrypted. A target that cannot be read is logged and left out.
func (s *Service) storedTargets(ctx context.Context) (map[string]TargetConfig, error) {
	out := map[string]TargetConfig{}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(Namespace, managedPrefix, func(k string, v []byte) error {
			id := strings.TrimPrefix(k, managedPrefix)
			var rec storedTarget
			if err := json.Unmarshal(v, &rec); err != nil {
				s.log.Error("outbound: unreadable target record", "target", id, "err", err)
				return nil
			}
			if len(s.cfg.SecretKey) == 0 {
				s.log.Error("outbound: target created through the API left out: no outbound.secretKey to decrypt its secret", "target", id)
				return nil
			}
			secret, err := open(s.cfg.SecretKey, id, rec.Sealed)
			if err != nil {
				s.log.Error("outbound: target left out", "target", id, "err", err)
				return nil
			}
			c := rec.Config
			if c.SCIM != nil {
				sc := *c.SCIM
				sc.Token = secret
				c.SCIM = &sc
			} else if c.Webhook != nil {
				wh := *c.Webhook
				wh.Secret = secret
				c.Webhook = &wh
			}
			if err := c.Validate(); err != nil {
				s.log.Error("outbound: target left out", "target", id, "err", err)
				return nil
			}
			out[id] = c
			return nil
		})
	})
	return out, err
}
