package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonreq"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// SCIM schema URNs (RFC 7643 §8.7.1, RFC 7644 §3.5.2).
const (
	schemaUser  = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaPatch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimJSON    = "application/scim+json"
)

func trimSlash(s string) string { return strings.TrimRight(s, "/") }

// scimClient is a small SCIM 2.0 client (RFC 7644): what the push needs
// and nothing more.
type scimClient struct {
	base  string
	token string
	http  *http.Client
	// discovered from /ServiceProviderConfig (RFC 7643 §5)
	known bool
	patch bool
}

// do sends a request; a status other than 2xx is a *StatusError.
func (c *scimClient) do(ctx context.Context, method, path string, in, out any) error {
	req, err := jsonreq.New(ctx, method, c.base+path, c.token, scimJSON, in)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", scimJSON)
	req.Header.Set("User-Agent", "roster-outbound")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("outbound: scim %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("outbound: scim %s %s: %w", method, path, &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))})
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
			return fmt.Errorf("outbound: scim %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func statusIs(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// discover reads the target's capabilities once.
func (c *scimClient) discover(ctx context.Context) error {
	if c.known {
		return nil
	}
	var spc struct {
		Patch struct {
			Supported bool `json:"supported"`
		} `json:"patch"`
	}
	err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, &spc)
	if err != nil && !statusIs(err, http.StatusNotFound) {
		return err
	}
	c.known, c.patch = true, spc.Patch.Supported
	return nil
}

// find returns the id of the resource whose attr equals value, or "".
func (c *scimClient) find(ctx context.Context, endpoint, attr, value string) (string, error) {
	q := url.Values{"filter": {fmt.Sprintf("%s eq %q", attr, value)}}
	var lr struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	if err := c.do(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil, &lr); err != nil {
		return "", err
	}
	if len(lr.Resources) == 0 {
		return "", nil
	}
	return lr.Resources[0].ID, nil
}

// create POSTs a resource; when the target already has one with the same
// unique attribute (409), it adopts that one and replaces it.
func (c *scimClient) create(ctx context.Context, endpoint, attr, value string, res map[string]any) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, endpoint, res, &created)
	if err == nil {
		if created.ID == "" {
			return "", fmt.Errorf("outbound: scim POST %s: no id in the answer", endpoint)
		}
		return created.ID, nil
	}
	if !statusIs(err, http.StatusConflict) {
		return "", err
	}
	id, ferr := c.find(ctx, endpoint, attr, value)
	if ferr != nil || id == "" {
		return "", errors.Join(err, ferr)
	}
	return id, c.do(ctx, http.MethodPut, endpoint+"/"+id, res, nil)
}

// remoteUser is what the target holds of a pushed user.
type remoteUser struct {
	ID     string          `json:"id"`
	Hash   string          `json:"hash"`
	Active bool            `json:"active"`
	Repr   json.RawMessage `json:"repr"`
}

// remoteGroup is what the target holds of a pushed group.
type remoteGroup struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"` // target ids, sorted
}

func userKey(target string, u policy.UserID) string   { return "scim/" + target + "/u/" + string(u) }
func groupKey(target string, g policy.GroupID) string { return "scim/" + target + "/g/" + string(g) }

// userRepr is the SCIM representation of u (RFC 7643 §4.1); externalId
// is Roster's id, so the target's records can be traced back.
func userRepr(u policy.User, active bool) map[string]any {
	r := map[string]any{
		"schemas":    []string{schemaUser},
		"userName":   u.UserName,
		"externalId": string(u.ID),
		"active":     active,
	}
	if u.GivenName != "" || u.FamilyName != "" {
		r["name"] = map[string]string{"givenName": u.GivenName, "familyName": u.FamilyName}
	}
	if u.DisplayName != "" {
		r["displayName"] = u.DisplayName
	}
	if len(u.Emails) > 0 {
		r["emails"] = u.Emails
	}
	return r
}

func hashOf(v any) (string, json.RawMessage) {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16]), b
}

// desired is what a SCIM target should hold.
type desired struct {
	users  map[policy.UserID]policy.User
	groups map[policy.GroupID]desiredGroup
}

type desiredGroup struct {
	name    string
	members []policy.UserID
}

// want computes the selected groups (the root and its descendants) and
// their effective members, from the engine.
func (t *target) want(ctx context.Context) (desired, error) {
	d := desired{users: map[policy.UserID]policy.User{}, groups: map[policy.GroupID]desiredGroup{}}
	eng := t.svc.cfg.Engine
	var root policy.Group
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		root, err = tx.GroupBySlug(t.cfg.Groups.Root)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return d, nil // nothing to push (yet): everything pushed goes
	}
	if err != nil {
		return d, err
	}
	ids := map[policy.UserID]bool{}
	queue := []policy.GroupID{root.ID}
	for len(queue) > 0 {
		gid := queue[0]
		queue = queue[1:]
		g, ok := eng.Group(gid)
		if !ok {
			continue
		}
		name := g.Slug
		if t.cfg.GroupName == "name" {
			name = g.Name
		}
		var ms []policy.UserID
		for _, m := range eng.Members(gid) {
			if !slices.Contains(ms, m.User) {
				ms = append(ms, m.User)
			}
			ids[m.User] = true
		}
		d.groups[gid] = desiredGroup{name: name, members: ms}
		queue = append(queue, eng.Children(gid)...)
	}
	err = t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		for id := range ids {
			for _, tn := range ts {
				u, err := tx.User(tn.ID, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if u.Active {
					d.users[id] = u
				}
				break
			}
		}
		return nil
	})
	return d, err
}

// reconcile brings the target in line with what it should hold: users
// created or updated, groups created, renamed and given their members,
// groups no longer selected deleted, users no longer selected
// deactivated (within the deletion guard). full sends everything again.
// Each request the target acknowledges is recorded at once, so a failure
// part way resumes where it stopped.
func (t *target) reconcile(ctx context.Context, full bool) error {
	c := t.scim
	if full {
		c.known = false
	}
	if err := c.discover(ctx); err != nil {
		return err
	}
	d, err := t.want(ctx)
	if err != nil {
		return err
	}
	users, groups, err := t.pushed(ctx)
	if err != nil {
		return err
	}
	id := t.cfg.ID
	ok := func() {
		t.mu.Lock()
		t.done++
		t.lastOK = t.svc.cfg.Now()
		t.mu.Unlock()
	}

	// Users: create or update the selected ones.
	uids := sortedKeys(d.users)
	for _, uid := range uids {
		u := d.users[uid]
		repr := userRepr(u, true)
		h, raw := hashOf(repr)
		r, have := users[uid]
		if have && r.Active && r.Hash == h && !full {
			continue
		}
		if have {
			err := c.do(ctx, http.MethodPut, "/Users/"+r.ID, repr, nil)
			if statusIs(err, http.StatusNotFound) {
				have = false
			} else if err != nil {
				return err
			}
		}
		if !have {
			rid, err := c.create(ctx, "/Users", "userName", u.UserName, repr)
			if err != nil {
				return err
			}
			r.ID = rid
		}
		r.Hash, r.Active, r.Repr = h, true, raw
		users[uid] = r
		t.putJSON(userKey(id, uid), r)
		ok()
	}

	// Groups: create, rename, set members.
	for _, gid := range sortedKeys(d.groups) {
		dg := d.groups[gid]
		var members []string
		for _, m := range dg.members {
			if r, ok := users[m]; ok && r.Active {
				if _, sel := d.users[m]; sel {
					members = append(members, r.ID)
				}
			}
		}
		slices.Sort(members)
		rg, have := groups[gid]
		if have && !full && rg.Name == dg.name && slices.Equal(rg.Members, members) {
			continue
		}
		repr := map[string]any{"schemas": []string{schemaGroup}, "displayName": dg.name, "externalId": string(gid), "members": memberRefs(members)}
		if have {
			var err error
			if c.patch && !full && rg.Name == dg.name {
				err = c.do(ctx, http.MethodPatch, "/Groups/"+rg.ID, memberPatch(rg.Members, members), nil)
			} else {
				err = c.do(ctx, http.MethodPut, "/Groups/"+rg.ID, repr, nil)
			}
			if statusIs(err, http.StatusNotFound) {
				have = false
			} else if err != nil {
				return err
			}
		}
		if !have {
			rid, err := c.create(ctx, "/Groups", "displayName", dg.name, repr)
			if err != nil {
				return err
			}
			rg.ID = rid
		}
		rg.Name, rg.Members = dg.name, members
		groups[gid] = rg
		t.putJSON(groupKey(id, gid), rg)
		ok()
	}
	for gid, rg := range groups {
		if _, sel := d.groups[gid]; sel {
			continue
		}
		if err := c.do(ctx, http.MethodDelete, "/Groups/"+rg.ID, nil, nil); err != nil && !statusIs(err, http.StatusNotFound) {
			return err
		}
		t.setRecord(groupKey(id, gid), nil)
		ok()
	}

	// Users no longer selected: deactivate, within the guard.
	var leave []policy.UserID
	active := 0
	for uid, r := range users {
		if !r.Active {
			continue
		}
		active++
		if _, sel := d.users[uid]; !sel {
			leave = append(leave, uid)
		}
	}
	slices.Sort(leave)
	cur, _ := t.snapshot()
	if reason := t.guard(len(leave), active); reason != "" && !cur.Approved {
		t.mu.Lock()
		if t.held == nil {
			t.held = &Held{Since: t.svc.cfg.Now()}
			t.svc.log.Warn("outbound: deletion guard holds deactivations; approve with `roster outbound approve`", "target", id, "users", len(leave), "reason", reason)
		}
		t.held.Users, t.held.Reason = len(leave), reason
		t.mu.Unlock()
		return nil
	}
	for _, uid := range leave {
		r := users[uid]
		var err error
		if c.patch {
			err = c.do(ctx, http.MethodPatch, "/Users/"+r.ID, map[string]any{
				"schemas":    []string{schemaPatch},
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}},
			}, nil)
		} else {
			var repr map[string]any
			if err := json.Unmarshal(r.Repr, &repr); err != nil {
				return fmt.Errorf("outbound: %s: %w", userKey(id, uid), err)
			}
			repr["active"] = false
			err = c.do(ctx, http.MethodPut, "/Users/"+r.ID, repr, nil)
		}
		if err != nil && !statusIs(err, http.StatusNotFound) {
			return err
		}
		r.Active, r.Hash = false, ""
		t.putJSON(userKey(id, uid), r)
		ok()
	}
	t.mu.Lock()
	t.held = nil
	t.mu.Unlock()
	return nil
}

// guard returns why deactivating n of the active pushed users needs an
// approval, or "".
func (t *target) guard(n, active int) string {
	g := t.cfg.DeletionGuard
	switch {
	case n == 0 || g.Count < 0:
		return ""
	case g.Count > 0 && n > g.Count:
		return fmt.Sprintf("%d users would be deactivated, more than deletionGuard.count %d", n, g.Count)
	case g.Share > 0 && float64(n) > g.Share*float64(active):
		return fmt.Sprintf("%d of %d users would be deactivated, more than deletionGuard.share %.0f%%", n, active, g.Share*100)
	}
	return ""
}

func memberRefs(ids []string) []map[string]string {
	out := make([]map[string]string, len(ids))
	for i, id := range ids {
		out[i] = map[string]string{"value": id}
	}
	return out
}

// memberPatch is the PATCH (RFC 7644 §3.5.2) that turns the members old
// into new.
func memberPatch(old, new []string) map[string]any {
	var ops []map[string]any
	var add []string
	for _, m := range new {
		if !slices.Contains(old, m) {
			add = append(add, m)
		}
	}
	if len(add) > 0 {
		ops = append(ops, map[string]any{"op": "add", "path": "members", "value": memberRefs(add)})
	}
	for _, m := range old {
		if !slices.Contains(new, m) {
			ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", m)})
		}
	}
	return map[string]any{"schemas": []string{schemaPatch}, "Operations": ops}
}

// pushed reads what the target was pushed before.
func (t *target) pushed(ctx context.Context) (map[policy.UserID]remoteUser, map[policy.GroupID]remoteGroup, error) {
	users := map[policy.UserID]remoteUser{}
	groups := map[policy.GroupID]remoteGroup{}
	up, gp := "scim/"+t.cfg.ID+"/u/", "scim/"+t.cfg.ID+"/g/"
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		err := tx.ScanRecords(Namespace, up, func(k string, v []byte) error {
			var r remoteUser
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("outbound: %s: %w", k, err)
			}
			users[policy.UserID(strings.TrimPrefix(k, up))] = r
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ScanRecords(Namespace, gp, func(k string, v []byte) error {
			var r remoteGroup
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("outbound: %s: %w", k, err)
			}
			groups[policy.GroupID(strings.TrimPrefix(k, gp))] = r
			return nil
		})
	})
	// Writes not yet committed are newer.
	t.mu.Lock()
	for k, v := range t.overlay() {
		switch {
		case strings.HasPrefix(k, up):
			uid := policy.UserID(strings.TrimPrefix(k, up))
			var r remoteUser
			if v == nil || json.Unmarshal(v, &r) != nil {
				delete(users, uid)
			} else {
				users[uid] = r
			}
		case strings.HasPrefix(k, gp):
			gid := policy.GroupID(strings.TrimPrefix(k, gp))
			var r remoteGroup
			if v == nil || json.Unmarshal(v, &r) != nil {
				delete(groups, gid)
			} else {
				groups[gid] = r
			}
		}
	}
	t.mu.Unlock()
	return users, groups, err
}

// overlay returns the writes not yet committed, newest winning; t.mu is
// held.
func (t *target) overlay() map[string][]byte {
	m := make(map[string][]byte, len(t.pending)+len(t.inflight))
	for k, v := range t.inflight {
		m[k] = v
	}
	for k, v := range t.pending {
		m[k] = v
	}
	return m
}

func (t *target) putJSON(key string, v any) {
	b, _ := json.Marshal(v)
	t.setRecord(key, b)
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// relevant reports whether an audit entry can change what a SCIM target
// holds.
func relevant(e policy.Change) bool {
	switch e.Kind {
	case policy.KindUser, policy.KindDirGroup, policy.KindGroup, policy.KindRole, policy.KindRule, policy.KindMembership, policy.KindTenant:
		return true
	}
	return false
}

// runSCIM is the worker of a SCIM target: whenever relevant entries
// arrive (or a resync is due or asked for), it reconciles the target and
// moves the cursor to the entries it has seen.
func (t *target) runSCIM(ctx context.Context) {
	for {
		ok := t.waitRunnable(ctx, func(c cursor) (bool, time.Duration) {
			if c.Resync || c.Approved || t.svc.applied.Load() > c.After {
				return true, -1
			}
			if t.cfg.ResyncEvery > 0 {
				due := c.LastFull.Add(t.cfg.ResyncEvery).Sub(t.svc.cfg.Now())
				if due <= 0 {
					return true, -1
				}
				return false, due
			}
			return false, -1
		})
		if !ok {
			return
		}
		c, gen := t.snapshot()
		head := t.svc.applied.Load()
		full := c.Resync || (t.cfg.ResyncEvery > 0 && !c.LastFull.Add(t.cfg.ResyncEvery).After(t.svc.cfg.Now()))
		need := full || c.Approved
		after := c.After
		for !need && after < head {
			es, err := t.svc.read(ctx, after)
			if err != nil || len(es) == 0 {
				need = err != nil
				break
			}
			if t.oldestZero() {
				t.setOldest(es[0].Time)
			}
			for _, e := range es {
				if relevant(e) {
					need = true
					break
				}
			}
			after = es[len(es)-1].Seq
		}
		if need {
			err := t.attempt(ctx, gen, "reconcile", func(ctx context.Context) error { return t.reconcile(ctx, full) })
			if err != nil {
				continue
			}
		}
		now := t.svc.cfg.Now()
		t.advance(gen, func(cc *cursor) {
			cc.After, cc.Skip = max(cc.After, head), 0
			if full {
				cc.Resync, cc.LastFull = false, now
			}
			if c.Approved {
				cc.Approved = false
			}
		}, nil)
		t.setOldest(time.Time{})
	}
}

func (t *target) oldestZero() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.oldest.IsZero()
}
