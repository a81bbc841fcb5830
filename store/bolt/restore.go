package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Restore replaces the store file dbPath with the backup at backupPath. It
// is meant for `roster restore` while the server is stopped: it does not
// coordinate with a process that has dbPath open (and the file lock makes
// it wait, up to a second, then fail).
//
// The backup must be a Roster bbolt file of a schema version this build
// reads (ErrSchema otherwise) whose indexes verify. The copy is written
// next to dbPath, synced, and renamed over it, so dbPath is either the old
// file or the complete new one.
func Restore(backupPath, dbPath string) error {
	// Validate the backup, read-only.
	bs, err := open(backupPath, Options{Timeout: time.Second}, true)
	if err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	verr := bs.Verify(context.Background())
	if err := bs.Close(); err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	if verr != nil {
		return fmt.Errorf("bolt: restore: backup %s: %w", backupPath, verr)
	}

	// Make sure no server holds the target.
	if _, err := os.Stat(dbPath); err == nil {
		// A corrupt target may be replaced; a locked one may not.
		cur, err := open(dbPath, Options{Timeout: time.Second}, true)
		if errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("bolt: restore: %s is in use: %w", dbPath, err)
		}
		if err == nil {
			cur.Close()
		}
	}

	dir := filepath.Dir(dbPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	src, err := os.Open(backupPath)
	if err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, filepath.Base(dbPath)+".restore-*")
	if err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("bolt: restore: %w", err)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("bolt: restore: copy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("bolt: restore: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	if err := os.Rename(tmp.Name(), dbPath); err != nil {
		return fmt.Errorf("bolt: restore: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
