package mail

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSubject(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"short", "  Pizza night ", "Pizza night"},
		{"line breaks", "Pizza\r\nnight\tat 7", "Pizza  night at 7"},
		{"exactly the bound", strings.Repeat("a", MaxSubjectBytes), strings.Repeat("a", MaxSubjectBytes)},
		{"ascii cut", strings.Repeat("a", 250), strings.Repeat("a", MaxSubjectBytes-3) + "…"},
		{"two-byte letters cut between them", "x" + strings.Repeat("é", 150), "x" + strings.Repeat("é", 98) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Subject(tt.in)
			if got != tt.want {
				t.Errorf("Subject(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len(got) > MaxSubjectBytes || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n") {
				t.Errorf("Subject(%q) = %q: not a subject line", tt.in, got)
			}
		})
	}
}
