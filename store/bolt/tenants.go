package bolt

// This file holds tenants: the per-tenant bucket and the tenant records.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	bbolt "go.etcd.io/bbolt"
)

// tenantBucket returns the bucket t/<id>, or ErrNotFound.
func (t *tx) tenantBucket(id policy.TenantID) (*bbolt.Bucket, error) {
	if id != "" {
		if b := getBucket(t.root, bktTenantData, []byte(id)); b != nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("bolt: tenant %q: %w", id, store.ErrNotFound)
}

// PutTenant implements store.Tx: it creates or replaces a tenant.
func (t *tx) PutTenant(tn policy.Tenant) error {
	if err := t.write(); err != nil {
		return err
	}
	if tn.ID == "" {
		return fmt.Errorf("bolt: tenant id is required: %w", policy.ErrInvalid)
	}
	if err := checkID("tenant", string(tn.ID)); err != nil {
		return err
	}
	b := t.root.Bucket(bktTenants)
	before := b.Get([]byte(tn.ID))
	if before != nil {
		before = bytes.Clone(before)
	}
	v, err := encode(tn, "tenant")
	if err != nil {
		return err
	}
	if err := put(b, []byte(tn.ID), v); err != nil {
		return err
	}
	tb, err := createBucket(t.root, bktTenantData, []byte(tn.ID))
	if err != nil {
		return err
	}
	for _, p := range tenantPaths {
		if _, err := createBucket(tb, p...); err != nil {
			return err
		}
	}
	t.journal.Put(policy.KindTenant, tn.ID, string(tn.ID), before, v, nil, tn)
	return nil
}

// Tenant implements store.Tx.
func (t *tx) Tenant(id policy.TenantID) (policy.Tenant, error) {
	if err := t.read(); err != nil {
		return policy.Tenant{}, err
	}
	v := t.root.Bucket(bktTenants).Get([]byte(id))
	if v == nil || id == "" {
		return policy.Tenant{}, fmt.Errorf("bolt: tenant %q: %w", id, store.ErrNotFound)
	}
	return decode[policy.Tenant](v, "tenant")
}

// Tenants implements store.Tx: all tenants, ordered by id.
func (t *tx) Tenants() ([]policy.Tenant, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Tenant](t.root.Bucket(bktTenants), "tenant")
}
