// Package deptest lists a package's imports with the go tool so that a test
// can keep the dependency arrows of the house (see STYLE.md): policy imports
// nothing of ours, store only policy, protocol packages never each other.
//
// It is for tests only. Without the go tool the test is skipped on a
// laptop, but fails when CI is set: a dependency test that silently does
// not run keeps nothing.
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Module is Roster's module path, the prefix of every package of ours.
const Module = "github.com/roster-dev/roster"

// Package is what `go list -json` says of one package.
type Package struct {
	ImportPath string
	// Imports are the packages its non-test files import directly.
	Imports []string
	// Deps are all the packages its non-test files depend on, transitively.
	Deps []string
	// TestImports and XTestImports are those of its _test files (in the
	// package and in the external _test package).
	TestImports  []string
	XTestImports []string
}

// AllImports returns the direct imports of the package's files, test files
// included.
func (p Package) AllImports() []string {
	out := append([]string(nil), p.Imports...)
	out = append(out, p.TestImports...)
	return append(out, p.XTestImports...)
}

// List runs `go list -json` for packages of ours, named relative to
// Module ("policy", "store/bolt"), and returns them in order.
// It skips the test when the go tool is missing, unless CI is set; any
// other failure of the go tool fails the test.
func List(t testing.TB, pkgs ...string) []Package {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("deptest: go tool not found (CI is set, so this is a failure): %v", err)
		}
		t.Skipf("deptest: go tool not found: %v", err)
	}
	args := []string{"list", "-json"}
	for _, p := range pkgs {
		args = append(args, Module+"/"+p)
	}
	cmd := exec.Command(goTool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deptest: go list %v: %v\n%s", pkgs, err, stderr.Bytes())
	}
	var list []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deptest: decoding go list output: %v", err)
		}
		list = append(list, p)
	}
	if len(list) != len(pkgs) {
		t.Fatalf("deptest: go list returned %d packages for %d asked", len(list), len(pkgs))
	}
	return list
}

// Within reports whether import path imp is prefix or a package below it
// ("net" covers "net/http" but not "netip").
func Within(imp, prefix string) bool {
	return imp == prefix || strings.HasPrefix(imp, prefix+"/")
}

// Ours reports whether imp is one of Roster's packages.
func Ours(imp string) bool { return Within(imp, Module) }

// IsStd reports whether imp is in the standard library: its first element
// has no dot.
func IsStd(imp string) bool {
	return !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
}
