package ldap

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/policy"
)

// pagedSearch runs a subtree search with the simple paged results control
// (RFC 2696) and hands each page to fn. Each page must arrive within the
// directory timeout; fn runs outside that deadline.
func (s *Source) pagedSearch(ctx context.Context, c *searchConn, base, filter string, attrs []string, fn func([]*goldap.Entry) error) error {
	f, err := goldap.CompileFilter(filter)
	if err != nil {
		return s.wrapOp("search "+base, err)
	}
	fb := f.Bytes()
	var cookie []byte
	for {
		page := make([]*goldap.Entry, 0, s.dir.PageSize)
		next, err := c.searchPage(ctx, base, fb, attrs, s.rawAttrs(), s.dir.PageSize, cookie, func(e *goldap.Entry) {
			page = append(page, e)
		})
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ne) && ne.Timeout():
			return s.wrapOp("search "+base, fmt.Errorf("no page within %s: %w", s.dir.Timeout, err))
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
			return fmt.Errorf("ldap[%s]: search %s: %w: the base DN does not exist: %w", s.dir.ID, base, ErrSubtreeVanished, err)
		case err != nil:
			return s.wrapOp("search "+base, err)
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(next) == 0 {
			return nil
		}
		cookie = next
	}
}

// dirUser is a user as read from the directory.
type dirUser struct {
	dn, norm string
	user     policy.User
	mark     string
}

// dirGroup is a group as read from the directory.
type dirGroup struct {
	dn, norm string
	ext      string
	name     string
	members  []string // normalized DNs, or user names for memberUid
	mark     string
	// sid is the group's objectSid in string form (Active Directory),
	// the key of its primary members (see run.primary).
	sid string
	// fetched marks a group an incremental run read because a user's
	// primary group moved to or from it, not because it changed.
	fetched bool
	// more is the index of the first member value the entry did not
	// carry (ranged retrieval; see fetchRanges), 0 when it has them all;
	// ranges counts the extra searches that read the rest.
	more, ranges int
}

// userAttrs returns the attributes requested for users.
func (s *Source) userAttrs() []string {
	a := s.dir.Attributes
	out := []string{a.ID, a.UserName, s.changeAttr}
	for _, x := range []string{a.Email, a.DisplayName, a.GivenName, a.FamilyName, a.City, a.Region, a.Country, a.Phone} {
		if x != "" {
			out = append(out, x)
		}
	}
	switch s.disabled {
	case disabledPPolicy:
		out = append(out, "pwdAccountLockedTime")
	case disabledUACBit2:
		out = append(out, "userAccountControl")
	case disabledNsAccount:
		out = append(out, "nsAccountLock")
	}
	if s.primary {
		out = append(out, attrPrimaryGroupID, attrObjectSid)
	}
	return out
}

func (s *Source) groupAttrs() []string {
	m := s.dir.Membership
	if s.dir.MemberRange > 0 {
		// Asked as a range from the start, so that a server that
		// would return every value (Samba) pages them like one that
		// enforces MaxValRange (Active Directory).
		m = rangeAttr(m, 0, s.dir.MemberRange)
	}
	out := []string{s.dir.Attributes.ID, s.dir.Attributes.GroupName, m, s.changeAttr}
	if s.primary {
		out = append(out, attrObjectSid)
	}
	return out
}

// rawAttrs names the attributes whose binary values are read: the id
// when it is objectGUID (see externalID), and objectSid when primary
// groups are resolved (see primaryGroupKey).
func (s *Source) rawAttrs() []string {
	var raw []string
	if strings.EqualFold(s.dir.Attributes.ID, "objectGUID") {
		raw = append(raw, s.dir.Attributes.ID)
	}
	if s.primary {
		raw = append(raw, attrObjectSid)
	}
	return raw
}

// externalID reads the stable identifier of an entry; objectGUID is
// binary and becomes its canonical UUID string.
func (s *Source) externalID(e *goldap.Entry) string {
	name := s.dir.Attributes.ID
	if strings.EqualFold(name, "objectGUID") {
		if raw := e.GetEqualFoldRawAttributeValue(name); len(raw) == 16 {
			return guidString(raw)
		}
	}
	return e.GetEqualFoldAttributeValue(name)
}

// guidString formats an Active Directory objectGUID: the first three
// fields are little-endian (MS-DTYP §2.3.4.2).
func guidString(b []byte) string {
	var u [16]byte
	binary.BigEndian.PutUint32(u[0:], binary.LittleEndian.Uint32(b[0:]))
	binary.BigEndian.PutUint16(u[4:], binary.LittleEndian.Uint16(b[4:]))
	binary.BigEndian.PutUint16(u[6:], binary.LittleEndian.Uint16(b[6:]))
	copy(u[8:], b[8:])
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isDisabled applies the flavor's notion of a locked or disabled account.
func (s *Source) isDisabled(e *goldap.Entry) bool {
	switch s.disabled {
	case disabledPPolicy:
		return e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != ""
	case disabledUACBit2:
		v, err := strconv.ParseInt(e.GetEqualFoldAttributeValue("userAccountControl"), 10, 64)
		return err == nil && v&2 != 0
	case disabledNsAccount:
		return strings.EqualFold(e.GetEqualFoldAttributeValue("nsAccountLock"), "TRUE")
	}
	return false
}

// mapUser turns a directory entry into the user record it stands for.
// ok is false for entries without an id or a userName.
func (s *Source) mapUser(e *goldap.Entry) (dirUser, bool) {
	a := s.dir.Attributes
	u := policy.User{
		Tenant:     s.tenant,
		ExternalID: s.externalID(e),
		UserName:   e.GetEqualFoldAttributeValue(a.UserName),
		Source:     s.source,
		Active:     !s.isDisabled(e),
		Attributes: map[string]any{attrDN: e.DN},
	}
	if u.ExternalID == "" || strings.TrimSpace(u.UserName) == "" {
		return dirUser{}, false
	}
	if a.GivenName != "" {
		u.GivenName = e.GetEqualFoldAttributeValue(a.GivenName)
	}
	if a.FamilyName != "" {
		u.FamilyName = e.GetEqualFoldAttributeValue(a.FamilyName)
	}
	if a.DisplayName != "" {
		u.DisplayName = e.GetEqualFoldAttributeValue(a.DisplayName)
	}
	u.Location = s.mapLocation(e)
	if a.Phone != "" {
		if ph := strings.TrimSpace(e.GetEqualFoldAttributeValue(a.Phone)); ph != "" && len(ph) <= 64 {
			u.Attributes[attrPhone] = ph
		}
	}
	if a.Email != "" {
		for i, m := range e.GetEqualFoldAttributeValues(a.Email) {
			u.Emails = append(u.Emails, policy.Email{Value: m, Type: "work", Primary: i == 0})
		}
	}
	if s.primary {
		if k := primaryGroupKey(e); k != "" {
			u.Attributes[attrPrimary] = k
		}
	}
	return dirUser{dn: e.DN, norm: normDN(e.DN), user: u, mark: e.GetEqualFoldAttributeValue(s.changeAttr)}, true
}

// mapLocation reads the user's location from the attributes the
// directory's map names, or nil when it names none or the entry has none.
// A country that is not an ISO 3166 two-letter code is left out, so one
// odd entry never fails the write of the whole batch.
func (s *Source) mapLocation(e *goldap.Entry) *policy.Location {
	a := s.dir.Attributes
	if a.City == "" && a.Region == "" && a.Country == "" {
		return nil
	}
	get := func(attr string) string {
		if attr == "" {
			return ""
		}
		return strings.TrimSpace(e.GetEqualFoldAttributeValue(attr))
	}
	l := policy.Location{City: get(a.City), Region: get(a.Region), Country: strings.ToUpper(get(a.Country))}
	if policy.ValidateLocation(policy.Location{Country: l.Country}) != nil {
		l.Country = ""
	}
	if policy.ValidateLocation(l) != nil { // over-long names
		l.City, l.Region = "", ""
	}
	if l.IsZero() {
		return nil
	}
	return &l
}

func (s *Source) mapGroup(e *goldap.Entry) (dirGroup, bool) {
	g := dirGroup{
		dn:   e.DN,
		norm: normDN(e.DN),
		ext:  s.externalID(e),
		name: e.GetEqualFoldAttributeValue(s.dir.Attributes.GroupName),
		mark: e.GetEqualFoldAttributeValue(s.changeAttr),
	}
	g.members, g.more = s.memberValues(e)
	if s.primary {
		g.sid = groupSIDKey(e)
	}
	if g.name == "" {
		// The RDN value stands in for a missing name attribute.
		if dn, err := goldap.ParseDN(e.DN); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
			g.name = dn.RDNs[0].Attributes[0].Value
		}
	}
	return g, g.ext != "" && strings.TrimSpace(g.name) != ""
}

// memberValues returns a group entry's members: normalized DNs (normDN),
// or user names for memberUid. When the server returned only a range of
// them (member;range=0-1499), more is the index of the next value to ask
// for (see fetchRanges); otherwise 0.
func (s *Source) memberValues(e *goldap.Entry) (ms []string, more int) {
	ms, more = rangedValues(e, s.dir.Membership)
	if s.dir.Membership != MembershipMemberUID {
		for i, m := range ms {
			ms[i] = normDN(m)
		}
	}
	return ms, more
}

// rangedValues returns the values of attribute name, whole or as a range
// (Active Directory's ranged retrieval, [MS-ADTS] §3.1.1.3.1.3.3: the
// server names the attribute "member;range=0-1499" when more values
// follow, "member;range=1500-*" for the last range). more is the index of
// the first value not returned, or 0 when none is missing.
func rangedValues(e *goldap.Entry, name string) (vals []string, more int) {
	for _, a := range e.Attributes {
		if len(a.Name) < len(name) || !strings.EqualFold(a.Name[:len(name)], name) {
			continue
		}
		opt := a.Name[len(name):]
		if opt == "" {
			return a.Values, 0
		}
		r, ok := strings.CutPrefix(strings.ToLower(opt), ";range=")
		if !ok {
			continue
		}
		_, hi, ok := strings.Cut(r, "-")
		if !ok || hi == "*" {
			return a.Values, 0
		}
		n, err := strconv.Atoi(hi)
		if err != nil || n < 0 {
			return a.Values, 0
		}
		return a.Values, n + 1
	}
	return nil, 0
}

// rangeAttr names the range of size values of attribute name from lo.
func rangeAttr(name string, lo, size int) string {
	return fmt.Sprintf("%s;range=%d-%d", name, lo, lo+size-1)
}

// anyFilter is (objectClass=*), the filter of base searches.
var anyFilter = func() []byte {
	f, err := goldap.CompileFilter("(objectClass=*)")
	if err != nil {
		panic(err)
	}
	return f.Bytes()
}()

// fetchRanges reads the member values that the groups' entries did not
// carry (their more is set): a base search per range on c until the
// server names the last range ("…-*") or returns no value.
func (s *Source) fetchRanges(ctx context.Context, c *searchConn, groups []dirGroup) error {
	for i := range groups {
		g := &groups[i]
		for g.more > 0 {
			attr := fmt.Sprintf("%s;range=%d-*", s.dir.Membership, g.more)
			if s.dir.MemberRange > 0 {
				attr = rangeAttr(s.dir.Membership, g.more, s.dir.MemberRange)
			}
			var (
				vals []string
				more int
			)
			_, err := c.search(ctx, g.dn, goldap.ScopeBaseObject, anyFilter, []string{attr}, nil, 0, nil, nil, func(e *goldap.Entry) {
				vals, more = rangedValues(e, s.dir.Membership)
			})
			if err != nil {
				return s.wrapOp(fmt.Sprintf("read %s of %s from %d", s.dir.Membership, g.dn, g.more), err)
			}
			if len(vals) == 0 {
				more = 0
			}
			if more != 0 && more <= g.more {
				return fmt.Errorf("ldap[%s]: read %s of %s: range from %d answered up to %d", s.dir.ID, s.dir.Membership, g.dn, g.more, more-1)
			}
			for _, v := range vals {
				if s.dir.Membership != MembershipMemberUID {
					v = normDN(v)
				}
				g.members = append(g.members, v)
			}
			g.ranges++
			g.more = more
		}
	}
	return nil
}

// normDN returns a comparison form of a DN: lower case, without blanks
// around separators. It is not full RFC 4514 normalisation (escaped
// characters are kept as written), which suffices to match member values
// the server wrote against entry DNs the server returns.
func normDN(dn string) string {
	s := strings.ToLower(dn)
	if !strings.Contains(s, " ") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if ok {
			parts[i] = strings.TrimSpace(k) + "=" + strings.TrimSpace(v)
		} else {
			parts[i] = strings.TrimSpace(p)
		}
	}
	return strings.Join(parts, ",")
}

// laterMark returns the later of two change marks: generalized times
// (modifyTimestamp) and CSNs (entryCSN) compare as strings of equal layout,
// USNs as numbers.
func laterMark(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	// Marks that are not numbers (entryCSN, modifyTimestamp) are
	// compared as strings without trying to parse them, which would
	// allocate an error per entry read.
	if !digits(a) || !digits(b) {
		if b > a {
			return b
		}
		return a
	}
	ai, aerr := strconv.ParseUint(a, 10, 64)
	bi, berr := strconv.ParseUint(b, 10, 64)
	if aerr == nil && berr == nil {
		if bi > ai {
			return b
		}
		return a
	}
	if b > a {
		return b
	}
	return a
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// changedFilter narrows filter to entries changed at or after mark.
func (s *Source) changedFilter(filter, mark string) string {
	if mark == "" {
		return filter
	}
	return fmt.Sprintf("(&%s(%s>=%s))", filter, s.changeAttr, goldap.EscapeFilter(mark))
}

// since is a helper for progress logs.
func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }
