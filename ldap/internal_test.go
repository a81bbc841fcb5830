package ldap

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestGUIDString(t *testing.T) {
	// The objectGUID bytes of {01020304-0506-0708-090a-0b0c0d0e0f10}.
	raw := []byte{4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16}
	if got := guidString(raw); got != "01020304-0506-0708-090a-0b0c0d0e0f10" {
		t.Fatal(got)
	}
}

func TestNormDNAndMarks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"uid=Alice,ou=People,dc=Example,dc=com", "uid=alice,ou=people,dc=example,dc=com"},
		{"uid=alice, ou=people , dc=example,dc=com", "uid=alice,ou=people,dc=example,dc=com"},
		{"CN=Jane Doe,OU=Users,DC=x", "cn=jane doe,ou=users,dc=x"},
	}
	for _, tt := range tests {
		if got := normDN(tt.in); got != tt.want {
			t.Errorf("normDN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	marks := []struct{ a, b, want string }{
		{"", "20250101000000Z", "20250101000000Z"},
		{"20260101000000Z", "20250101000000Z", "20260101000000Z"},
		{"99", "100", "100"},
		{"100", "", "100"},
	}
	for _, m := range marks {
		if got := laterMark(m.a, m.b); got != m.want {
			t.Errorf("laterMark(%q, %q) = %q", m.a, m.b, got)
		}
	}
}

func FuzzNormDN(f *testing.F) {
	f.Add("uid=alice, ou=people,dc=example,dc=com")
	f.Add("cn=a\\,b ,dc=x")
	f.Fuzz(func(t *testing.T, dn string) {
		n := normDN(dn)
		if normDN(n) != n {
			t.Fatalf("normDN not idempotent: %q → %q → %q", dn, n, normDN(n))
		}
	})
}

func TestDecodeEntry(t *testing.T) {
	attr := func(name string, vals ...string) []byte {
		var set []byte
		for _, v := range vals {
			set = berTLV(set, 0x04, []byte(v))
		}
		return berTLV(nil, 0x30, berTLV(berTLV(nil, 0x04, []byte(name)), 0x31, set))
	}
	long := strings.Repeat("x", 300) // long-form length
	var attrs []byte
	attrs = append(attrs, attr("uid", "alice")...)
	attrs = append(attrs, attr("mail", "a@example.com", long)...)
	attrs = append(attrs, attr("empty")...)
	msg := berTLV(berTLV(nil, 0x04, []byte("uid=alice,dc=x")), 0x30, attrs)
	e, err := decodeEntry(msg, "UID")
	if err != nil {
		t.Fatal(err)
	}
	if e.DN != "uid=alice,dc=x" || e.GetAttributeValue("uid") != "alice" ||
		!slices.Equal(e.GetAttributeValues("mail"), []string{"a@example.com", long}) ||
		string(e.GetRawAttributeValue("uid")) != "alice" || len(e.Attributes) != 3 || len(e.Attributes[2].Values) != 0 || e.Attributes[1].ByteValues != nil {
		t.Fatalf("entry = %+v", e)
	}
	for i := range msg {
		if _, err := decodeEntry(msg[:i], ""); err == nil && i > 0 {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if v := berIntValue(berInt(nil, 2, 1000)[2:]); v != 1000 {
		t.Fatalf("berInt round trip = %d", v)
	}
	cookie := berTLV(nil, 0x30, berTLV(berInt(nil, 0x02, 0), 0x04, []byte("c1")))
	ctl := berTLV(berTLV(nil, 0x04, []byte(pagedSearchControlOID)), 0x04, cookie)
	if got := pagingCookie(berTLV(nil, 0x30, ctl)); string(got) != "c1" {
		t.Fatalf("cookie = %q", got)
	}
}

// FuzzDecodeEntry feeds arbitrary SearchResultEntry contents to the
// decoder: it must not panic, and what it accepts re-encodes to an entry
// that decodes the same.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(berTLV(berTLV(nil, 0x04, []byte("uid=a,dc=x")), 0x30,
		berTLV(nil, 0x30, berTLV(berTLV(nil, 0x04, []byte("uid")), 0x31, berTLV(nil, 0x04, []byte("a"))))))
	f.Add([]byte{0x04, 0x00, 0x30, 0x00})
	f.Add([]byte{0x04, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b, "uid")
		if err != nil {
			return
		}
		var attrs []byte
		for _, a := range e.Attributes {
			var set []byte
			for _, v := range a.Values {
				set = berTLV(set, 0x04, []byte(v))
			}
			attrs = append(attrs, berTLV(nil, 0x30, berTLV(berTLV(nil, 0x04, []byte(a.Name)), 0x31, set))...)
		}
		e2, err := decodeEntry(berTLV(berTLV(nil, 0x04, []byte(e.DN)), 0x30, attrs), "uid")
		if err != nil {
			t.Fatalf("re-encoded entry refused: %v", err)
		}
		if e2.DN != e.DN || len(e2.Attributes) != len(e.Attributes) {
			t.Fatalf("round trip: %+v != %+v", e2, e)
		}
		for i, a := range e.Attributes {
			if e2.Attributes[i].Name != a.Name || !slices.Equal(e2.Attributes[i].Values, a.Values) {
				t.Fatalf("attribute %d: %+v != %+v", i, e2.Attributes[i], a)
			}
			if strings.EqualFold(a.Name, "uid") && len(a.ByteValues) != len(a.Values) {
				t.Fatalf("raw values of %s missing", a.Name)
			}
		}
	})
}

// sidBytes encodes a SID ([MS-DTYP] §2.4.2.2).
func sidBytes(auth uint64, subs ...uint32) []byte {
	b := []byte{1, byte(len(subs)), byte(auth >> 40), byte(auth >> 32), byte(auth >> 24), byte(auth >> 16), byte(auth >> 8), byte(auth)}
	for _, s := range subs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

func TestParseSID(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		domain string
		rid    uint32
		ok     bool
	}{
		{"domain users", sidBytes(5, 21, 1004336348, 1177238915, 682003330, 513), "S-1-5-21-1004336348-1177238915-682003330", 513, true},
		{"well-known, one sub-authority", sidBytes(1, 0), "S-1-1", 0, true},
		{"large authority in hex", sidBytes(1<<40, 7, 42), "S-1-0x010000000000-7", 42, true},
		{"max sub-authority", sidBytes(5, 4294967295, 4294967295), "S-1-5-4294967295", 4294967295, true},
		{"empty", nil, "", 0, false},
		{"header only", sidBytes(5), "", 0, false},
		{"revision 2", append([]byte{2}, sidBytes(5, 21, 513)[1:]...), "", 0, false},
		{"truncated", sidBytes(5, 21, 513)[:15], "", 0, false},
		{"trailing byte", append(sidBytes(5, 21, 513), 0), "", 0, false},
		{"16 sub-authorities", sidBytes(5, make([]uint32, 16)...), "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain, rid, err := parseSID(tt.in)
			if (err == nil) != tt.ok || domain != tt.domain || rid != tt.rid {
				t.Fatalf("parseSID(%x) = %q, %d, %v; want %q, %d (ok %v)", tt.in, domain, rid, err, tt.domain, tt.rid, tt.ok)
			}
			if err != nil && !errors.Is(err, errSID) {
				t.Fatalf("error %v does not wrap errSID", err)
			}
		})
	}
}

// FuzzParseSID checks that parseSID accepts exactly the well-formed SIDs
// and that what it returns is their content.
func FuzzParseSID(f *testing.F) {
	f.Add(sidBytes(5, 21, 1, 2, 3, 513))
	f.Add(sidBytes(1 << 47))
	f.Add([]byte{1, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		domain, rid, err := parseSID(b)
		valid := len(b) >= 8 && b[0] == 1 && b[1] >= 1 && b[1] <= 15 && len(b) == 8+4*int(b[1])
		if valid != (err == nil) {
			t.Fatalf("parseSID(%x): err %v, well-formed %v", b, err, valid)
		}
		if err != nil {
			return
		}
		n := int(b[1])
		if want := binary.LittleEndian.Uint32(b[len(b)-4:]); rid != want {
			t.Fatalf("rid %d, want %d", rid, want)
		}
		if !strings.HasPrefix(domain, "S-1-") || strings.Count(domain, "-") != n+1 {
			t.Fatalf("domain %q for %d sub-authorities", domain, n)
		}
		if sidKey(domain, rid) == domain {
			t.Fatal("sidKey lost the rid")
		}
	})
}

func TestRangedValues(t *testing.T) {
	entry := func(name string, vals ...string) *goldap.Entry {
		return &goldap.Entry{Attributes: []*goldap.EntryAttribute{{Name: "cn", Values: []string{"g"}}, {Name: name, Values: vals}}}
	}
	tests := []struct {
		name     string
		e        *goldap.Entry
		wantN    int
		wantMore int
	}{
		{"whole", entry("member", "a", "b"), 2, 0},
		{"other case", entry("Member", "a"), 1, 0},
		{"first range", entry("member;range=0-1499", "a", "b"), 2, 1500},
		{"last range", entry("member;Range=1500-*", "a"), 1, 0},
		{"a longer name is not it", entry("memberOf", "a"), 0, 0},
		{"another option", entry("member;binary", "a"), 0, 0},
		{"absent", &goldap.Entry{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, more := rangedValues(tt.e, "member")
			if len(vals) != tt.wantN || more != tt.wantMore {
				t.Errorf("rangedValues = %v, %d; want %d values, more %d", vals, more, tt.wantN, tt.wantMore)
			}
		})
	}
	if got := rangeAttr("member", 1500, 1500); got != "member;range=1500-2999" {
		t.Errorf("rangeAttr = %q", got)
	}
}

// TestSortedKeysWhere: the accepted keys only, sorted; sortedKeys is all
// of them.
func TestSortedKeysWhere(t *testing.T) {
	m := map[string]int{"d": 4, "a": 1, "c": 3, "b": 2, "e": 5}
	odd := func(_ string, v int) bool { return v%2 == 1 }
	if got, want := sortedKeysWhere(m, odd), []string{"a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("sortedKeysWhere = %q, want %q", got, want)
	}
	if got := sortedKeysWhere(m, func(string, int) bool { return false }); len(got) != 0 {
		t.Errorf("nothing accepted: %q", got)
	}
	if got, want := sortedKeys(m), []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("sortedKeys = %q, want %q", got, want)
	}
}
