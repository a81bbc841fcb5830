package admin

// Member profiles with consent: each member chooses what the other members
// of their groups see of them (policy.Profile: name, company, e-mail,
// phone; by default name and company). The member listing of a group
// applies it: the member themself, admin tokens and those who manage the
// group's members (its organizers, who also see the work e-mail) see
// more; everyone else sees what was shared. Employees of the vendor are
// marked as such for everyone. Profiles are records (namespace
// "profiles", key the user id), never part of the directory's user
// record, so a sync does not overwrite a choice.

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

const nsProfiles = "profiles"

func (s *Server) profileRoutes() {
	s.handle("GET /api/v1/me/profile", s.getProfile)
	s.handle("PUT /api/v1/me/profile", s.putProfile)
}

func getProfile(tx store.Tx, u policy.UserID) (policy.Profile, error) {
	pr := policy.Profile{User: u}
	b, err := tx.GetRecord(nsProfiles, string(u))
	if errors.Is(err, store.ErrNotFound) {
		return pr, nil
	}
	if err != nil {
		return pr, err
	}
	if err := json.Unmarshal(b, &pr); err != nil {
		return pr, err
	}
	pr.User = u
	return pr, nil
}

// profileView is a profile as its owner sees it: the choice, with the
// default made explicit.
type profileView struct {
	policy.Profile
	Share []policy.ProfileField `json:"share"`
}

func viewProfile(pr policy.Profile) profileView {
	v := profileView{Profile: pr, Share: pr.Share}
	if v.Share == nil {
		v.Share = policy.DefaultShare
	}
	return v
}

// getProfile answers GET /api/v1/me/profile: what the caller shares.
func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (profileView, error) {
		pr, err := getProfile(tx, p.user)
		return viewProfile(pr), err
	})
}

// putProfile answers PUT /api/v1/me/profile {share:[name,company,email,
// phone], email?, phone?}: what the other members of the caller's groups
// see of them.
func (s *Server) putProfile(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	var in struct {
		Share []policy.ProfileField `json:"share"`
		Email string                `json:"email"`
		Phone string                `json:"phone"`
		// Public: named, as an organizer, on public group pages.
		Public bool `json:"public"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	pr := policy.Profile{User: p.user, Share: in.Share, Email: in.Email, Phone: in.Phone, Public: in.Public}
	if pr.Share == nil {
		pr.Share = []policy.ProfileField{}
	}
	if err := policy.ValidateProfile(pr); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (profileView, error) {
		b, err := json.Marshal(pr)
		if err != nil {
			return profileView{}, err
		}
		if err := tx.PutRecord(nsProfiles, string(p.user), b); err != nil {
			return profileView{}, err
		}
		// Audited, without the details themselves.
		if err := tx.Record(p.tenant, policy.OpUpdate, "profile/"+string(p.user), map[string]any{"share": pr.Share, "public": pr.Public}); err != nil {
			return profileView{}, err
		}
		return viewProfile(pr), nil
	})
}

// memberView is one effective member as the caller may see them.
type memberView struct {
	policy.EffectiveMember
	Tenant      policy.TenantID `json:"tenant,omitempty"`
	UserName    string          `json:"userName,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	Company     string          `json:"company,omitempty"`
	Email       string          `json:"email,omitempty"`
	Phone       string          `json:"phone,omitempty"`
	// Vendor marks the vendor's own employees.
	Vendor bool `json:"vendor,omitempty"`
}

// memberFor builds what viewer p sees of member u of a group where p
// organizes (manages the members) or not.
func memberFor(p principal, organizer bool, m policy.EffectiveMember, u policy.User, t policy.Tenant, pr policy.Profile) memberView {
	mv := memberView{EffectiveMember: m, Tenant: u.Tenant, Vendor: t.Kind == policy.TenantVendor}
	all := p.admin || p.user == u.ID
	colleague := !p.admin && p.tenant == u.Tenant
	if all || organizer || colleague {
		mv.UserName = u.UserName
	}
	if all || organizer || colleague || pr.Shares(policy.FieldName) {
		mv.DisplayName = displayName(u)
	}
	if all || organizer || pr.Shares(policy.FieldCompany) {
		mv.Company = t.Name
	}
	switch {
	case all || pr.Shares(policy.FieldEmail):
		mv.Email = pr.Email
		if mv.Email == "" {
			mv.Email = u.PrimaryEmail()
		}
	case organizer:
		mv.Email = u.PrimaryEmail() // the work e-mail: organizers run the group
	}
	if all || pr.Shares(policy.FieldPhone) {
		mv.Phone = pr.Phone
		if mv.Phone == "" {
			mv.Phone = directoryPhone(u)
		}
	}
	if !all && !colleague && !organizer && !pr.Shares(policy.FieldName) {
		mv.Tenant = "" // the company is the member's to share
		if pr.Shares(policy.FieldCompany) {
			mv.Tenant = u.Tenant
		}
	}
	return mv
}

// directoryPhone is the work phone number a directory gave the user: LDAP's
// mapped attribute ("phone"), or SCIM's phoneNumbers (the primary one, else
// the work one, else the first).
func directoryPhone(u policy.User) string {
	if ph, ok := u.Attributes["phone"].(string); ok && ph != "" {
		return ph
	}
	nums, _ := u.Attributes["phoneNumbers"].([]any)
	pick := ""
	for i, n := range nums {
		m, _ := n.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return v
		}
		if t, _ := m["type"].(string); t == "work" || i == 0 && pick == "" {
			pick = v
		}
	}
	return pick
}
