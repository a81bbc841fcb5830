package main

import (
	"context"
	"errors"
	"io"
)

// cmdSync runs one directory sync (wired to package ldap).
func cmdSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("sync: not wired yet")
}
