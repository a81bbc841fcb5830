package scim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sequence is a recorded provisioning sequence of an identity provider,
// kept under testdata/replay/ and replayed request by request.
type sequence struct {
	Description string `json:"description"`
	Steps       []step `json:"steps"`
}

// step is one exchange. Path is relative to /scim/v2/{tenant}; "${name}"
// in Path, Body and Expect is replaced by a value saved by an earlier step.
// Expect maps "/"-separated paths of the response body to their expected
// JSON values; Absent lists paths that must not be there; Len gives array
// lengths; Save stores response values (by path) under a name.
type step struct {
	Name        string            `json:"name"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	ContentType string            `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	Body        json.RawMessage   `json:"body"`
	Status      int               `json:"status"`
	Expect      map[string]any    `json:"expect"`
	Absent      []string          `json:"absent"`
	Len         map[string]int    `json:"len"`
	Save        map[string]string `json:"save"`
}

func TestReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/replay/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var seq sequence
			if err := json.Unmarshal(raw, &seq); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			replay(t, newEnv(t), seq)
		})
	}
}

func replay(t *testing.T, e *env, seq sequence) {
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		return s
	}
	for i, st := range seq.Steps {
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		var hdr []string
		if st.ContentType != "" {
			hdr = append(hdr, "Content-Type", st.ContentType)
		}
		for k, v := range st.Headers {
			hdr = append(hdr, k, subst(v))
		}
		r := e.acme(t, st.Method, subst(st.Path), body, hdr...)
		where := func() string { return "step " + itoa(i) + " (" + st.Name + ") " + st.Method + " " + subst(st.Path) }
		if r.status != st.Status {
			t.Fatalf("%s: status %d, want %d\n%s", where(), r.status, st.Status, r.raw)
		}
		for p, want := range st.Expect {
			got, ok := dig(r.body, subst(p))
			if ws, isStr := want.(string); isStr {
				want = subst(ws)
			}
			if !ok {
				t.Errorf("%s: %s missing, want %v\n%s", where(), p, want, r.raw)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s = %#v, want %#v", where(), p, got, want)
			}
		}
		for _, p := range st.Absent {
			if v, ok := dig(r.body, p); ok {
				t.Errorf("%s: %s present (%v), want absent", where(), p, v)
			}
		}
		for p, n := range st.Len {
			v, _ := dig(r.body, p)
			l, ok := v.([]any)
			if !ok || len(l) != n {
				t.Errorf("%s: len(%s) = %v, want %d\n%s", where(), p, v, n, r.raw)
			}
		}
		for name, p := range st.Save {
			v, ok := dig(r.body, p)
			if !ok {
				t.Fatalf("%s: cannot save %s from %s\n%s", where(), name, p, r.raw)
			}
			s, _ := v.(string)
			vars[name] = s
		}
	}
}
