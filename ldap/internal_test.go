package ldap

import "testing"

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
