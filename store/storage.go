package store

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrStorage: the storage medium failed — out of space, over quota, a
// read-only file system, an I/O error. Nothing of the failed write was
// kept; writes succeed again once the medium recovers. Protocol edges
// answer it as a storage condition (507 or 503), never as a bug.
var ErrStorage = errors.New("store: storage unavailable")

// storageErrnos are the errors of the medium that StorageError marks.
var storageErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO}

// StorageError returns err wrapped with ErrStorage when it is a failure of
// the storage medium, and err unchanged otherwise. Backends pass every
// error of a commit through it.
func StorageError(err error) error {
	if err == nil || errors.Is(err, ErrStorage) {
		return err
	}
	for _, e := range storageErrnos {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	return err
}
