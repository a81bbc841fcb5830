package main

import (
	"bytes"
	"fmt"
	"mime"
	netmail "net/mail"
	"path/filepath"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/mailpit"
)

// TestDemoSMTP: `roster demo --smtp` sends the demo's mail to a real
// Mailpit: the welcome announcement to LUG London's members and the
// invitations (text/calendar; method=REQUEST) to the seeded meetings.
func TestDemoSMTP(t *testing.T) {
	mp := mailpit.Start(t)
	addr := freeAddr(t)
	s := startServer(t, "demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "data"), "--smtp", fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort))
	s.waitReady(t, "http://"+addr)
	dec := new(mime.WordDecoder)
	deadline := time.Now().Add(60 * time.Second)
	for {
		welcome, invites := map[string]bool{}, 0
		for _, raw := range mp.Raw() {
			m, err := netmail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
			if subj == "Welcome to the Roster demo" {
				welcome[m.Header.Get("To")] = true
			}
			if bytes.Contains(raw, []byte("text/calendar; method=REQUEST")) {
				invites++
			}
		}
		if len(welcome) > 0 && invites > 0 {
			t.Logf("%d welcomes, %d invitations", len(welcome), invites)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %d welcomes, %d invitations", len(welcome), invites)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
