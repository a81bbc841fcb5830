package oidc

import (
	"html/template"
	"net/http"
)

// loginPage is the data of the sign-in page. Step is "tenant" (ask for the
// company) or "password".
type loginPage struct {
	Step       string
	Req        string
	CSRF       string
	Client     string
	Tenant     string
	TenantName string
	UserName   string
	Error      string
}

// The pages work without JavaScript; every input has a label; errors are
// announced (role=alert) and linked to the form (aria-describedby).
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.}} – Roster</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.25rem;padding:.5rem 1.25rem;font-size:1rem}
.error{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}
</style>
</head>
<body>
<main>
{{end}}
{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in</h1>
<p>to continue to <strong>{{.Client}}</strong></p>
{{if .Error}}<p class="error" id="form-error" role="alert">{{.Error}}</p>{{end}}
{{if eq .Step "tenant"}}
<form method="post" action="login" {{if .Error}}aria-describedby="form-error"{{end}}>
<input type="hidden" name="req" value="{{.Req}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="step" value="tenant">
<label for="tenant">Company</label>
<input type="text" id="tenant" name="tenant" value="{{.Tenant}}" required autofocus autocomplete="organization" aria-describedby="tenant-help">
<p id="tenant-help">The short name of your company, for example <code>acme</code>.</p>
<button type="submit">Continue</button>
</form>
{{else}}
<p>Company: <strong>{{if .TenantName}}{{.TenantName}}{{else}}{{.Tenant}}{{end}}</strong></p>
<form method="post" action="login" {{if .Error}}aria-describedby="form-error"{{end}}>
<input type="hidden" name="req" value="{{.Req}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="step" value="password">
<input type="hidden" name="tenant" value="{{.Tenant}}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{{.UserName}}" required autocomplete="username" {{if not .UserName}}autofocus{{end}}>
<label for="password">Password</label>
<input type="password" id="password" name="password" required autocomplete="current-password" {{if .UserName}}autofocus{{end}}>
<button type="submit">Sign in</button>
</form>
<p><a href="login?req={{.Req}}">Choose another company</a></p>
{{end}}
{{template "foot"}}{{end}}

{{define "error"}}{{template "head" "Sign-in problem"}}
<h1>Sign-in problem</h1>
<p class="error" role="alert">{{.}}</p>
{{template "foot"}}{{end}}

{{define "loggedout"}}{{template "head" "Signed out"}}
<h1>You are signed out</h1>
<p>You can close this window.</p>
{{template "foot"}}{{end}}
`))

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, page loginPage) {
	setPageHeaders(w)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "login", page); err != nil {
		p.log.Error("oidc: rendering sign-in page", "err", err)
	}
}

func (p *Provider) errorPage(w http.ResponseWriter, status int, msg string) {
	setPageHeaders(w)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "error", msg); err != nil {
		p.log.Error("oidc: rendering error page", "err", err)
	}
}
