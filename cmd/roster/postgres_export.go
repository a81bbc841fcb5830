package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// refusePostgresExport answers `roster restore --in FILE` when FILE is the
// JSON-lines export a server on PostgreSQL writes for `roster backup`
// (its first line: {"format":"roster-postgres-export",…}): restore reads
// bbolt backups only, and says what to use instead. Other files, readable
// or not, are left to bolt.Restore.
func refusePostgresExport(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(f, 4096).ReadSlice('\n')
	var head struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(line, &head) != nil || head.Format != "roster-postgres-export" {
		return nil
	}
	return fmt.Errorf("restore: %s is the export of a PostgreSQL store (what `roster backup` gets from a server on PostgreSQL), "+
		"not a bbolt backup: roster restore cannot read it. %s To move a PostgreSQL store to a bbolt file, run "+
		"roster store copy --from postgres:DSN --to bbolt:PATH", path, pgDumpHint)
}
