package postgres

// This file holds the bulk creates (store.BulkTx): a directory's first
// load, written with COPY instead of one INSERT per record.

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var _ store.BulkTx = (*tx)(nil)

// CreateUsers implements store.BulkTx: the same checks, rows and audit
// log as one CreateUser per user, in order, with the store asked once per
// kind of key for the whole batch (ids given by the caller, userNames,
// externalIds) and the rows written by one COPY; one audit entry
// (policy.OpCreateBatch) names the users. The checks that need no store
// and the JSON encoding run on every CPU.
func (t *tx) CreateUsers(tenant policy.TenantID, us []policy.User) ([]policy.User, error) {
	if err := t.write(); err != nil {
		return nil, err
	}
	if err := t.tenantExists(tenant); err != nil {
		return nil, err
	}
	out := make([]policy.User, len(us))
	fresh := make([]bool, len(us))
	for i, u := range us {
		if fresh[i] = u.ID == ""; fresh[i] {
			// Assigned in order, so that the ids of a batch ascend
			// like those of successive CreateUser calls.
			u.ID = policy.UserID(store.NewID())
		}
		out[i] = u
	}
	// What a user's own record decides, as CreateUser decides it:
	// refused (pureErr before the store is asked, keyErr after its id),
	// its folded userName, its encoding.
	pureErr := make([]error, len(us))
	keyErr := make([]error, len(us))
	folds := make([]string, len(us))
	enc := make([][]byte, len(us))
	encErr := make([]error, len(us))
	store.Parallel(len(us), func(i int) {
		u := &out[i]
		if _, err := store.NewUser(tenant, u, t.now, checkID); err != nil {
			pureErr[i] = err
			return
		}
		folds[i] = policy.FoldUserName(u.UserName)
		if !text(folds[i]) || !text(u.ExternalID) {
			keyErr[i] = fmt.Errorf("postgres: userName or externalId contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
			return
		}
		enc[i], encErr[i] = encode(*u, "user")
	})
	// What the store holds, asked once for the whole batch.
	var askIDs, askNames, askExts []string
	for i := range out {
		if pureErr[i] != nil {
			continue
		}
		if !fresh[i] { // a new v7 id is unique (see store.NewID)
			askIDs = append(askIDs, string(out[i].ID))
		}
		if keyErr[i] == nil {
			askNames = append(askNames, folds[i])
			if out[i].ExternalID != "" {
				askExts = append(askExts, out[i].ExternalID)
			}
		}
	}
	idsTaken, err := t.idsTaken(askIDs)
	if err != nil {
		return nil, err
	}
	namesTaken, err := t.present("user keys", `SELECT name_fold FROM users WHERE tenant = $1 AND name_fold = ANY($2)`, tenant, askNames)
	if err != nil {
		return nil, err
	}
	extsTaken, err := t.present("user keys", `SELECT external_id FROM users WHERE tenant = $1 AND external_id = ANY($2)`, tenant, askExts)
	if err != nil {
		return nil, err
	}
	// What the store and the users before decide, in order, as CreateUser
	// would: the first refused user ends the batch.
	n := len(us)
	var refused error
	for i := range out {
		u := &out[i]
		err := pureErr[i]
		if err == nil && !fresh[i] && idsTaken[string(u.ID)] {
			err = fmt.Errorf("postgres: user id %s: %w", u.ID, store.ErrExists)
		}
		if err == nil {
			err = keyErr[i]
		}
		if err == nil && namesTaken[folds[i]] {
			err = fmt.Errorf("postgres: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
		}
		if err == nil && u.ExternalID != "" && extsTaken[u.ExternalID] {
			err = fmt.Errorf("postgres: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
		}
		if err == nil {
			err = encErr[i]
		}
		if err != nil {
			n, refused = i, &store.BulkError{Index: i, Err: err}
			break
		}
		idsTaken[string(u.ID)] = true
		namesTaken[folds[i]] = true
		if u.ExternalID != "" {
			extsTaken[u.ExternalID] = true
		}
	}
	out = out[:n]
	rows := make([][]any, n)
	for i := range out {
		u := &out[i]
		rows[i] = []any{string(u.ID), string(tenant), folds[i], nullable(u.ExternalID), enc[i]}
	}
	if err := t.copyRows("create users", "users", []string{"id", "tenant", "name_fold", "external_id", "data"}, rows); err != nil {
		return nil, err
	}
	ids := make([]string, n)
	for i := range out {
		ids[i] = string(out[i].ID)
	}
	if err := t.journal.CreatedBatch(policy.KindUser, tenant, ids, enc, func(i int) any { return out[i] }); err != nil {
		return nil, err
	}
	if refused != nil {
		return out, refused
	}
	return out, nil
}

// CreateDirGroups implements store.BulkTx: the same checks, rows and
// audit log as one CreateDirGroup per group, in order (a group may list
// groups created before it in the same call), with the store asked once
// per kind of key and once for the members of the whole batch, and the
// groups and their reverse-membership rows written by one COPY each; one
// audit entry (policy.OpCreateBatch) names the groups.
func (t *tx) CreateDirGroups(tenant policy.TenantID, gs []policy.DirGroup) ([]policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return nil, err
	}
	if err := t.dgScope(tenant); err != nil {
		return nil, err
	}
	out := make([]policy.DirGroup, len(gs))
	fresh := make([]bool, len(gs))
	for i, g := range gs {
		if fresh[i] = g.ID == ""; fresh[i] {
			g.ID = policy.DirGroupID(store.NewID())
		}
		out[i] = g
	}
	pureErr := make([]error, len(gs))
	extErr := make([]error, len(gs))
	enc := make([][]byte, len(gs))
	encErr := make([]error, len(gs))
	store.Parallel(len(gs), func(i int) {
		g := &out[i]
		if _, err := store.NewDirGroup(tenant, g, t.now, checkID); err != nil {
			pureErr[i] = err
			return
		}
		if !text(policy.FoldName(g.DisplayName)) {
			pureErr[i] = fmt.Errorf("postgres: directory group name contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
			return
		}
		if !text(g.ExternalID) {
			extErr[i] = fmt.Errorf("postgres: directory group externalId contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
			return
		}
		enc[i], encErr[i] = encode(*g, "directory group")
	})
	var askIDs, askExts, askUsers, askGroups []string
	for i := range out {
		g := &out[i]
		if pureErr[i] != nil {
			continue
		}
		if !fresh[i] {
			askIDs = append(askIDs, string(g.ID))
		}
		if extErr[i] != nil {
			continue
		}
		if g.ExternalID != "" {
			askExts = append(askExts, g.ExternalID)
		}
		for _, u := range g.MemberUsers {
			if u != "" && text(string(u)) {
				askUsers = append(askUsers, string(u))
			}
		}
		for _, m := range g.MemberGroups {
			if m != "" && text(string(m)) {
				askGroups = append(askGroups, string(m))
			}
		}
	}
	idsTaken, err := t.idsTaken(askIDs)
	if err != nil {
		return nil, err
	}
	extsTaken, err := t.present("directory group externalId", `SELECT external_id FROM dirgroups WHERE tenant = $1 AND external_id = ANY($2)`, tenant, askExts)
	if err != nil {
		return nil, err
	}
	usersIn, err := t.present("members", `SELECT id FROM users WHERE tenant = $1 AND id = ANY($2)`, tenant, askUsers)
	if err != nil {
		return nil, err
	}
	groupsIn, err := t.present("members", `SELECT id FROM dirgroups WHERE tenant = $1 AND id = ANY($2)`, tenant, askGroups)
	if err != nil {
		return nil, err
	}
	n := len(gs)
	var refused error
	for i := range out {
		g := &out[i]
		err := pureErr[i]
		if err == nil && !fresh[i] && idsTaken[string(g.ID)] {
			err = fmt.Errorf("postgres: directory group id %s: %w", g.ID, store.ErrExists)
		}
		if err == nil {
			err = extErr[i]
		}
		if err == nil && g.ExternalID != "" && extsTaken[g.ExternalID] {
			err = fmt.Errorf("postgres: directory group externalId %q in tenant %q: %w", g.ExternalID, tenant, store.ErrExists)
		}
		if err == nil {
			for _, u := range g.MemberUsers {
				if !usersIn[string(u)] {
					err = fmt.Errorf("postgres: member user %q of directory group %s in tenant %q: %w", u, g.ID, g.Tenant, store.ErrNotFound)
					break
				}
			}
		}
		if err == nil {
			for _, m := range g.MemberGroups {
				if !groupsIn[string(m)] {
					err = fmt.Errorf("postgres: member group %q of directory group %s in tenant %q: %w", m, g.ID, g.Tenant, store.ErrNotFound)
					break
				}
			}
		}
		if err == nil {
			err = encErr[i]
		}
		if err != nil {
			n, refused = i, &store.BulkError{Index: i, Err: err}
			break
		}
		// Later groups of the batch may list this one; its id and
		// externalId are taken.
		idsTaken[string(g.ID)] = true
		groupsIn[string(g.ID)] = true
		if g.ExternalID != "" {
			extsTaken[g.ExternalID] = true
		}
	}
	out = out[:n]
	rows := make([][]any, n)
	nm := 0
	for i := range out {
		g := &out[i]
		rows[i] = []any{string(g.ID), string(tenant), policy.FoldName(g.DisplayName), nullable(g.ExternalID), enc[i]}
		nm += len(g.MemberUsers) + len(g.MemberGroups)
	}
	if err := t.copyRows("create directory groups", "dirgroups", []string{"id", "tenant", "name_fold", "external_id", "data"}, rows); err != nil {
		return nil, err
	}
	// The member lists are unique (store.PrepareDirGroup) and the groups
	// new, so no reverse row exists yet (group_id references dirgroups).
	members := make([][]any, 0, nm)
	tn := string(tenant)
	for i := range out {
		g := &out[i]
		for _, u := range g.MemberUsers {
			members = append(members, []any{tn, string(u), string(g.ID)})
		}
		for _, m := range g.MemberGroups {
			members = append(members, []any{tn, string(m), string(g.ID)})
		}
	}
	if err := t.copyRows("reverse membership", "dg_members", []string{"tenant", "member", "group_id"}, members); err != nil {
		return nil, err
	}
	ids := make([]string, n)
	for i := range out {
		ids[i] = string(out[i].ID)
	}
	if err := t.journal.CreatedBatch(policy.KindDirGroup, tenant, ids, enc, func(i int) any { return out[i] }); err != nil {
		return nil, err
	}
	if refused != nil {
		return out, refused
	}
	return out, nil
}

// idsTaken returns which of ids (each accepted by checkID) are used by a
// user or a directory group (they share one id space).
func (t *tx) idsTaken(ids []string) (map[string]bool, error) {
	taken := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return taken, nil
	}
	got, err := t.strings("id", `SELECT id FROM users WHERE id = ANY($1) UNION ALL SELECT id FROM dirgroups WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range got {
		taken[id] = true
	}
	return taken, nil
}

// present returns which of keys (each valid text) the query, given the
// tenant and keys, finds: a set to look a batch's keys up in.
func (t *tx) present(what, sql string, tenant policy.TenantID, keys []string) (map[string]bool, error) {
	found := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	got, err := t.strings(what, sql, string(tenant), keys)
	if err != nil {
		return nil, err
	}
	for _, k := range got {
		found[k] = true
	}
	return found, nil
}

// copyRows writes rows into table's columns with one COPY.
func (t *tx) copyRows(what, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := t.pg.CopyFrom(t.ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		return t.fail(what, err)
	}
	return nil
}
