package policy

import (
	"fmt"
	"strings"
)

// MailingList is a user group's mailing list: a set of subscribers who may
// or may not be members of the group. Subscribers come from directory
// groups (every active user they list, nested groups included, as the
// directory says) and from addresses entered by hand or imported. An
// address that is a user's e-mail counts as that user, so one person on
// the list twice counts once.
type MailingList struct {
	// DirGroups are directory groups (LDAP or SCIM) whose users are
	// subscribed.
	DirGroups []DirGroupID `json:"dirGroups,omitempty"`
	// Addresses are subscribers entered by hand or imported.
	Addresses []Subscriber `json:"addresses,omitempty"`
}

// Subscriber is one address on a mailing list.
type Subscriber struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	// Source is "manual" or "import".
	Source string `json:"source,omitempty"`
}

// Subscriber sources.
const (
	SubscriberManual = "manual"
	SubscriberImport = "import"
)

// MaxSubscribers bounds the addresses of a mailing list; MaxListDirGroups
// its directory groups.
const (
	MaxSubscribers   = 20000
	MaxListDirGroups = 100
)

// FoldAddress returns the form of an e-mail address under which it is
// compared: trimmed and lower-cased.
func FoldAddress(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// ValidateMailingList checks a mailing list: bounded, every address of the
// form local@domain, no address twice.
func ValidateMailingList(l MailingList) error {
	if len(l.Addresses) > MaxSubscribers {
		return &LimitError{Field: "mailingList.addresses", Limit: LimitCount, Max: MaxSubscribers}
	}
	if len(l.DirGroups) > MaxListDirGroups {
		return &LimitError{Field: "mailingList.dirGroups", Limit: LimitCount, Max: MaxListDirGroups}
	}
	seen := make(map[string]bool, len(l.Addresses))
	for i, a := range l.Addresses {
		f := fmt.Sprintf("mailingList.addresses[%d]", i)
		if err := checkLens(MaxNameBytes, f+".address", a.Address, f+".name", a.Name, f+".source", a.Source); err != nil {
			return err
		}
		addr := FoldAddress(a.Address)
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n,;<>") {
			return fmt.Errorf("%w: %s: %q is not an e-mail address", ErrInvalid, f, a.Address)
		}
		if seen[addr] {
			return fmt.Errorf("%w: %s: %q is on the list twice", ErrInvalid, f, a.Address)
		}
		seen[addr] = true
		switch a.Source {
		case "", SubscriberManual, SubscriberImport:
		default:
			return fmt.Errorf("%w: %s: source %q is not manual or import", ErrInvalid, f, a.Source)
		}
	}
	for i, d := range l.DirGroups {
		if err := checkLen(fmt.Sprintf("mailingList.dirGroups[%d]", i), string(d), MaxNameBytes); err != nil {
			return err
		}
	}
	return nil
}
