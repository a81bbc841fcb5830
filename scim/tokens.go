package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TokenNamespace is the store record namespace of SCIM bearer tokens. Keys
// are the hex SHA-256 of a token; values are the JSON of a TokenInfo. The
// plain token is never stored.
const TokenNamespace = "scim-tokens"

// tokenPrefix marks Roster SCIM tokens so that secret scanners can spot
// them.
const tokenPrefix = "rscim_"

// TokenInfo describes a stored SCIM bearer token, without its secret.
type TokenInfo struct {
	Tenant  policy.TenantID `json:"tenant"`
	Name    string          `json:"name"`
	Created time.Time       `json:"created"`
}

// hashToken returns the SHA-256 of a plain token.
func hashToken(plain string) [sha256.Size]byte { return sha256.Sum256([]byte(plain)) }

// CreateToken creates a bearer token named name for tenant's SCIM endpoint
// and returns it. The token carries 256 random bits; only its SHA-256 is
// stored, so the returned value must be shown once and cannot be recovered.
// An audit event (without the secret) is recorded in the same transaction.
// A name already used by the tenant yields an error wrapping store.ErrExists.
// The token's creation time comes from Config.Now.
func (s *Server) CreateToken(ctx context.Context, tenant policy.TenantID, name string) (string, error) {
	st := s.st
	if tenant == "" || strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("scim: create token: %w: tenant and name are required", policy.ErrInvalid)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("scim: create token: %w", err)
	}
	plain := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := hashToken(plain)
	info := TokenInfo{Tenant: tenant, Name: name, Created: s.now().UTC()}
	val, err := json.Marshal(info)
	if err != nil {
		return "", fmt.Errorf("scim: create token: %w", err)
	}
	err = st.Update(ctx, store.ActorOr(ctx, "scim:"+string(tenant)), func(tx store.Tx) error {
		if _, found, err := findToken(tx, tenant, name); err != nil {
			return err
		} else if found {
			return fmt.Errorf("token %q of tenant %s: %w", name, tenant, store.ErrExists)
		}
		if err := tx.PutRecord(TokenNamespace, hex.EncodeToString(sum[:]), val); err != nil {
			return err
		}
		return tx.Record(tenant, policy.OpCreate, "scim-token/"+name, map[string]any{"event": "scim token created", "name": name})
	})
	if err != nil {
		return "", fmt.Errorf("scim: create token: %w", err)
	}
	return plain, nil
}

// ListTokens lists the stored tokens of tenant, by name. Tokens given in
// the configuration are not listed.
func ListTokens(ctx context.Context, st store.Store, tenant policy.TenantID) ([]TokenInfo, error) {
	var out []TokenInfo
	err := st.View(ctx, func(tx store.Tx) error {
		return tx.ScanRecords(TokenNamespace, "", func(_ string, v []byte) error {
			var ti TokenInfo
			if err := json.Unmarshal(v, &ti); err != nil {
				return err
			}
			if ti.Tenant == tenant {
				out = append(out, ti)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("scim: list tokens: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeToken deletes tenant's token called name; it stops working at
// once. An unknown name yields an error wrapping store.ErrNotFound.
func RevokeToken(ctx context.Context, st store.Store, tenant policy.TenantID, name string) error {
	err := st.Update(ctx, store.ActorOr(ctx, "scim:"+string(tenant)), func(tx store.Tx) error {
		key, found, err := findToken(tx, tenant, name)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("token %q of tenant %s: %w", name, tenant, store.ErrNotFound)
		}
		if err := tx.DeleteRecord(TokenNamespace, key); err != nil {
			return err
		}
		return tx.Record(tenant, policy.OpDelete, "scim-token/"+name, map[string]any{"event": "scim token revoked", "name": name})
	})
	if err != nil {
		return fmt.Errorf("scim: revoke token: %w", err)
	}
	return nil
}

var errStop = errors.New("stop")

func findToken(tx store.Tx, tenant policy.TenantID, name string) (key string, found bool, err error) {
	err = tx.ScanRecords(TokenNamespace, "", func(k string, v []byte) error {
		var ti TokenInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return err
		}
		if ti.Tenant == tenant && ti.Name == name {
			key, found = k, true
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return key, found, err
}
