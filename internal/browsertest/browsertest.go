// Package browsertest finds the headless browser and the screenshot folder
// for the tests that drive real Chromium (the sign-in pages in oidc, the
// portal). It is for tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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

// Open starts the headless Chromium at exe with a width×height window
// and its own cookies, and returns its context; the browser is stopped
// when the test ends. The context is bounded (three minutes) against a
// hung browser: a bound, not a performance assertion.
func Open(t testing.TB, exe string, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests may run as root
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// Run does steps in the browser of ctx; an error fails the test, named
// by what.
func Run(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Screenshot saves the whole page of the browser of ctx as dir/name.png.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
