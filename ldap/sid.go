package ldap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// Active Directory attributes of primary group membership: a user's
// primaryGroupID is the RID of a group of its domain, and that membership
// is not listed in the group's member attribute ([MS-ADA3], attribute
// primaryGroupID).
const (
	attrObjectSid      = "objectSid"
	attrPrimaryGroupID = "primaryGroupID"
	// attrPrimary is the key of User.Attributes holding the SID (string
	// form) of the user's primary group, so that an incremental run
	// knows which group a user leaves.
	attrPrimary = "ldapPrimaryGroup"
)

var errSID = errors.New("ldap: malformed SID")

// parseSID decodes a binary security identifier ([MS-DTYP] §2.4.2.2:
// revision 1, sub-authority count, 6-byte big-endian identifier
// authority, little-endian 32-bit sub-authorities) into the string form
// ([MS-DTYP] §2.4.2.1) of its domain part — every sub-authority but the
// last — and its relative identifier (RID), the last sub-authority. It
// does not check that the SID names a domain account (S-1-5-21-…).
func parseSID(b []byte) (domain string, rid uint32, err error) {
	if len(b) < 8 {
		return "", 0, fmt.Errorf("%w: %d bytes", errSID, len(b))
	}
	n := int(b[1])
	switch {
	case b[0] != 1:
		return "", 0, fmt.Errorf("%w: revision %d", errSID, b[0])
	case n == 0 || n > 15:
		return "", 0, fmt.Errorf("%w: %d sub-authorities", errSID, n)
	case len(b) != 8+4*n:
		return "", 0, fmt.Errorf("%w: %d bytes for %d sub-authorities", errSID, len(b), n)
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.Grow(12 + 11*n)
	sb.WriteString("S-1-")
	if auth < 1<<32 {
		sb.WriteString(strconv.FormatUint(auth, 10))
	} else {
		fmt.Fprintf(&sb, "0x%012X", auth)
	}
	for i := range n - 1 {
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), binary.LittleEndian.Uint32(b[8+4*(n-1):]), nil
}

// sidKey is the string form of the SID of a domain's group with the given
// RID: the key that ties a user's primaryGroupID to a group's objectSid.
func sidKey(domain string, rid uint32) string {
	return domain + "-" + strconv.FormatUint(uint64(rid), 10)
}

// primaryGroupKey returns the SID of an AD user entry's primary group:
// its primaryGroupID within the domain of its own objectSid. It is empty
// when either attribute is missing or malformed.
func primaryGroupKey(e *goldap.Entry) string {
	pg := e.GetEqualFoldAttributeValue(attrPrimaryGroupID)
	if pg == "" {
		return ""
	}
	rid, err := strconv.ParseUint(pg, 10, 32)
	if err != nil {
		return ""
	}
	domain, _, err := parseSID(e.GetEqualFoldRawAttributeValue(attrObjectSid))
	if err != nil {
		return ""
	}
	return sidKey(domain, uint32(rid))
}

// groupSIDKey returns the string form of an AD group entry's objectSid,
// or "" when it has none.
func groupSIDKey(e *goldap.Entry) string {
	domain, rid, err := parseSID(e.GetEqualFoldRawAttributeValue(attrObjectSid))
	if err != nil {
		return ""
	}
	return sidKey(domain, rid)
}
