package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreRefusesPostgresExport: `roster restore` given the JSON-lines
// export of a server on PostgreSQL says what it is and points to pg_dump
// and store copy, and leaves the target alone.
func TestRestoreRefusesPostgresExport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "roster.backup")
	if err := os.WriteFile(in, []byte(`{"format":"roster-postgres-export","schema":1,"time":"2026-01-01T00:00:00Z"}`+"\n"+
		`{"table":"tenants","row":{"id":"acme","data":{}}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "restore", "--in", in, "--data", dir).CombinedOutput()
	if err == nil {
		t.Fatalf("restore accepted a PostgreSQL export:\n%s", out)
	}
	for _, want := range []string{"export of a PostgreSQL store", "pg_dump", "pg_restore", "store copy --from postgres:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("restore's answer lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "roster.db")); err == nil {
		t.Error("restore created the store file")
	}
}
