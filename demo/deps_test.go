package demo_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps package demo pure: only package policy and the
// standard library, and no I/O package directly.
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-f", `{{join .Imports " "}}`, "github.com/roster-dev/roster/demo").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "github.com/roster-dev/roster/policy":
		case strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
			t.Errorf("demo imports %s (only policy and the standard library are allowed)", p)
		case p == "os", p == "io", p == "syscall", strings.HasPrefix(p, "os/"), strings.HasPrefix(p, "net"), strings.HasPrefix(p, "io/"):
			t.Errorf("demo imports %s: it must do no I/O", p)
		}
	}
}
