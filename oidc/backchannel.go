package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// backchannelEvent is the event a logout token carries (OpenID Connect
// Back-Channel Logout 1.0 §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// backchannelAttempts bounds the deliveries of one logout token.
const backchannelAttempts = 5

// logoutToken builds and signs the logout token for client c about
// session s (Back-Channel Logout §2.4): iss, aud, iat, exp, jti, sub, sid
// and the event, typed "logout+jwt" (§2.4, RFC 8417 §2.3), never a nonce.
func (p *Provider) logoutToken(ctx context.Context, c *ClientConfig, s sessionRecord) (string, error) {
	now := p.now()
	claims := map[string]any{
		"iss": p.issuer, "aud": c.ID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomString(16), "sub": string(s.User), "sid": s.ID,
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = p.cfg.DefaultAlg
	}
	return p.keys.signTyped(ctx, alg, "logout+jwt", payload)
}

// backchannelLogout tells every client of an ended session that has a
// backchannelLogoutURI, in the background: a POST of logout_token
// (§2.5), retried with a doubling delay on a network error, a 5xx or a
// 429, at most backchannelAttempts times. A client deleted or created
// again since the session used it is skipped.
func (p *Provider) backchannelLogout(s sessionRecord) {
	for _, sc := range s.Clients {
		c, err := p.clients.get(context.Background(), sc.ID)
		if err != nil || c.Instance != sc.Inst || c.BackchannelLogoutURI == "" {
			continue
		}
		tok, err := p.logoutToken(context.Background(), c, s)
		if err != nil {
			p.log.Error("oidc: signing logout token", "client", c.ID, "err", err)
			continue
		}
		p.bcWG.Add(1)
		go func(c *ClientConfig) {
			defer p.bcWG.Done()
			p.deliverLogout(c.ID, c.BackchannelLogoutURI, tok)
		}(c)
	}
}

func (p *Provider) deliverLogout(client, uri, tok string) {
	delay := p.cfg.BackchannelBackoff
	for attempt := 1; ; attempt++ {
		retry, err := p.postLogout(uri, tok)
		if err == nil {
			p.log.Info("oidc: back-channel logout delivered", "client", client, "attempt", attempt)
			return
		}
		if !retry || attempt == backchannelAttempts {
			p.log.Warn("oidc: back-channel logout failed", "client", client, "attempt", attempt, "err", err)
			return
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// postLogout sends one logout token; it reports whether a failure is
// worth retrying.
func (p *Provider) postLogout(uri, tok string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.BackchannelHTTPClient.Do(req)
	if err != nil {
		return true, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("oidc: back-channel logout: %s", resp.Status)
	}
	return false, fmt.Errorf("oidc: back-channel logout: %s", resp.Status)
}

// WaitBackchannel waits until every back-channel logout started so far
// has been delivered or given up (for tests and shutdown).
func (p *Provider) WaitBackchannel() { p.bcWG.Wait() }
