package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/roster-dev/roster/store"
)

// Signing algorithms offered for ID tokens (RFC 7518 §3.1). "none" is never
// produced nor accepted.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

var supportedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

const keySetKey = "set"

// storedKey is one signing key as kept in the store (ns oidc-keys).
type storedKey struct {
	KID     string          `json:"kid"`
	Alg     string          `json:"alg"`
	JWK     json.RawMessage `json:"jwk"` // private JWK
	Created time.Time       `json:"created"`
	// Retired is when a newer key replaced this one; zero while current.
	Retired time.Time `json:"retired,omitzero"`
}

type liveKey struct {
	storedKey
	priv   jose.JSONWebKey
	pub    jose.JSONWebKey
	signer jose.Signer
}

// keyManager holds the signing keys: one current key per algorithm and the
// retired keys still needed to verify tokens they signed.
type keyManager struct {
	st       store.Store
	now      func() time.Time
	rotation time.Duration
	keep     time.Duration // how long a retired key stays published
	log      *slog.Logger

	mu      sync.RWMutex
	keys    []*liveKey          // all published keys
	current map[string]*liveKey // by alg
	jwks    []byte              // cached public JWKS document
}

func newKeyManager(ctx context.Context, st store.Store, now func() time.Time, rotation, keep time.Duration, log *slog.Logger) (*keyManager, error) {
	km := &keyManager{st: st, now: now, rotation: rotation, keep: keep, log: log}
	if err := km.update(ctx, false); err != nil {
		return nil, err
	}
	return km, nil
}

// update loads the key set in one transaction, creates missing keys,
// rotates due keys (when rotate is true or a key is missing), prunes
// expired retired keys and installs the result.
func (km *keyManager) update(ctx context.Context, rotate bool) error {
	var set []storedKey
	var rotated []string // logged once the rotation has committed
	err := km.st.Update(ctx, "oidc", func(tx store.Tx) error {
		set, rotated = nil, nil
		raw, err := tx.GetRecord(nsKeys, keySetKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(raw, &set); err != nil {
				return fmt.Errorf("oidc: decoding key set: %w", err)
			}
		}
		now := km.now()
		changed := false
		for _, alg := range []string{AlgRS256, AlgES256} {
			cur := -1
			for i, k := range set {
				if k.Alg == alg && k.Retired.IsZero() {
					cur = i
				}
			}
			if cur >= 0 && (!rotate || now.Sub(set[cur].Created) < km.rotation) {
				continue
			}
			nk, err := generateKey(alg, now)
			if err != nil {
				return err
			}
			if cur >= 0 {
				set[cur].Retired = now
				rotated = append(rotated, alg, set[cur].KID, nk.KID)
			}
			set = append(set, nk)
			changed = true
		}
		kept := set[:0]
		for _, k := range set {
			if !k.Retired.IsZero() && now.Sub(k.Retired) > km.keep {
				changed = true
				continue
			}
			kept = append(kept, k)
		}
		set = kept
		if !changed {
			return nil
		}
		b, err := json.Marshal(set)
		if err != nil {
			return err
		}
		return tx.PutRecord(nsKeys, keySetKey, b)
	})
	if err != nil {
		return fmt.Errorf("oidc: loading signing keys: %w", err)
	}
	for i := 0; i+2 < len(rotated); i += 3 {
		km.log.Info("oidc: rotated signing key", "alg", rotated[i], "old", rotated[i+1], "new", rotated[i+2])
	}
	return km.install(set)
}

func (km *keyManager) install(set []storedKey) error {
	var live []*liveKey
	current := map[string]*liveKey{}
	pubs := jose.JSONWebKeySet{}
	for _, k := range set {
		lk := &liveKey{storedKey: k}
		if err := lk.priv.UnmarshalJSON(k.JWK); err != nil {
			return fmt.Errorf("oidc: decoding key %s: %w", k.KID, err)
		}
		if rk, ok := lk.priv.Key.(*rsa.PrivateKey); ok {
			// A key decoded from a JWK carries the CRT values but not the
			// form crypto/rsa signs with; without this every signature
			// rebuilds and rechecks it (about a fifth of an RS256 signing).
			rk.Precompute()
		}
		lk.pub = lk.priv.Public()
		if k.Retired.IsZero() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: lk.priv},
				(&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				return fmt.Errorf("oidc: signer for key %s: %w", k.KID, err)
			}
			lk.signer = s
			current[k.Alg] = lk
		}
		live = append(live, lk)
		pubs.Keys = append(pubs.Keys, lk.pub)
	}
	doc, err := json.Marshal(pubs)
	if err != nil {
		return err
	}
	km.mu.Lock()
	km.keys, km.current, km.jwks = live, current, doc
	km.mu.Unlock()
	return nil
}

func generateKey(alg string, now time.Time) (storedKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return storedKey{}, fmt.Errorf("oidc: unsupported algorithm %q", alg)
	}
	if err != nil {
		return storedKey{}, fmt.Errorf("oidc: generating %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	pub := jwk.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storedKey{}, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)[:16]
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return storedKey{}, err
	}
	return storedKey{KID: jwk.KeyID, Alg: alg, JWK: raw, Created: now}, nil
}

// ReloadKeys reads the signing keys from the store again (creating any that
// is missing), so that a replica on a shared store publishes and verifies
// with keys another replica rotated. It rotates nothing: Run does.
func (p *Provider) ReloadKeys(ctx context.Context) error { return p.keys.update(ctx, false) }

// rotateIfDue rotates keys older than the rotation period and drops retired
// keys no longer needed.
func (km *keyManager) rotateIfDue(ctx context.Context) error {
	if !km.due() {
		return nil
	}
	return km.update(ctx, true)
}

func (km *keyManager) due() bool {
	now := km.now()
	km.mu.RLock()
	defer km.mu.RUnlock()
	for _, k := range km.keys {
		if k.Retired.IsZero() && now.Sub(k.Created) >= km.rotation {
			return true
		}
		if !k.Retired.IsZero() && now.Sub(k.Retired) > km.keep {
			return true
		}
	}
	return false
}

// sign signs payload with the current key of alg, rotating first if due.
func (km *keyManager) sign(ctx context.Context, alg string, payload []byte) (string, error) {
	if km.due() {
		if err := km.update(ctx, true); err != nil {
			km.log.Warn("oidc: key rotation failed; signing with the old key", "err", err)
		}
	}
	km.mu.RLock()
	k := km.current[alg]
	km.mu.RUnlock()
	if k == nil {
		return "", fmt.Errorf("oidc: no signing key for %s", alg)
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidc: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// signTyped signs payload with the current key of alg under the JWS "typ"
// header typ (a logout token's "logout+jwt").
func (km *keyManager) signTyped(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	km.mu.RLock()
	k := km.current[alg]
	km.mu.RUnlock()
	if k == nil {
		return "", fmt.Errorf("oidc: no signing key for %s", alg)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.priv},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("oidc: signer: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidc: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// verify checks a compact JWS signed by one of the published keys and
// returns its payload. Only RS256 and ES256 are accepted; "none" and HMAC
// algorithms are refused by the parser.
func (km *keyManager) verify(raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, supportedAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrInvalidToken)
	}
	h := jws.Signatures[0].Header
	km.mu.RLock()
	defer km.mu.RUnlock()
	for _, k := range km.keys {
		if k.KID == h.KeyID && k.Alg == h.Algorithm {
			payload, err := jws.Verify(k.pub)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
			}
			return payload, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown key %q", ErrInvalidToken, h.KeyID)
}

// tokenHash returns the at_hash of an access token for alg (OIDC Core
// §3.1.3.6): the left half of its SHA-256, base64url. Both RS256 and ES256
// use SHA-256.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	p.keys.mu.RLock()
	doc := p.keys.jwks
	p.keys.mu.RUnlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(doc)
}
