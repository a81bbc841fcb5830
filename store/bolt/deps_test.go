package bolt

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the dependency arrows: the store packages import only
// policy and store of ours, never a protocol package or cmd.
func TestImports(t *testing.T) {
	const mod = "github.com/roster-dev/roster/"
	allowed := map[string]bool{mod + "policy": true, mod + "store": true, mod + "store/storetest": true}
	for _, dir := range []string{".", "../storetest"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		imports := append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...)
		for _, imp := range imports {
			if strings.HasPrefix(imp, mod) && !allowed[imp] {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
		if dir == "." {
			for _, imp := range pkg.Imports {
				if imp == mod+"store/storetest" || imp == "testing" {
					t.Errorf("non-test code of %s imports %s", pkg.ImportPath, imp)
				}
			}
		}
	}
}
