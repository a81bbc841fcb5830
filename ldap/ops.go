package ldap

// This file holds the op executor: a run's writes (ops), applied in batches, in bulk for a first load, with results recorded per op.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

type opKind int

const (
	opCreateUser opKind = iota
	opUpdateUser
	opDeleteUser
	opCreateGroup
	opUpdateGroup
	opDeleteGroup
	opPutDN
	opDelDN
	opDeactivateUser // an approved deactivation: the stored user made inactive
)

// op is one write of a run.
type op struct {
	kind        opKind
	user        policy.User
	group       policy.DirGroup
	key, val    string
	deactivates bool
	quiet       bool // not counted (second pass over a group just created)
	// opUpdateGroup: header sets the name and DN of group; delta changes
	// the member lists.
	header bool
	delta  *memberDelta
	// members weighs a group op whose member lists are not in group: a
	// create resolved in its transaction (dg), a delete.
	members int
	dg      *dirGroup // opCreateGroup: the directory's group
	// pre is an opCreateGroup's group resolved when it was planned, with
	// the id chosen then (preIDs); preFinal says it has all its members
	// (desiredGroupFinal).
	pre      *policy.DirGroup
	preFinal bool
}

func (o op) String() string {
	switch o.kind {
	case opCreateUser, opUpdateUser, opDeleteUser, opDeactivateUser:
		return fmt.Sprintf("user %q (%s)", o.user.UserName, o.user.ExternalID)
	case opCreateGroup, opUpdateGroup, opDeleteGroup:
		return fmt.Sprintf("group %q (%s)", o.group.DisplayName, o.group.ExternalID)
	}
	return "dn index " + o.key
}

// opResult is what done needs of a written op. It is small: apply makes
// one per op of a batch (a first load's batch of 10,000 users is 20,000
// ops with their DN index entries), where copies of whole records made
// 84 MB of garbage per 100,000 users.
type opResult struct {
	user  createdUser      // opCreateUser
	group *policy.DirGroup // group ops: the group as written
	final bool             // a created group has all its members (desiredGroupFinal)
}

// createdUser names a user an op created.
type createdUser struct {
	id  policy.UserID
	ext string
}

type opError struct {
	i   int
	err error
}

func (e *opError) Error() string { return e.err.Error() }

func (e *opError) Unwrap() error { return e.err }

// exec performs o in tx, leaving what done needs in res.
func (r *run) exec(tx store.Tx, o op, res *opResult) error {
	t := r.s.tenant
	var err error
	switch o.kind {
	case opCreateUser:
		var u policy.User
		u, err = tx.CreateUser(t, o.user)
		res.user = createdUser{id: u.ID, ext: u.ExternalID}
	case opUpdateUser:
		var cur policy.User
		cur, err = tx.User(t, o.user.ID)
		if err != nil {
			break
		}
		if cur.Version != o.user.Version {
			err = fmt.Errorf("ldap: user %s changed since this run read it: %w", cur.ID, store.ErrVersion)
			break
		}
		_, err = tx.UpdateUser(t, mergeUser(cur, o.user, r.s.mapsLocation(), r.s.dir.Attributes.Phone != ""))
	case opDeleteUser:
		err = tx.DeleteUser(t, o.user.ID)
	case opCreateGroup:
		d := o.group
		if o.pre != nil {
			d, res.final = r.withoutRefused(*o.pre, o.preFinal)
		} else if o.dg != nil {
			d, res.final = r.desiredGroupFinal(*o.dg)
		}
		var g policy.DirGroup
		g, err = tx.CreateDirGroup(t, d)
		if err == nil {
			res.group = &g
			if r.txGroupID == nil {
				r.txGroupID = map[string]policy.DirGroupID{}
			}
			r.txGroupID[g.ExternalID] = g.ID
		}
	case opDeactivateUser:
		var cur policy.User
		cur, err = tx.User(t, o.user.ID)
		if err != nil || !cur.Active {
			break
		}
		cur.Active = false
		_, err = tx.UpdateUser(t, cur)
	case opUpdateGroup:
		if d := o.delta; d != nil && !o.header && !o.quiet {
			// Only members change: one delta write, at the cost of the
			// change (the group is not read). A group created earlier in
			// this run (quiet) is filled in by the general path below.
			var mr store.MemberResult
			mr, err = store.ChangeMembers(tx, t, o.group.ID, d.update())
			g := o.group
			g.Version, g.Updated = mr.Version, mr.Updated
			res.group = &g
			break
		}
		var cur policy.DirGroup
		cur, err = tx.DirGroup(t, o.group.ID)
		if err != nil {
			break
		}
		nu := cur
		if o.header {
			nu.DisplayName = o.group.DisplayName
			nu.Attributes = make(map[string]any, len(cur.Attributes)+1)
			for k, v := range cur.Attributes {
				nu.Attributes[k] = v
			}
			nu.Attributes[attrDN] = o.group.Attributes[attrDN]
		}
		if d := o.delta; d != nil {
			nu.MemberUsers = applyDelta(cur.MemberUsers, d.addUsers, d.delUsers)
			nu.MemberGroups = applyDelta(cur.MemberGroups, d.addGroups, d.delGroups)
		}
		var g policy.DirGroup
		g, err = tx.UpdateDirGroup(t, nu)
		res.group = &g
	case opDeleteGroup:
		err = tx.DeleteDirGroup(t, o.group.ID)
	case opPutDN:
		err = tx.PutRecord(DNNamespace, o.key, []byte(o.val))
	case opDelDN:
		err = tx.DeleteRecord(DNNamespace, o.key)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	return err
}

// createUsers writes the new users of chunk together (store.CreateUsers:
// a first load), before its other ops, which do not depend on them, and
// reports whether it did. A refused user is reported as an *opError at its
// place in chunk.
func (r *run) createUsers(tx store.Tx, chunk []op, res []opResult) (bool, error) {
	var at []int
	for i, o := range chunk {
		if o.kind == opCreateUser {
			at = append(at, i)
		}
	}
	if len(at) < 2 {
		return false, nil
	}
	us := make([]policy.User, len(at))
	for k, i := range at {
		us[k] = chunk[i].user
	}
	out, err := store.CreateUsers(tx, r.s.tenant, us)
	for k, u := range out {
		res[at[k]] = opResult{user: createdUser{id: u.ID, ext: u.ExternalID}}
	}
	if be, ok := store.AsBulkError(err); ok {
		return true, &opError{i: at[be.Index], err: be.Err}
	}
	return true, err
}

// createGroups writes the new groups of chunk together
// (store.CreateDirGroups: a first load) and reports whether it did. Their
// ids are chosen here, so that each group's members are resolved, as exec
// does one create at a time, with the groups created before it in the
// transaction. A refused group is reported as an *opError at its place in
// chunk.
func (r *run) createGroups(tx store.Tx, chunk []op, res []opResult) (bool, error) {
	var at []int
	for i, o := range chunk {
		if o.kind == opCreateGroup {
			at = append(at, i)
		}
	}
	if len(at) < 2 {
		return false, nil
	}
	if r.txGroupID == nil {
		r.txGroupID = map[string]policy.DirGroupID{}
	}
	// Every group of the batch gets its id first, and its members are
	// resolved on every CPU (the maps are only read meanwhile); then a
	// group keeps only the member groups created before it, as if they
	// had been resolved one create at a time.
	gs := make([]policy.DirGroup, len(at))
	final := make([]bool, len(at))
	if chunk[at[0]].pre != nil {
		// Resolved when planned (planGroups), ids included.
		for k, i := range at {
			gs[k], final[k] = r.withoutRefused(*chunk[i].pre, chunk[i].preFinal)
		}
		return r.createDirGroups(tx, chunk, res, at, gs, final)
	}
	ids := make([]policy.DirGroupID, len(at))
	pos := make(map[policy.DirGroupID]int, len(at))
	for k, i := range at {
		ids[k] = policy.DirGroupID(uuid.Must(uuid.NewV7()).String())
		pos[ids[k]] = k
		r.txGroupID[chunk[i].group.ExternalID] = ids[k]
	}
	store.Parallel(len(at), func(k int) {
		o := chunk[at[k]]
		gs[k] = o.group
		if o.dg != nil {
			gs[k], final[k] = r.desiredGroupFinal(*o.dg)
		}
	})
	for k := range gs {
		n := len(gs[k].MemberGroups)
		gs[k].MemberGroups = slices.DeleteFunc(gs[k].MemberGroups, func(m policy.DirGroupID) bool {
			p, inBatch := pos[m]
			return inBatch && p >= k
		})
		if len(gs[k].MemberGroups) < n {
			final[k] = false
		}
		gs[k].ID = ids[k]
	}
	return r.createDirGroups(tx, chunk, res, at, gs, final)
}

// createDirGroups writes gs, the new groups at the positions at of chunk,
// with one store.CreateDirGroups.
func (r *run) createDirGroups(tx store.Tx, chunk []op, res []opResult, at []int, gs []policy.DirGroup, final []bool) (bool, error) {
	out, err := store.CreateDirGroups(tx, r.s.tenant, gs)
	for k := range out {
		res[at[k]] = opResult{group: &out[k], final: final[k]}
	}
	if be, ok := store.AsBulkError(err); ok {
		return true, &opError{i: at[be.Index], err: be.Err}
	}
	return true, err
}

// done accounts for a committed write.
func (r *run) done(o op, res opResult) {
	switch o.kind {
	case opCreateUser:
		if !r.preIDs {
			// With preIDs the id is in userID since it was chosen;
			// userID is then only read meanwhile (see full).
			r.userID[res.user.ext] = res.user.id
		}
		r.st.Users.Created++
	case opUpdateUser:
		r.st.Users.Updated++
		if o.deactivates {
			r.st.Users.Deactivated++
		}
	case opDeleteUser:
		r.st.Users.Deleted++
		r.st.Memberships.Removed += o.members // the store drops them with the user
	case opDeactivateUser:
		r.st.Users.Updated++
		r.st.Users.Deactivated++
	case opCreateGroup:
		g := res.group
		r.groupID[g.ExternalID] = g.ID
		r.curGroups[g.ExternalID] = *g
		if res.final {
			r.finalGroups[g.ExternalID] = true
		}
		delete(r.oldMembers, g.ExternalID)
		r.st.Groups.Created++
		r.st.Memberships.Added += len(g.MemberUsers) + len(g.MemberGroups)
	case opUpdateGroup:
		if g := res.group; g != nil && g.ExternalID != "" {
			r.curGroups[g.ExternalID] = *g
			delete(r.oldMembers, g.ExternalID)
		}
		if !o.quiet {
			r.st.Groups.Updated++
		}
		if d := o.delta; d != nil {
			r.st.Memberships.Added += len(d.addUsers) + len(d.addGroups)
			r.st.Memberships.Removed += len(d.delUsers) + len(d.delGroups)
		}
	case opDeleteGroup:
		r.st.Groups.Deleted++
		r.st.Memberships.Removed += o.members
	}
}

// recordable reports whether a store error concerns one record (and the
// run may go on without it) rather than the store as a whole.
func recordable(err error) bool {
	return errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) ||
		errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrInUse) || errors.Is(err, policy.ErrInvalid)
}

// apply writes ops in batches of BatchSize, one store.Update each. A
// record the store refuses is reported in the status and the rest of its
// batch is written without it.
func (r *run) apply(ctx context.Context, ops []op) error {
	if r.dry != nil {
		for _, o := range ops {
			r.done(o, r.simulate(o))
		}
		return nil
	}
	for len(ops) > 0 {
		// A batch holds BatchSize records, or fewer when groups bring
		// many members: each member is an index entry too, and very
		// large bbolt transactions get slow.
		limit := r.batch
		maxWeight := 4 * limit
		if limit > r.s.batch {
			// A first load ramps up to the bulk batch size: bbolt
			// splits nodes only at commit, so thousands of random
			// keys put into a still empty bucket would pile into one
			// node, each insertion moving the ones after it.
			// New groups are written in bulk (store.CreateDirGroups),
			// each bucket's entries in key order, so they skip the
			// ramp: its first small transaction only added a commit
			// and made the next one interleave its reverse index
			// entries with the first's (100k users, 5,000 groups: the
			// groups written in 2 transactions instead of 3, about
			// 0.1 s sooner).
			if ops[0].kind != opCreateGroup {
				limit = min(limit, max(r.s.batch, r.ramp/2))
			}
			// Its groups weigh mostly member keys (put in key order),
			// and the reverse membership index they write spans every
			// user: each transaction rewrites most of its pages, so
			// fewer, larger ones write less (100k users, 5,000 groups:
			// 237 MiB written instead of 322).
			maxWeight = 16 * limit
		}
		n, records, weight := 0, 0, 0
		for n < len(ops) && records < limit && weight < maxWeight {
			weight += 1 + len(ops[n].group.MemberUsers) + len(ops[n].group.MemberGroups) + ops[n].members
			if ops[n].kind != opPutDN && ops[n].kind != opDelDN {
				records++
			}
			n++
		}
		chunk := ops[:n]
		res := make([]opResult, n)
		err := r.s.st.Update(ctx, r.s.source, func(tx store.Tx) error {
			clear(r.txGroupID)
			users, err := r.createUsers(tx, chunk, res)
			if err != nil {
				return err
			}
			groups, err := r.createGroups(tx, chunk, res)
			if err != nil {
				return err
			}
			for i, o := range chunk {
				if o.kind == opCreateUser && users || o.kind == opCreateGroup && groups {
					continue
				}
				res[i] = opResult{}
				if err := r.exec(tx, o, &res[i]); err != nil {
					return &opError{i: i, err: err}
				}
			}
			return nil
		})
		clear(r.txGroupID) // committed: now in groupID (done); or rolled back
		if err == nil {
			for i, o := range chunk {
				r.done(o, res[i])
			}
			r.s.prog.update(func(p *Progress) { p.Written += records })
			r.ramp += weight
			ops = ops[n:]
			continue
		}
		var oe *opError
		if !errors.As(err, &oe) || !recordable(err) {
			return fmt.Errorf("ldap[%s]: store: %w", r.s.dir.ID, err)
		}
		// Write what preceded the refused record, report it, go on.
		if err := r.apply(ctx, chunk[:oe.i]); err != nil {
			return err
		}
		bad := chunk[oe.i]
		r.refused(bad)
		kind := &r.st.Users
		if bad.kind == opCreateGroup || bad.kind == opUpdateGroup || bad.kind == opDeleteGroup {
			kind = &r.st.Groups
		}
		r.recordErr(kind, fmt.Sprintf("%s: %v", bad, oe.err))
		ops = ops[oe.i+1:]
	}
	return nil
}

// refused notes a create the store refused whose id was chosen in
// advance (preIDs): the groups resolved with it leave it out
// (withoutRefused).
func (r *run) refused(o op) {
	switch {
	case o.kind == opCreateUser && o.user.ID != "" && r.preIDs:
		if r.refusedUsers == nil {
			r.refusedUsers = map[policy.UserID]string{}
		}
		r.refusedUsers[o.user.ID] = o.user.ExternalID
	case o.kind == opCreateGroup && o.pre != nil:
		if r.refusedGroups == nil {
			r.refusedGroups = map[policy.DirGroupID]bool{}
		}
		r.refusedGroups[o.pre.ID] = true
	}
}

// withoutRefused returns g, resolved in advance, without the members
// whose creates the store refused since: a user is left out, as
// desiredGroupFinal leaves out a user it does not know; a group too, and
// g is then not final, as when desiredGroupFinal meets a group without
// an id.
func (r *run) withoutRefused(g policy.DirGroup, final bool) (policy.DirGroup, bool) {
	if len(r.refusedUsers) > 0 && slices.ContainsFunc(g.MemberUsers, func(u policy.UserID) bool { _, ok := r.refusedUsers[u]; return ok }) {
		g.MemberUsers = slices.DeleteFunc(slices.Clone(g.MemberUsers), func(u policy.UserID) bool { _, ok := r.refusedUsers[u]; return ok })
	}
	if len(r.refusedGroups) > 0 && slices.ContainsFunc(g.MemberGroups, func(m policy.DirGroupID) bool { return r.refusedGroups[m] }) {
		g.MemberGroups = slices.DeleteFunc(slices.Clone(g.MemberGroups), func(m policy.DirGroupID) bool { return r.refusedGroups[m] })
		final = false
	}
	return g, final
}
