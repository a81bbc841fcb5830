package portal

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
)

// TestCSVRowDefusesFormulas: every cell of the CSV exports (the members
// list, the analytics tables) that a spreadsheet would run as a formula
// is written after a quote; other cells are kept as they are, and the
// file reads back as written.
func TestCSVRowDefusesFormulas(t *testing.T) {
	in := []string{"=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "LUG London", "", "2031-03", "a=b"}
	want := []string{"'=HYPERLINK(\"https://evil.example\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "LUG London", "", "2031-03", "a=b"}
	got := csvRow(in)
	if !slices.Equal(got, want) {
		t.Fatalf("csvRow = %q, want %q", got, want)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(got); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	back, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range back {
		if v != "" && slices.Contains([]byte("=+-@"), v[0]) {
			t.Errorf("cell %d reads back as a formula: %q", i, v)
		}
	}
}
