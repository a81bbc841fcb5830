package main

import (
	"context"
	"crypto/tls"
	"fmt"
	netmail "net/mail"
	"os"
	"strings"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/mail"
)

// mailSection is the top-level `mail:` section:
//
//	mail:
//	  smtp: {host: smtp.example.com, port: 587, tls: auto, username: roster, passwordFile: /run/secrets/smtp}
//	  from: groups@example.com
//	  replyTo: community@example.com
//	  dkim: {domain: example.com, selector: roster2031, keyFile: /run/secrets/dkim.pem}
//	  rateLimits: {perDomain: 10, domains: {gmail.com: 5}}   # messages per second
//	  workers: 4
//
// smtp.tls is auto (STARTTLS, verified, whenever the server offers it;
// the default), starttls (required), implicit (TLS from the first byte,
// port 465) or none; smtp.startTLS: true is the same as tls: starttls.
// from may also be written inside smtp.
type mailSection struct {
	SMTP struct {
		Host         string `yaml:"host"`
		Port         int    `yaml:"port"`
		TLS          string `yaml:"tls"`
		StartTLS     *bool  `yaml:"startTLS"`
		Username     string `yaml:"username"`
		Password     string `yaml:"password"`
		PasswordFile string `yaml:"passwordFile"`
		From         string `yaml:"from"`
	} `yaml:"smtp"`
	From    string `yaml:"from"`
	ReplyTo string `yaml:"replyTo"`
	DKIM    *struct {
		Domain   string `yaml:"domain"`
		Selector string `yaml:"selector"`
		KeyFile  string `yaml:"keyFile"`
	} `yaml:"dkim"`
	RateLimits struct {
		PerDomain float64            `yaml:"perDomain"`
		Domains   map[string]float64 `yaml:"domains"`
	} `yaml:"rateLimits"`
	Workers int `yaml:"workers"`

	dkim *mail.DKIM // read from DKIM.KeyFile
}

// decodeMail decodes and checks the mail section; ok is false when there
// is none.
func decodeMail(cfg *config.Config) (sec mailSection, from netmail.Address, ok bool, err error) {
	if cfg.Mail.Kind == 0 {
		return sec, from, false, nil
	}
	if err := config.Section(cfg.Mail, "mail", &sec); err != nil {
		return sec, from, false, err
	}
	s := &sec.SMTP
	if s.Host == "" {
		return sec, from, false, &config.Error{Field: "mail.smtp.host", Msg: "is required"}
	}
	if s.StartTLS != nil {
		if s.TLS != "" {
			return sec, from, false, &config.Error{Field: "mail.smtp.startTLS", Msg: "use tls or startTLS, not both"}
		}
		s.TLS = mail.TLSStartTLS
		if !*s.StartTLS {
			s.TLS = mail.TLSNone
		}
	}
	switch s.TLS {
	case "":
		s.TLS = mail.TLSAuto
	case mail.TLSAuto, mail.TLSStartTLS, mail.TLSImplicit, mail.TLSNone:
	default:
		return sec, from, false, &config.Error{Field: "mail.smtp.tls", Msg: fmt.Sprintf("%q is not one of auto, starttls, implicit, none", s.TLS)}
	}
	if s.Port == 0 {
		s.Port = 587
		if s.TLS == mail.TLSImplicit {
			s.Port = 465
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		return sec, from, false, &config.Error{Field: "mail.smtp.port", Msg: "must be from 1 to 65535"}
	}
	if s.Password != "" && s.PasswordFile != "" {
		return sec, from, false, &config.Error{Field: "mail.smtp.passwordFile", Msg: "use password or passwordFile, not both"}
	}
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return sec, from, false, &config.Error{Field: "mail.smtp.passwordFile", Msg: "cannot be read"}
		}
		s.Password = strings.TrimRight(string(b), "\r\n")
	}
	addr := sec.From
	if addr == "" {
		addr = s.From
	}
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return sec, from, false, &config.Error{Field: "mail.from", Msg: "needs an e-mail address"}
	}
	if sec.ReplyTo != "" {
		if _, err := netmail.ParseAddress(sec.ReplyTo); err != nil {
			return sec, from, false, &config.Error{Field: "mail.replyTo", Msg: "is not an e-mail address"}
		}
	}
	if d := sec.DKIM; d != nil {
		if d.Domain == "" || d.Selector == "" || d.KeyFile == "" {
			return sec, from, false, &config.Error{Field: "mail.dkim", Msg: "needs domain, selector and keyFile"}
		}
		b, err := os.ReadFile(d.KeyFile)
		if err != nil {
			return sec, from, false, &config.Error{Field: "mail.dkim.keyFile", Msg: "cannot be read"}
		}
		key, err := mail.ParseDKIMKey(b)
		if err != nil {
			return sec, from, false, &config.Error{Field: "mail.dkim.keyFile", Msg: "holds no RSA or Ed25519 private key in PEM"}
		}
		sec.dkim = &mail.DKIM{Domain: strings.ToLower(d.Domain), Selector: d.Selector, Key: key}
	}
	rl := sec.RateLimits
	if rl.PerDomain < 0 {
		return sec, from, false, &config.Error{Field: "mail.rateLimits.perDomain", Msg: "must not be negative"}
	}
	for dom, r := range rl.Domains {
		if r < 0 || dom == "" {
			return sec, from, false, &config.Error{Field: "mail.rateLimits.domains", Msg: fmt.Sprintf("%q: a domain and a rate of at least 0", dom)}
		}
		if low := strings.ToLower(dom); low != dom {
			delete(rl.Domains, dom)
			rl.Domains[low] = r
		}
	}
	if sec.Workers < 0 || sec.Workers > 64 {
		return sec, from, false, &config.Error{Field: "mail.workers", Msg: "must be from 1 to 64"}
	}
	return sec, *a, true, nil
}

// wireMail starts the outbox (one replica at a time, under a lease) and
// mounts the unsubscribe and preference pages when mail is configured.
func (a *app) wireMail(p *protocolSet) error {
	sec, from, ok, err := decodeMail(a.cfg)
	if err != nil || !ok {
		return err
	}
	svc, err := mail.New(mail.Config{
		Logger: a.log.With("component", "mail"),
		Store:  a.store,
		Engine: a.engine,
		Sender: &mail.SMTP{
			Host: sec.SMTP.Host, Port: sec.SMTP.Port, TLS: sec.SMTP.TLS,
			Username: sec.SMTP.Username, Password: sec.SMTP.Password,
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
			DKIM:      sec.dkim,
			MaxIdle:   sec.Workers,
		},
		From:       from,
		ReplyTo:    sec.ReplyTo,
		BaseURL:    a.cfg.Issuer,
		Workers:    sec.Workers,
		RateLimits: mail.RateLimits{PerDomain: sec.RateLimits.PerDomain, Domains: sec.RateLimits.Domains},
	})
	if err != nil {
		return err
	}
	h := svc.Handler()
	for _, pat := range mail.HandlerPatterns {
		p.handlers = append(p.handlers, mounted{pattern: pat, component: "mail", handler: h})
	}
	a.jobs = append(a.jobs, a.leased("mail", func(ctx context.Context) { _ = svc.Run(ctx) }))
	return nil
}
