// Package browsertest finds the headless browser and the screenshot folder
// for the tests that drive real Chromium (the sign-in pages in oidc, the
// portal). It is for tests only.
package browsertest

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of Debian's chromium. Without it the test is
// skipped, except under CI (env CI set), where a missing browser is a
// failure: scripts/deps/chromium.sh installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (scripts/deps/chromium.sh installs it); CI needs the browser tests")
	}
	t.Skip("chromium is not installed; run scripts/deps/chromium.sh")
	return ""
}

// ScreenshotDir returns the folder the test saves its screenshots to: the
// one named by the environment variable env, or a new temporary folder
// named after prefix that is kept after the test. The test logs it.
func ScreenshotDir(t testing.TB, env, prefix string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", prefix); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}
