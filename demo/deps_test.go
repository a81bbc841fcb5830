package demo_test

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/deptest"
)

// TestImports keeps package demo pure: only package policy and the
// standard library, and no I/O package directly.
func TestImports(t *testing.T) {
	for _, p := range deptest.List(t, "demo")[0].Imports {
		switch {
		case p == deptest.Module+"/policy":
		case !deptest.IsStd(p):
			t.Errorf("demo imports %s (only policy and the standard library are allowed)", p)
		case p == "os", p == "io", p == "syscall", strings.HasPrefix(p, "os/"), strings.HasPrefix(p, "net"), strings.HasPrefix(p, "io/"):
			t.Errorf("demo imports %s: it must do no I/O", p)
		}
	}
}
