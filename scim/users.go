package scim

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// userType is the resourceType of /Users.
type userType struct{ s *Server }

func (userType) core() string     { return UserSchema }
func (userType) endpoint() string { return "Users" }
func (userType) noun() string     { return typeUser }

// res renders u for tenant t.
func (ut userType) res(t policy.TenantID, u policy.User) map[string]any {
	return userToSCIM(u, ut.s.location(t, "Users", string(u.ID)))
}

// load reads tenant t's user id: a SCIM 404 when there is none.
func (ut userType) load(tx store.Tx, t policy.TenantID, id string) (policy.User, error) {
	u, err := tx.User(t, policy.UserID(id))
	if isNotFound(err) {
		return u, errNotFound(ut.noun(), id)
	}
	return u, err
}

func (ut userType) read(tx store.Tx, t policy.TenantID, id string) (map[string]any, uint64, error) {
	u, err := ut.load(tx, t, id)
	if err != nil {
		return nil, 0, err
	}
	return ut.res(t, u), u.Version, nil
}

func (ut userType) create(tx store.Tx, r request, body map[string]any) (map[string]any, uint64, string, error) {
	u, err := userFromSCIM(body)
	if err != nil {
		return nil, 0, "", err
	}
	if body["active"] == nil { // absent or null: unassigned
		u.Active = true
	}
	u.Tenant, u.Source = r.tenant, r.actor()
	if err := checkEmailDomains(tx, r.tenant, u, nil); err != nil {
		return nil, 0, "", err
	}
	c, err := tx.CreateUser(r.tenant, u)
	if err != nil {
		return nil, 0, "", err
	}
	return ut.res(r.tenant, c), c.Version, string(c.ID), nil
}

func (ut userType) modify(tx store.Tx, r request, id string, change changeFunc) (map[string]any, uint64, error) {
	cur, err := ut.load(tx, r.tenant, id)
	if err != nil {
		return nil, 0, err
	}
	if err := checkIfMatch(r, cur.Version); err != nil {
		return nil, 0, err
	}
	res, err := change(tx, ut.res(r.tenant, cur))
	if err != nil {
		return nil, 0, err
	}
	nu, err := userFromSCIM(res)
	if err != nil {
		return nil, 0, err
	}
	if res["active"] == nil { // absent or null: unassigned
		nu.Active = cur.Active
	}
	nu.ID, nu.Tenant, nu.Source, nu.Created, nu.Version = cur.ID, cur.Tenant, cur.Source, cur.Created, cur.Version
	if err := checkEmailDomains(tx, r.tenant, nu, cur.Emails); err != nil {
		return nil, 0, err
	}
	if sameUser(cur, nu) {
		return ut.res(r.tenant, cur), cur.Version, nil
	}
	up, err := tx.UpdateUser(r.tenant, nu)
	if err != nil {
		return nil, 0, err
	}
	return ut.res(r.tenant, up), up.Version, nil
}

func (ut userType) each(tx store.Tx, t policy.TenantID, fn func(map[string]any) error) error {
	return tx.ForEachUser(t, func(u policy.User) error { return fn(ut.res(t, u)) })
}

func (ut userType) remove(tx store.Tx, r request, id string) error {
	cur, err := ut.load(tx, r.tenant, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, cur.Version); err != nil {
		return err
	}
	return tx.DeleteUser(r.tenant, cur.ID)
}

func (ut userType) byIndex(tx store.Tx, t policy.TenantID, attr, val string) (cands []map[string]any, ok bool, err error) {
	var u policy.User
	switch attr {
	case "emails.value":
		et, ok := tx.(store.EmailTx)
		if !ok {
			return nil, false, nil
		}
		us, err := et.UsersByEmail(t, val)
		if isNotFound(err) {
			return nil, true, nil
		}
		for _, u := range us {
			cands = append(cands, ut.res(t, u))
		}
		return cands, true, err
	case "username":
		u, err = tx.UserByUserName(t, val)
	case "externalid":
		u, err = tx.UserByExternalID(t, val)
	case "id":
		u, err = tx.User(t, policy.UserID(val))
	}
	if isNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	return []map[string]any{ut.res(t, u)}, true, nil
}
