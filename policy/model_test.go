package policy

import "testing"

func TestFoldUserName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"bert", "bert"},
		{"  Bert ", "bert"},
		{"Ｂert", "bert"},            // full-width B: width-mapped (RFC 8265 §3.3.1)
		{"ＢＥＲＴ", "bert"},            // all full-width
		{"Ann Smith", "ann smith"},  // userparts (§3.5)
		{"Ann  Smith", "ann smith"}, // runs of spaces collapse to one
		{"bob@Acme.Example", "bob@acme.example"},
		{"JOSÉ", "josé"},            // non-ASCII letters are kept, lower-cased
		{"Jose\u0301", "jos\u00e9"}, // NFC
		{"bad\u0000name", ""},       // control characters do not survive
		{"a\u200bb", ""},            // zero-width space: disallowed
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		if got := FoldUserName(tt.in); got != tt.want {
			t.Errorf("FoldUserName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidateUserRefusesUnfoldableName(t *testing.T) {
	if err := ValidateUser(User{Tenant: "acme", UserName: "a\u200bb"}); err == nil {
		t.Fatal("a name PRECIS refuses was accepted")
	}
	if err := ValidateUser(User{Tenant: "acme", UserName: "Ｂert"}); err != nil {
		t.Fatalf("full-width name refused: %v", err)
	}
}

func TestDomainOwner(t *testing.T) {
	tenants := []Tenant{
		{ID: "vendor", Domains: []string{"vendor.example"}},
		{ID: "acme", Domains: []string{"acme.example", "acme.test"}},
		{ID: "globex"},
	}
	tests := []struct {
		addr  string
		owner TenantID
		ok    bool
	}{
		{"alice@vendor.example", "vendor", true},
		{"Alice@VENDOR.Example", "vendor", true},
		{"x@eu.vendor.example", "vendor", true},
		{"x@notvendor.example", "", false},
		{"bob@acme.test", "acme", true},
		{"tina@globex.example", "", false},
		{"no-at-sign", "", false},
		{"trailing@", "", false},
	}
	for _, tt := range tests {
		owner, ok := DomainOwner(tenants, tt.addr)
		if owner != tt.owner || ok != tt.ok {
			t.Errorf("DomainOwner(%q) = %q, %v; want %q, %v", tt.addr, owner, ok, tt.owner, tt.ok)
		}
	}
}
