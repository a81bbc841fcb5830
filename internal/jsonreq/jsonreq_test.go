package jsonreq

import (
	"context"
	"io"
	"net/http"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		in       any
		wantBody string
		wantCT   string
	}{
		{"with a body", map[string]int{"a": 1}, `{"a":1}`, "application/scim+json"},
		{"without", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := New(context.Background(), http.MethodPost, "http://127.0.0.1:9/x", "tok", "application/scim+json", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != "Bearer tok" {
				t.Errorf("Authorization = %q", got)
			}
			if got := req.Header.Get("Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantCT)
			}
			var body string
			if req.Body != nil {
				b, _ := io.ReadAll(req.Body)
				body = string(b)
			}
			if body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
		})
	}
	if _, err := New(context.Background(), http.MethodPost, "http://127.0.0.1:9/x", "tok", "application/json", func() {}); err == nil {
		t.Error("a value that does not encode: no error")
	}
}
