package pgtest

import (
	"errors"
	"testing"
)

func TestStartWithoutBinaries(t *testing.T) {
	old := BinDirs
	BinDirs = []string{t.TempDir()}
	t.Cleanup(func() { BinDirs = old })
	t.Setenv("PATH", t.TempDir())
	if _, err := Start(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start without binaries = %v, want ErrNotInstalled", err)
	}
}
