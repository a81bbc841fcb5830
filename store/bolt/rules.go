package bolt

// This file holds binding rules.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// CreateRule implements store.Tx. The tenant, its directory group, the user
// group and the role must exist (ErrNotFound); the same binding twice is
// ErrExists.
func (t *tx) CreateRule(r policy.Rule) (policy.Rule, error) {
	if err := t.write(); err != nil {
		return policy.Rule{}, err
	}
	if err := store.NewRule(&r, t.now, checkID); err != nil {
		return policy.Rule{}, err
	}
	rules := t.root.Bucket(bktRules)
	if rules.Get([]byte(r.ID)) != nil {
		return policy.Rule{}, fmt.Errorf("bolt: rule id %s: %w", r.ID, store.ErrExists)
	}
	tb, err := t.tenantBucket(r.Tenant)
	if err != nil {
		return policy.Rule{}, err
	}
	if r.DirGroup == "" || getBucket(tb, bktDirGroups).Get([]byte(r.DirGroup)) == nil {
		return policy.Rule{}, notFoundDG(r.Tenant, r.DirGroup)
	}
	if r.Group == "" || t.root.Bucket(bktGroups).Get([]byte(r.Group)) == nil {
		return policy.Rule{}, notFoundGroup(r.Group)
	}
	if r.Role == "" || t.root.Bucket(bktRoles).Get([]byte(r.Role)) == nil {
		return policy.Rule{}, fmt.Errorf("bolt: role %q: %w", r.Role, store.ErrNotFound)
	}
	idx := t.root.Bucket(bktIdx)
	err = scanPrefix(idx.Bucket(bktRuleDG), prefix(string(r.Tenant), string(r.DirGroup)), func(k, _ []byte) error {
		v := rules.Get([]byte(lastPart(k)))
		if v == nil {
			return nil
		}
		o, err := decode[policy.Rule](v, "rule")
		if err != nil {
			return err
		}
		if o.Group == r.Group && o.Role == r.Role {
			return fmt.Errorf("bolt: rule %s already binds %s to %s as %s: %w", o.ID, r.DirGroup, r.Group, r.Role, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return policy.Rule{}, err
	}
	v, err := encode(r, "rule")
	if err != nil {
		return policy.Rule{}, err
	}
	if err := put(rules, []byte(r.ID), v); err != nil {
		return policy.Rule{}, err
	}
	if err := t.writeIndexes(nil, ruleIndexes(nil, &r)); err != nil {
		return policy.Rule{}, err
	}
	t.journal.Created(policy.KindRule, r.Tenant, string(r.ID), v, r)
	return r, nil
}

// Rule implements store.Tx.
func (t *tx) Rule(id policy.RuleID) (policy.Rule, error) {
	if err := t.read(); err != nil {
		return policy.Rule{}, err
	}
	v := t.root.Bucket(bktRules).Get([]byte(id))
	if v == nil || id == "" {
		return policy.Rule{}, fmt.Errorf("bolt: rule %s: %w", id, store.ErrNotFound)
	}
	return decode[policy.Rule](v, "rule")
}

// DeleteRule implements store.Tx.
func (t *tx) DeleteRule(id policy.RuleID) error {
	if err := t.write(); err != nil {
		return err
	}
	return t.deleteRule(id)
}

func (t *tx) deleteRule(id policy.RuleID) error {
	rules := t.root.Bucket(bktRules)
	before := rules.Get([]byte(id))
	if before == nil || id == "" {
		return fmt.Errorf("bolt: rule %s: %w", id, store.ErrNotFound)
	}
	before = bytes.Clone(before)
	r, err := decode[policy.Rule](before, "rule")
	if err != nil {
		return err
	}
	if err := t.writeIndexes(nil, ruleIndexes(&r, nil)); err != nil {
		return err
	}
	if err := del(rules, []byte(id)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindRule, r.Tenant, string(id), before, r)
	return nil
}

// Rules implements store.Tx: all rules in id order.
func (t *tx) Rules() ([]policy.Rule, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Rule](t.root.Bucket(bktRules), "rule")
}
