package deptest

import (
	"slices"
	"testing"
)

func TestList(t *testing.T) {
	pkgs := List(t, "store/bolt", "internal/deptest")
	if pkgs[0].ImportPath != Module+"/store/bolt" || pkgs[1].ImportPath != Module+"/internal/deptest" {
		t.Fatalf("import paths %q, %q", pkgs[0].ImportPath, pkgs[1].ImportPath)
	}
	// store/bolt imports policy directly and bbolt transitively; its tests import this package.
	if !slices.Contains(pkgs[0].Imports, Module+"/policy") {
		t.Errorf("store/bolt Imports = %v, want policy among them", pkgs[0].Imports)
	}
	if !slices.Contains(pkgs[0].Deps, "go.etcd.io/bbolt") {
		t.Errorf("store/bolt Deps lack go.etcd.io/bbolt")
	}
	if !slices.Contains(pkgs[0].AllImports(), Module+"/internal/deptest") {
		t.Errorf("store/bolt test imports lack internal/deptest")
	}
	if !slices.Contains(pkgs[1].XTestImports, "slices") && !slices.Contains(pkgs[1].TestImports, "slices") {
		t.Errorf("deptest test imports lack slices: %v", pkgs[1].TestImports)
	}
}

func TestWithinIsStdOurs(t *testing.T) {
	tests := []struct {
		imp, prefix string
		within      bool
	}{
		{"net", "net", true},
		{"net/http", "net", true},
		{"netip", "net", false},
		{Module + "/store/bolt", Module + "/store", true},
		{Module + "/storetest", Module + "/store", false},
	}
	for _, tt := range tests {
		if got := Within(tt.imp, tt.prefix); got != tt.within {
			t.Errorf("Within(%q, %q) = %v", tt.imp, tt.prefix, got)
		}
	}
	if !IsStd("net/http") || IsStd("go.etcd.io/bbolt") || IsStd(Module) {
		t.Error("IsStd misclassifies")
	}
	if !Ours(Module+"/policy") || Ours("github.com/roster-dev/rosterx") {
		t.Error("Ours misclassifies")
	}
}
