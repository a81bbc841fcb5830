package bolt

import (
	"testing"

	"github.com/roster-dev/roster/internal/deptest"
)

// TestImports keeps the dependency arrows: the store packages import only
// policy and store of ours, never a protocol package or cmd.
func TestImports(t *testing.T) {
	const mod = deptest.Module + "/"
	allowed := map[string]bool{mod + "policy": true, mod + "store": true, mod + "store/storetest": true, mod + "internal/deptest": true}
	for _, pkg := range deptest.List(t, "store/bolt", "store/storetest") {
		for _, imp := range pkg.AllImports() {
			if deptest.Ours(imp) && !allowed[imp] {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
		if pkg.ImportPath == mod+"store/bolt" {
			for _, imp := range pkg.Imports {
				if imp == mod+"store/storetest" || imp == "testing" || imp == mod+"internal/deptest" {
					t.Errorf("non-test code of %s imports %s", pkg.ImportPath, imp)
				}
			}
		}
	}
}
