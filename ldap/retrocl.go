package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/store"
)

// errChangelogTrimmed says that the retro changelog no longer holds the
// changes after the stored change number (trimmed by age or count, or a
// server reinstalled): deletions may have been missed, so the run is
// full instead.
var errChangelogTrimmed = errors.New("ldap: retro changelog trimmed past the stored change number")

// useRetroCL reports whether incremental runs read deletions from a 389
// Directory Server retro changelog (draft-good-ldap-changelog, cn=changelog):
// the freeipa and 389ds flavors, which poll modifyTimestamp and so see no
// deletions otherwise. A server that publishes no changelog in its rootDSE
// is polled as before: deletions wait for the next full run.
func (s *Source) useRetroCL() bool {
	return s.dir.Flavor == FlavorFreeIPA || s.dir.Flavor == Flavor389DS
}

// changelogHead reads the rootDSE's changelog (the DN of the retro
// changelog, empty when the server has none) and lastchangenumber ("0"
// for an empty changelog).
func (s *Source) changelogHead(ctx context.Context, c *searchConn) (base, last string, err error) {
	_, err = c.search(ctx, "", goldap.ScopeBaseObject, anyFilter, []string{"changelog", "lastchangenumber"}, nil, 0, nil, nil, func(e *goldap.Entry) {
		base = e.GetEqualFoldAttributeValue("changelog")
		last = e.GetEqualFoldAttributeValue("lastchangenumber")
	})
	if err != nil {
		return "", "", s.wrapOp("read rootDSE", err)
	}
	if last == "" {
		last = "0"
	}
	return base, last, nil
}

// markChangelog sets the change number a full run starts from: the head
// of the retro changelog before the run reads the directory, so that a
// deletion made while it reads is seen again by the next incremental run
// rather than lost.
func (r *run) markChangelog(ctx context.Context) error {
	s := r.s
	c, err := s.dialSearch(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	base, last, err := s.changelogHead(ctx, c)
	if err != nil {
		return err
	}
	if base == "" {
		s.log.Debug("ldap sync: no retro changelog; deletions wait for full runs")
		return nil
	}
	n, err := strconv.ParseUint(last, 10, 64)
	if err != nil {
		s.log.Warn("ldap sync: the rootDSE's lastchangenumber is not a number; deletions wait for full runs", "lastchangenumber", last)
		return nil
	}
	if n > 0 {
		// The bind DN must be able to read the changelog: without
		// that, every incremental run would look trimmed.
		f, err := goldap.CompileFilter(fmt.Sprintf("(changeNumber=%d)", n))
		if err != nil {
			return err
		}
		seen := false
		_, err = c.search(ctx, base, goldap.ScopeSingleLevel, f.Bytes(), []string{"changeNumber"}, nil, 0, nil, nil,
			func(*goldap.Entry) { seen = true })
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) && !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
			return s.wrapOp("search "+base, err)
		}
		if !seen {
			s.log.Warn("ldap sync: the retro changelog's last change cannot be read (no access for the bind DN?); deletions wait for full runs",
				"changelog", base, "lastchangenumber", last)
			return nil
		}
	}
	r.changelogMark = last
	return nil
}

// readRetroChangelog reads the retro changelog entries after the stored
// change number and puts the external ids of the users and groups they
// delete into r.deleted: the run deletes the ones the store holds from
// this source, through the deletion guard. The id is the entry's
// targetUniqueId when the directory's id attribute is nsUniqueId (389-ds
// records it when the plugin maps nsuniqueid:targetUniqueId, as FreeIPA's
// does), else the one the DN index holds for its targetDn.
//
// It returns errChangelogTrimmed when the entries after the stored change
// number are gone. Without a stored number (the last full run could not
// read the changelog) it reads nothing.
func (r *run) readRetroChangelog(ctx context.Context) error {
	s := r.s
	c, err := s.dialSearch(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	base, last, err := s.changelogHead(ctx, c)
	if err != nil || base == "" {
		return err
	}
	mark := r.state.ChangelogMark
	if mark == "" {
		// The last full run could not read the changelog (or predates
		// this): deletions wait for the next full run.
		return nil
	}
	from, err := strconv.ParseUint(mark, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: stored change number %q: %w", errChangelogTrimmed, mark, err)
	}
	head, _ := strconv.ParseUint(last, 10, 64)
	// Change numbers follow each other: when the first one held after
	// the mark is not the next, the ones between were trimmed (the
	// changelog is trimmed from its oldest entry).
	first := from + 1
	var (
		lowest, highest uint64
		uniqueIDs       = strings.EqualFold(s.dir.Attributes.ID, "nsUniqueId")
		byDN            []string
	)
	r.deleted = map[string]bool{}
	attrs := []string{"changeNumber", "changeType", "targetDn", "targetUniqueId"}
	err = s.pagedSearch(ctx, c, base, fmt.Sprintf("(changeNumber>=%d)", first), attrs, func(page []*goldap.Entry) error {
		for _, e := range page {
			n, err := strconv.ParseUint(e.GetEqualFoldAttributeValue("changeNumber"), 10, 64)
			if err != nil {
				continue
			}
			if lowest == 0 || n < lowest {
				lowest = n
			}
			highest = max(highest, n)
			if !strings.EqualFold(e.GetEqualFoldAttributeValue("changeType"), "delete") {
				continue
			}
			if id := e.GetEqualFoldAttributeValue("targetUniqueId"); uniqueIDs && id != "" {
				r.deleted[id] = true
			} else if dn := e.GetEqualFoldAttributeValue("targetDn"); dn != "" {
				byDN = append(byDN, normDN(dn))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case lowest == 0 && head > from:
		return fmt.Errorf("%w: changes up to %d announced, none from %d held", errChangelogTrimmed, head, first)
	case lowest > first:
		return fmt.Errorf("%w: oldest held change %d, stored %d", errChangelogTrimmed, lowest, from)
	}
	if len(byDN) > 0 {
		prefix := s.dnPrefix()
		err := s.st.View(ctx, func(tx store.Tx) error {
			for _, dn := range byDN {
				v, err := tx.GetRecord(DNNamespace, prefix+dn)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if kv := string(v); len(kv) > 2 {
					r.deleted[kv[2:]] = true
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
		}
	}
	r.changelogMark = strconv.FormatUint(max(highest, from), 10)
	return nil
}
