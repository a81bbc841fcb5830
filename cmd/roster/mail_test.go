package main

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/mail"
)

// TestMailSection: the mail section's forms and the errors that name
// their field.
func TestMailSection(t *testing.T) {
	tests := []struct {
		name, section, wantErr, wantTLS string
		wantPort                        int
	}{
		{"issue form", `mail: {smtp: {host: smtp.example.com, tls: implicit, username: u}, from: "Groups <groups@example.com>", replyTo: c@example.com}`, "", mail.TLSImplicit, 465},
		{"brief form", `mail: {smtp: {host: 127.0.0.1, port: 1025, from: groups@example.com, startTLS: false}}`, "", mail.TLSNone, 1025},
		{"default tls", `mail: {smtp: {host: smtp.example.com}, from: groups@example.com}`, "", mail.TLSAuto, 587},
		{"no host", `mail: {smtp: {port: 25}, from: groups@example.com}`, "mail.smtp.host", "", 0},
		{"bad tls", `mail: {smtp: {host: h, tls: ssl}, from: groups@example.com}`, "mail.smtp.tls", "", 0},
		{"no from", `mail: {smtp: {host: h}}`, "mail.from", "", 0},
		{"dkim incomplete", `mail: {smtp: {host: h}, from: a@b.c, dkim: {domain: example.com}}`, "mail.dkim", "", 0},
		{"dkim unreadable", `mail: {smtp: {host: h}, from: a@b.c, dkim: {domain: example.com, selector: s, keyFile: /nonexistent/dkim.pem}}`, "mail.dkim.keyFile", "", 0},
		{"negative rate", `mail: {smtp: {host: h}, from: a@b.c, rateLimits: {perDomain: -1}}`, "mail.rateLimits.perDomain", "", 0},
		{"rates", `mail: {smtp: {host: h}, from: a@b.c, rateLimits: {perDomain: 10, domains: {Gmail.com: 2}}, workers: 8}`, "", mail.TLSAuto, 587},
		{"unknown key", `mail: {smtp: {host: h, pasword: x}, from: a@b.c}`, "pasword", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "issuer: https://roster.example\nadmin: {tokens: [\"0123456789abcdef0123\"]}\n" + tt.section + "\n"
			cfg, err := config.Parse([]byte(doc), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			sec, from, ok, err := decodeMail(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !ok || from.Address == "" {
				t.Fatalf("decodeMail: %v %v %v", from, ok, err)
			}
			if sec.SMTP.TLS != tt.wantTLS || sec.SMTP.Port != tt.wantPort {
				t.Errorf("tls %q port %d, want %q %d", sec.SMTP.TLS, sec.SMTP.Port, tt.wantTLS, tt.wantPort)
			}
		})
	}
}
