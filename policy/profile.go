package policy

import (
	"fmt"
	"slices"
)

// ProfileField names a part of a member's profile that other members of
// their groups may see.
type ProfileField string

// Profile fields.
const (
	FieldName    ProfileField = "name"
	FieldCompany ProfileField = "company"
	FieldEmail   ProfileField = "email"
	FieldPhone   ProfileField = "phone"
)

// DefaultShare is what other members see of a member who chose nothing:
// their name and their company.
var DefaultShare = []ProfileField{FieldName, FieldCompany}

// Profile is what a member chose to share with the other members of their
// groups, and the contact details they entered. It is the member's own
// record, kept apart from the directory's user record so that a directory
// sync never overwrites a choice.
type Profile struct {
	User UserID `json:"user"`
	// Share lists the fields other members see; nil means DefaultShare,
	// an empty list nothing.
	Share []ProfileField `json:"share"`
	// Email is the address to share ("" : the directory's primary one).
	Email string `json:"email,omitempty"`
	// Phone is the telephone number to share ("" : the directory's).
	Phone string `json:"phone,omitempty"`
	// Public: the member agrees to be named, as an organizer, on the
	// public pages of the public groups they organize, which anyone on
	// the Internet reads. Only their display name is shown. Off unless
	// they turn it on.
	Public bool `json:"public,omitempty"`
}

// Shares reports whether p lets other members see f.
func (p Profile) Shares(f ProfileField) bool {
	if p.Share == nil {
		return slices.Contains(DefaultShare, f)
	}
	return slices.Contains(p.Share, f)
}

// ValidateProfile checks a profile: known fields, bounded details.
func ValidateProfile(p Profile) error {
	for i, f := range p.Share {
		switch f {
		case FieldName, FieldCompany, FieldEmail, FieldPhone:
		default:
			return fmt.Errorf("%w: share[%d] %q is not name, company, email or phone", ErrInvalid, i, f)
		}
	}
	if err := checkLens(MaxNameBytes, "email", p.Email, "phone", p.Phone); err != nil {
		return err
	}
	if p.Email != "" {
		if err := ValidateMailingList(MailingList{Addresses: []Subscriber{{Address: p.Email}}}); err != nil {
			return fmt.Errorf("%w: email %q is not an e-mail address", ErrInvalid, p.Email)
		}
	}
	for _, c := range p.Phone {
		if !(c >= '0' && c <= '9' || c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
			return fmt.Errorf("%w: phone %q: digits, spaces and + - ( ) . only", ErrInvalid, p.Phone)
		}
	}
	return nil
}
