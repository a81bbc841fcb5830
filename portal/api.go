package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/internal/jsonreq"
)

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the input field at fault, when the API names one.
	Field string `json:"field"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API %d %s: %s", e.Status, e.Code, e.Message)
}

// errSignedOut: the session's tokens no longer work; the user must sign
// in again.
var errSignedOut = errors.New("portal: signed out")

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// api calls the admin API as the session's user.
type api struct {
	p *Portal
	s *session
}

// token returns a current access token, refreshing it when it has expired
// (the refresh token rotates; the new pair is kept).
func (a api) token(ctx context.Context) (string, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.s.token == nil {
		return "", errSignedOut
	}
	if a.s.token.Valid() {
		return a.s.token.AccessToken, nil
	}
	oc, _, err := a.p.setup(ctx)
	if err != nil {
		return "", err
	}
	t, err := oc.TokenSource(a.p.clientCtx(ctx), a.s.token).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			a.s.token = nil
			return "", errSignedOut
		}
		return "", err
	}
	a.s.token = t
	return t.AccessToken, nil
}

// do sends one request; in (if not nil) is the JSON body, out (if not
// nil) receives the JSON answer.
func (a api) do(ctx context.Context, method, path string, in, out any) error {
	tok, err := a.token(ctx)
	if err != nil {
		return err
	}
	req, err := jsonreq.New(ctx, method, a.p.cfg.API+"/api/v1"+path, tok, "application/json", in)
	if err != nil {
		return err
	}
	resp, err := a.p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("portal: admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		a.s.mu.Lock()
		a.s.token = nil
		a.s.mu.Unlock()
		return errSignedOut
	}
	return readAnswer(resp, method, path, out)
}

// readAnswer reads an admin API answer: an error answer as an *apiError,
// else the JSON body into out (if not nil).
func readAnswer(resp *http.Response, method, path string, out any) error {
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil {
		return fmt.Errorf("portal: admin API answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (a api) get(ctx context.Context, path string, out any) error {
	return a.do(ctx, http.MethodGet, path, nil, out)
}

func esc(s string) string { return url.PathEscape(s) }

// The admin API's answers, as far as the portal reads them.

type charter struct {
	Applies   bool    `json:"applies"`
	Members   int     `json:"members"`
	InParent  int     `json:"inParent"`
	Ratio     float64 `json:"ratio"`
	Threshold float64 `json:"threshold"`
	Chartered bool    `json:"chartered"`
}

type meeting struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	TimeZone    string     `json:"timeZone"`
	RRule       string     `json:"rrule"`
	Location    string     `json:"location"`
	Address     string     `json:"address"`
	OnlineURL   string     `json:"onlineUrl"`
	Capacity    int        `json:"capacity"`
	Sequence    int        `json:"sequence"`
	Cancelled   bool       `json:"cancelled"`
	Next        *time.Time `json:"next"`
	Going       int        `json:"going"`
	NotGoing    int        `json:"notGoing"`
	Mine        *bool      `json:"mine"`
}

// Zone is the meeting's time zone (UTC when unknown).
func (m meeting) Zone() *time.Location {
	if loc, err := time.LoadLocation(m.TimeZone); err == nil && m.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// When is the next (or only) start, shown in the meeting's zone.
func (m meeting) When() time.Time {
	t := m.Start
	if m.Next != nil {
		t = *m.Next
	}
	return t.In(m.Zone())
}

// Repeats says the recurrence rule in words, as far as it can.
func (m meeting) Repeats() string { return describeRRule(m.RRule) }

type group struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Kind        string    `json:"kind"`
	Parent      string    `json:"parent"`
	Join        string    `json:"join"`
	Meetings    []meeting `json:"meetings"`
	Version     uint64    `json:"version"`
	Charter     *charter  `json:"charter"`
	MemberCount int       `json:"memberCount"`
	Archived    bool      `json:"archived"`
	// Public: the group has a public page (portal/public.go).
	Public bool `json:"public"`
}

// joinRequest is a membership request (admin API: join-requests).
type joinRequest struct {
	Group     string    `json:"group"`
	User      string    `json:"user"`
	Tenant    string    `json:"tenant"`
	State     string    `json:"state"`
	Message   string    `json:"message"`
	Created   time.Time `json:"created"`
	Decided   time.Time `json:"decided"`
	DecidedBy string    `json:"decidedBy"`
	Reason    string    `json:"reason"`
	// The asker's names, for those who decide.
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
}

// Name names the asker.
func (j joinRequest) Name() string {
	n := j.DisplayName
	if n == "" {
		n = j.UserName
	}
	return n + " (" + j.Tenant + "/" + j.UserName + ")"
}

// joinState is where the signed-in person stands with a group.
type joinState struct {
	Join     string       `json:"join"`
	Member   bool         `json:"member"`
	CanLeave bool         `json:"canLeave"`
	Request  *joinRequest `json:"request"`
}

type member struct {
	User        string   `json:"user"`
	Role        string   `json:"role"`
	Origins     []string `json:"origins"`
	Tenant      string   `json:"tenant"`
	UserName    string   `json:"userName"`
	DisplayName string   `json:"displayName"`
}

type role struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	Inherit     bool     `json:"inherit"`
}

type rule struct {
	ID             string `json:"id"`
	Tenant         string `json:"tenant"`
	DirGroup       string `json:"dirGroup"`
	DirGroupName   string `json:"dirGroupName"`
	DirGroupSource string `json:"dirGroupSource"`
	Role           string `json:"role"`
}

type person struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
	Active      bool   `json:"active"`
	Source      string `json:"source"`
	Groups      []struct {
		Group       string   `json:"group"`
		Slug        string   `json:"slug"`
		Name        string   `json:"name"`
		Role        string   `json:"role"`
		Origins     []string `json:"origins"`
		Permissions []string `json:"permissions"`
		Rules       []rule   `json:"rules"`
	} `json:"groups"`
}

type step struct {
	Kind, Text, Object, Source string
}

type explanation struct {
	User       string `json:"user"`
	Permission string `json:"permission"`
	Group      string `json:"group"`
	Allowed    bool   `json:"allowed"`
	Steps      []step `json:"steps"`
	Reason     string `json:"reason"`
}

type change struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Tenant string          `json:"tenant"`
	Kind   string          `json:"kind"`
	Op     string          `json:"op"`
	ID     string          `json:"id"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

type syncStatus struct {
	Tenant          string    `json:"tenant"`
	Directory       string    `json:"directory"`
	Mode            string    `json:"mode"`
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
	UsersRead       int       `json:"usersRead"`
	GroupsRead      int       `json:"groupsRead"`
	Error           string    `json:"error"`
	Errors          []string  `json:"errors"`
	Guard           string    `json:"guard"`
	PendingApproval bool      `json:"pendingApproval"`
}

type listOf[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}
