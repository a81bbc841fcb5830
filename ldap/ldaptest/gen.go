package ldaptest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// GenOptions sizes a generated directory.
type GenOptions struct {
	// Users and Groups are the entry counts.
	Users, Groups int
	// Seed makes the output reproducible.
	Seed uint64
	// ModifyTimestamp is written on every entry so that slapadd's load
	// time does not count as a change (default 20250101000000Z).
	ModifyTimestamp string
}

// UserDN returns the DN of generated user i (0-based).
func UserDN(i int) string { return fmt.Sprintf("uid=%s,ou=people,%s", UserName(i), DefaultSuffix) }

// UserName returns the uid of generated user i.
func UserName(i int) string { return fmt.Sprintf("user%06d", i) }

// GroupDN returns the DN of generated group i.
func GroupDN(i int) string { return fmt.Sprintf("cn=group%05d,ou=groups,%s", i, DefaultSuffix) }

// Generate writes an LDIF for slapadd: the base entries, opt.Users
// inetOrgPerson entries under ou=people with password "pw-<uid>", and
// opt.Groups groupOfNames under ou=groups. Group sizes are skewed like
// real directories (most groups have 3–40 members, one in fifty a few
// hundred, a handful several thousand); about a fifth of the groups nest
// one to three others, and a few nestings form cycles. Users carry their
// direct memberOf values, since slapadd bypasses the memberof overlay.
func Generate(w io.Writer, opt GenOptions) error {
	if opt.ModifyTimestamp == "" {
		opt.ModifyTimestamp = "20250101000000Z"
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	members := make([][]int32, opt.Groups) // users per group
	subgroups := make([][]int32, opt.Groups)
	memberOf := make([][]int32, opt.Users)
	for g := 0; g < opt.Groups && opt.Users > 0; g++ {
		var n int
		switch r := rng.IntN(1000); {
		case r < 4:
			n = 2000 + rng.IntN(6000)
		case r < 24:
			n = 200 + rng.IntN(600)
		default:
			n = 3 + rng.IntN(38)
		}
		n = min(n, opt.Users)
		seen := make(map[int32]bool, n)
		for len(seen) < n {
			u := int32(rng.IntN(opt.Users))
			if !seen[u] {
				seen[u] = true
				members[g] = append(members[g], u)
				memberOf[u] = append(memberOf[u], int32(g))
			}
		}
		if g+1 < opt.Groups && rng.IntN(5) == 0 {
			for k := 1 + rng.IntN(3); k > 0; k-- {
				// Mostly nest later groups; one in forty points back,
				// which may close a cycle.
				sub := g + 1 + rng.IntN(opt.Groups-g-1)
				if rng.IntN(40) == 0 {
					sub = rng.IntN(g + 1)
				}
				if sub != g {
					subgroups[g] = append(subgroups[g], int32(sub))
				}
			}
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(withTimestamps(BaseLDIF(), opt.ModifyTimestamp))
	for u := 0; u < opt.Users; u++ {
		name := UserName(u)
		fmt.Fprintf(bw, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\ngivenName: User\nsn: N%d\nmail: %s@example.com\nuserPassword: pw-%s\nmodifyTimestamp: %s\ncreateTimestamp: %s\n",
			UserDN(u), name, u, u, name, name, opt.ModifyTimestamp, opt.ModifyTimestamp)
		for _, g := range memberOf[u] {
			fmt.Fprintf(bw, "memberOf: %s\n", GroupDN(int(g)))
		}
		bw.WriteString("\n")
	}
	for g := 0; g < opt.Groups; g++ {
		fmt.Fprintf(bw, "dn: %s\nobjectClass: groupOfNames\ncn: group%05d\nmodifyTimestamp: %s\ncreateTimestamp: %s\n",
			GroupDN(g), g, opt.ModifyTimestamp, opt.ModifyTimestamp)
		if len(members[g]) == 0 && len(subgroups[g]) == 0 {
			fmt.Fprintf(bw, "member: %s\n", Placeholder)
		}
		for _, u := range members[g] {
			fmt.Fprintf(bw, "member: %s\n", UserDN(int(u)))
		}
		for _, s := range subgroups[g] {
			fmt.Fprintf(bw, "member: %s\n", GroupDN(int(s)))
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// withTimestamps adds modifyTimestamp and createTimestamp to each entry of
// an LDIF made of blank-line separated entries.
func withTimestamps(ldif, ts string) string {
	var b strings.Builder
	for _, e := range strings.Split(strings.TrimSpace(ldif), "\n\n") {
		fmt.Fprintf(&b, "%s\nmodifyTimestamp: %s\ncreateTimestamp: %s\n\n", strings.TrimSpace(e), ts, ts)
	}
	return b.String()
}
