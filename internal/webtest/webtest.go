// Package webtest drives server-rendered pages over HTTP as a browser
// without JavaScript would: read a page, fill its first form, post it. It
// is for tests only (the portal's and the roster binary's).
package webtest

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*>`)
	attrRE  = regexp.MustCompile(`([\w-]+)="([^"]*)"`)
)

// SubmitFirstForm reads page (closing its body), fills the first form on
// it with its inputs' values overridden by values, and posts it with c.
// It fails the test when the page has no form.
func SubmitFirstForm(t testing.TB, c *http.Client, page *http.Response, values map[string]string) *http.Response {
	t.Helper()
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := formRE.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no form on %s:\n%s", page.Request.URL, b)
	}
	form := url.Values{}
	for _, in := range inputRE.FindAllString(m[2], -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if attrs["name"] != "" {
			form.Set(attrs["name"], attrs["value"])
		}
	}
	for k, v := range values {
		form.Set(k, v)
	}
	action, err := page.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.PostForm(action.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
