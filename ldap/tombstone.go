package ldap

import (
	"context"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"
)

// showDeletedOID is Active Directory's Show Deleted control
// ([MS-ADTS] §3.1.1.3.4.1.14): searches return tombstones too.
const showDeletedOID = "1.2.840.113556.1.4.417"

// readTombstones finds the users and groups deleted from an Active
// Directory domain since the last run: the tombstones (isDeleted=TRUE,
// kept with their objectGUID under CN=Deleted Objects) whose uSNChanged
// is at or past the stored mark. Their external ids go to r.deleted; the
// ones the store holds from this source are deleted by the run, through
// the deletion guard.
func (r *run) readTombstones(ctx context.Context, c *searchConn) error {
	s := r.s
	var nc string
	_, err := c.search(ctx, "", goldap.ScopeBaseObject, anyFilter, []string{"defaultNamingContext"}, nil, 0, nil, nil, func(e *goldap.Entry) {
		nc = e.GetEqualFoldAttributeValue("defaultNamingContext")
	})
	if err != nil {
		return s.wrapOp("read rootDSE", err)
	}
	if nc == "" {
		return fmt.Errorf("ldap[%s]: the rootDSE names no defaultNamingContext", s.dir.ID)
	}
	mark := r.state.DeletedMark
	if mark == "" {
		mark = r.state.UsersMark
	}
	filter := "(&(isDeleted=TRUE)(|(objectClass=user)(objectClass=group)))"
	if mark != "" {
		filter = fmt.Sprintf("(&(isDeleted=TRUE)(|(objectClass=user)(objectClass=group))(uSNChanged>=%s))", goldap.EscapeFilter(mark))
	}
	f, err := goldap.CompileFilter(filter)
	if err != nil {
		return err
	}
	ctl := berTLV(nil, 0x30, append(berTLV(nil, 0x04, []byte(showDeletedOID)), 0x01, 0x01, 0xff))
	var cookie []byte
	for {
		next, err := c.search(ctx, nc, goldap.ScopeWholeSubtree, f.Bytes(), []string{s.dir.Attributes.ID, "uSNChanged"}, s.rawAttrs(),
			s.dir.PageSize, cookie, ctl, func(e *goldap.Entry) {
				if id := s.externalID(e); id != "" {
					r.deleted[id] = true
				}
				r.deletedMark = laterMark(r.deletedMark, e.GetEqualFoldAttributeValue("uSNChanged"))
			})
		if err != nil {
			return s.wrapOp("search tombstones under "+nc, err)
		}
		if len(next) == 0 {
			return nil
		}
		cookie = next
	}
}
