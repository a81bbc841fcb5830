package scim

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// groupType is the resourceType of /Groups.
type groupType struct{ s *Server }

func (groupType) core() string     { return GroupSchema }
func (groupType) endpoint() string { return "Groups" }
func (groupType) noun() string     { return typeGroup }

// res renders g for tenant t.
func (gt groupType) res(t policy.TenantID, g policy.DirGroup) map[string]any {
	return groupToSCIM(g, func(endpoint, id string) string { return gt.s.location(t, endpoint, id) })
}

// load reads tenant t's group id: a SCIM 404 when there is none.
func (gt groupType) load(tx store.Tx, t policy.TenantID, id string) (policy.DirGroup, error) {
	g, err := tx.DirGroup(t, policy.DirGroupID(id))
	if isNotFound(err) {
		return g, errNotFound(gt.noun(), id)
	}
	return g, err
}

func (gt groupType) read(tx store.Tx, t policy.TenantID, id string) (map[string]any, uint64, error) {
	g, err := gt.load(tx, t, id)
	if err != nil {
		return nil, 0, err
	}
	return gt.res(t, g), g.Version, nil
}

func (gt groupType) create(tx store.Tx, r request, body map[string]any) (map[string]any, uint64, string, error) {
	g, err := groupFromSCIM(tx, r.tenant, body, nil)
	if err != nil {
		return nil, 0, "", err
	}
	if err := checkGroupName(tx, r.tenant, g.DisplayName, ""); err != nil {
		return nil, 0, "", err
	}
	g.Tenant, g.Source = r.tenant, r.actor()
	c, err := tx.CreateDirGroup(r.tenant, g)
	if err != nil {
		return nil, 0, "", err
	}
	return gt.res(r.tenant, c), c.Version, string(c.ID), nil
}

func (gt groupType) modify(tx store.Tx, r request, id string, change changeFunc) (map[string]any, uint64, error) {
	cur, err := gt.load(tx, r.tenant, id)
	if err != nil {
		return nil, 0, err
	}
	if err := checkIfMatch(r, cur.Version); err != nil {
		return nil, 0, err
	}
	res, err := change(tx, gt.res(r.tenant, cur))
	if err != nil {
		return nil, 0, err
	}
	ng, err := groupFromSCIM(tx, r.tenant, res, knownMembers(cur))
	if err != nil {
		return nil, 0, err
	}
	if err := checkNoCycle(tx, r.tenant, cur.ID, cur.MemberGroups, ng.MemberGroups); err != nil {
		return nil, 0, err
	}
	if policy.FoldName(ng.DisplayName) != policy.FoldName(cur.DisplayName) {
		if err := checkGroupName(tx, r.tenant, ng.DisplayName, cur.ID); err != nil {
			return nil, 0, err
		}
	}
	ng.ID, ng.Tenant, ng.Source, ng.Created, ng.Version = cur.ID, cur.Tenant, cur.Source, cur.Created, cur.Version
	if sameGroup(cur, ng) {
		return gt.res(r.tenant, cur), cur.Version, nil
	}
	up, err := tx.UpdateDirGroup(r.tenant, ng)
	if err != nil {
		return nil, 0, err
	}
	return gt.res(r.tenant, up), up.Version, nil
}

func (gt groupType) each(tx store.Tx, t policy.TenantID, fn func(map[string]any) error) error {
	return tx.ForEachDirGroup(t, func(g policy.DirGroup) error { return fn(gt.res(t, g)) })
}

func (gt groupType) remove(tx store.Tx, r request, id string) error {
	cur, err := gt.load(tx, r.tenant, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, cur.Version); err != nil {
		return err
	}
	return tx.DeleteDirGroup(r.tenant, cur.ID)
}

func (gt groupType) byIndex(tx store.Tx, t policy.TenantID, attr, val string) (cands []map[string]any, ok bool, err error) {
	var gs []policy.DirGroup
	switch attr {
	case "displayname":
		gs, err = tx.DirGroupsByName(t, val)
	case "externalid":
		var g policy.DirGroup
		g, err = tx.DirGroupByExternalID(t, val)
		gs = []policy.DirGroup{g}
	case "id":
		var g policy.DirGroup
		g, err = tx.DirGroup(t, policy.DirGroupID(val))
		gs = []policy.DirGroup{g}
	}
	if isNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	for _, g := range gs {
		cands = append(cands, gt.res(t, g))
	}
	return cands, true, nil
}
