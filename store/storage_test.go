package store

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestStorageError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"out of space", &fs.PathError{Op: "write", Path: "roster.db", Err: syscall.ENOSPC}, true},
		{"read-only", fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: "roster.db", Err: syscall.EROFS}), true},
		{"quota", syscall.EDQUOT, true},
		{"not found", ErrNotFound, false},
		{"other errno", syscall.EINVAL, false},
	}
	for _, tt := range tests {
		got := StorageError(tt.err)
		if errors.Is(got, ErrStorage) != tt.want {
			t.Errorf("%s: StorageError(%v) = %v, ErrStorage %v", tt.name, tt.err, got, !tt.want)
		}
		if tt.err != nil && !errors.Is(got, tt.err) {
			t.Errorf("%s: the cause is lost: %v", tt.name, got)
		}
	}
}
