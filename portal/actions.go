package portal

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// checker collects what is wrong with a posted form, field by field.
type checker struct {
	form   url.Values
	errors map[string]string
}

func newChecker(form url.Values) *checker { return &checker{form: form, errors: map[string]string{}} }

// text returns the trimmed field, checking that it is present (when
// required) and at most max characters long.
func (c *checker) text(field, label string, required bool, max int) string {
	v := strings.TrimSpace(c.form.Get(field))
	switch {
	case required && v == "":
		c.errors[field] = label + " is required."
	case utf8.RuneCountInString(v) > max:
		c.errors[field] = fmt.Sprintf("%s must be at most %d characters.", label, max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\n' && r != '\r' && r != '\t' }):
		c.errors[field] = label + " contains control characters."
	}
	return v
}

func (c *checker) ok() bool { return len(c.errors) == 0 }

// outcome shows the result of an action: on success a message on the
// page the browser is sent back to; on failure the same page again, with
// the form's values and the reason next to it, and nothing changed.
type outcome struct {
	p     *Portal
	w     http.ResponseWriter
	r     *http.Request
	s     *session
	form  string
	show  func(status int, f *formState)
	back  string
	doing string // "add members to lug-london", for refusals
}

func (o outcome) invalid(errs map[string]string) {
	o.show(http.StatusUnprocessableEntity, &formState{Form: o.form, Values: o.r.PostForm, Errors: errs, Alert: "Nothing was changed: correct the fields marked below."})
}

// ready reports whether c found the form correct; if not, it has shown
// the form again with the errors. A correct form's action is doing
// (named in a refusal) and goes back to section of the page (#members).
func (o *outcome) ready(c *checker, doing, section string) bool {
	if !c.ok() {
		o.invalid(c.errors)
		return false
	}
	o.doing, o.back = doing, o.back+section
	return true
}

func (o outcome) done(err error, msg string) {
	if err == nil {
		o.s.setFlash(msg)
		http.Redirect(o.w, o.r, o.back, http.StatusSeeOther)
		return
	}
	if errors.Is(err, errSignedOut) {
		o.p.fail(o.w, o.r, http.StatusUnauthorized, "Your sign-in has expired; nothing was changed. Sign in again and repeat the change.")
		return
	}
	f := &formState{Form: o.form, Values: o.r.PostForm, Errors: map[string]string{}}
	status := http.StatusUnprocessableEntity
	var ae *apiError
	switch {
	case errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound && o.form != "remove-member" && o.form != "delete-meeting" && o.form != "revoke-token" && o.form != "delete-client"):
		status = http.StatusForbidden
		f.Alert = "Refused: you may not " + o.doing + ". Nothing was changed."
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Field != "":
		// The admin API named the field: say it next to it.
		f.Errors[ae.Field] = sentence(ae.Message)
		f.Alert = "Nothing was changed: correct the fields marked below."
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		status = http.StatusConflict
		f.Alert = "Not done: " + ae.Message + "."
	case errors.As(err, &ae) && ae.Status < 500:
		f.Alert = "Not done: " + ae.Message + "."
	default:
		o.p.cfg.Logger.Error("portal action", "form", o.form, "err", err)
		status = http.StatusBadGateway
		f.Alert = "Roster did not answer as expected; nothing was changed. Try again."
	}
	o.show(status, f)
}

// sentence makes an API message a sentence: capital first, full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// createGroup creates a group below a parent (or a root, for admins).
func (p *Portal) createGroup(w http.ResponseWriter, r *http.Request, s *session) {
	o := outcome{p: p, w: w, r: r, s: s, form: "create-group", show: func(st int, f *formState) { p.showTree(w, r, s, st, f) }}
	c := newChecker(r.PostForm)
	slug := c.text("slug", "Short name", true, 63)
	if c.errors["slug"] == "" && !slugRE.MatchString(slug) {
		c.errors["slug"] = "Use lower-case letters, digits and dashes, starting with a letter or digit (e.g. lug-lisbon)."
	}
	name := c.text("name", "Name", true, 200)
	desc := c.text("description", "Description", false, 4000)
	kind := c.text("kind", "Kind", true, 64)
	if kind != "" && !slugRE.MatchString(kind) {
		c.errors["kind"] = "Choose a kind."
	}
	parent := c.text("parent", "Parent", false, 64)
	if !c.ok() {
		o.invalid(c.errors)
		return
	}
	o.back = "/portal/groups/" + url.PathEscape(slug)
	o.doing = "create a group there"
	if parent != "" {
		o.doing = "create a group below " + parent
	}
	in := map[string]any{"slug": slug, "name": name, "kind": kind, "description": desc}
	if parent != "" {
		in["parent"] = parent
	}
	o.done(p.api(s).do(r.Context(), http.MethodPost, "/groups", in, nil), "Created "+name+".")
}

// groupAction performs one of the group page's forms.
func (p *Portal) groupAction(w http.ResponseWriter, r *http.Request, s *session) {
	slug, action := r.PathValue("slug"), r.PathValue("action")
	ctx, a := r.Context(), p.api(s)
	gpath := "/groups/" + esc(slug)
	o := outcome{p: p, w: w, r: r, s: s, form: action, back: "/portal/groups/" + url.PathEscape(slug),
		show: func(st int, f *formState) { p.showGroup(w, r, s, st, f) }}
	c := newChecker(r.PostForm)
	switch action {
	case "edit":
		name := c.text("name", "Name", true, 200)
		desc := c.text("description", "Description", false, 4000)
		join := c.text("join", "Who may join", false, 16)
		in := map[string]any{"name": name, "description": desc, "public": r.PostForm.Get("public") == "on"}
		switch join {
		case "":
		case "open", "request", "closed":
			in["join"] = join
		default:
			c.errors["join"] = "Choose open, on request or closed."
		}
		if !o.ready(c, "rename or describe "+slug, "#about") {
			return
		}
		o.done(a.do(ctx, http.MethodPatch, gpath, in, nil), "Saved the name, description, who may join and the public page.")
	case "archive", "unarchive":
		o.doing, o.back = action+" "+slug, o.back+"#about"
		msg := "Archived: the group keeps its members and history, takes no new members or meetings, and is hidden from the group tree unless archived groups are shown."
		if action == "unarchive" {
			msg = "Unarchived: the group is active again."
		}
		o.done(a.do(ctx, http.MethodPost, gpath+"/"+action, nil, nil), msg)
	case "join":
		o.doing, o.back = "join "+slug, o.back+"#membership"
		o.done(a.do(ctx, http.MethodPost, gpath+"/join", nil, nil), "Welcome: you are now a member of this group.")
	case "ask":
		msg := c.text("message", "Message", false, 500)
		if !o.ready(c, "ask to join "+slug, "#membership") {
			return
		}
		o.done(a.do(ctx, http.MethodPost, gpath+"/join-requests", map[string]any{"message": msg}, nil), "Asked: the organizers will approve or decline your request.")
	case "leave":
		o.doing, o.back = "leave "+slug, o.back+"#membership"
		o.done(a.do(ctx, http.MethodPost, gpath+"/leave", nil, nil), "Done: you are no longer a member, and no request of yours is pending.")
	case "approve", "decline":
		user := c.text("user", "Person", true, 64)
		reason := c.text("reason", "Reason", false, 500)
		if !o.ready(c, "decide membership requests in "+slug, "#requests") {
			return
		}
		msg := "Approved: they are now a member."
		if action == "decline" {
			msg = "Declined the request."
		}
		o.done(a.do(ctx, http.MethodPost, gpath+"/join-requests/"+esc(user)+"/"+action, map[string]any{"reason": reason}, nil), msg)
	case "move":
		parent := c.text("parent", "New parent", true, 64)
		if !o.ready(c, "move "+slug+" below "+parent, "#about") {
			return
		}
		o.done(a.do(ctx, http.MethodPost, gpath+"/move", map[string]any{"parent": parent}, nil), "Moved "+slug+" below "+parent+".")
	case "add-member":
		who := c.text("user", "Person", true, 300)
		roleName := c.text("role", "Role", true, 64)
		in := map[string]any{"role": roleName}
		if t, u, ok := strings.Cut(who, "/"); ok && t != "" && u != "" {
			in["tenant"], in["user"] = t, u
		} else if who != "" {
			c.errors["user"] = "Choose a person from the search, or type company/user name (e.g. acme/bob@acme.example)."
		}
		if !o.ready(c, "give the role “"+roleName+"” in "+slug, "#members") {
			return
		}
		err := a.do(ctx, http.MethodPost, gpath+"/memberships", in, nil)
		if statusOf(err) == http.StatusBadRequest {
			o.invalid(map[string]string{"user": "No such person: " + who + "."})
			return
		}
		o.done(err, "Added "+who+" as "+roleName+".")
	case "remove-member":
		user := c.text("user", "Person", true, 64)
		roleName := c.text("role", "Role", true, 64)
		if !o.ready(c, "take the role “"+roleName+"” in "+slug, "#members") {
			return
		}
		o.done(a.do(ctx, http.MethodDelete, gpath+"/memberships/"+esc(user)+"/"+esc(roleName), nil, nil), "Removed the role "+roleName+".")
	case "add-meeting":
		in, ok := meetingForm(c)
		if !ok {
			o.invalid(c.errors)
			return
		}
		o.doing, o.back = "edit the meetings of "+slug, o.back+"#meetings"
		err := a.do(ctx, http.MethodPost, gpath+"/meetings", in, nil)
		if rruleRefused(o, err, in) {
			return
		}
		o.done(err, "Added the meeting “"+in["title"].(string)+"”.")
	case "rsvp":
		id := c.text("id", "Meeting", true, 64)
		going := c.text("going", "Answer", true, 3)
		if going != "yes" && going != "no" {
			c.errors["going"] = "Answer going or not going."
		}
		if !o.ready(c, "answer for the meetings of "+slug, "#meetings") {
			return
		}
		msg := "Noted: you are going."
		if going == "no" {
			msg = "Noted: you are not going."
		}
		o.done(a.do(ctx, http.MethodPut, gpath+"/meetings/"+esc(id)+"/rsvp", map[string]any{"going": going == "yes"}, nil), msg)
	case "cancel-meeting":
		id := c.text("id", "Meeting", true, 64)
		if !o.ready(c, "edit the meetings of "+slug, "#meetings") {
			return
		}
		o.done(a.do(ctx, http.MethodPatch, gpath+"/meetings/"+esc(id), map[string]any{"cancelled": true}, nil), "Cancelled the meeting; calendars that subscribed will show it cancelled.")
	case "delete-meeting":
		id := c.text("id", "Meeting", true, 64)
		if !o.ready(c, "edit the meetings of "+slug, "#meetings") {
			return
		}
		o.done(a.do(ctx, http.MethodDelete, gpath+"/meetings/"+esc(id), nil, nil), "Deleted the meeting.")
	case "add-rule":
		tenant := c.text("tenant", "Company", true, 64)
		dir := c.text("dirGroup", "Directory group", true, 300)
		roleName := c.text("role", "Role", true, 64)
		if !o.ready(c, "bind directory groups to the role “"+roleName+"” in "+slug, "#rules") {
			return
		}
		err := a.do(ctx, http.MethodPost, gpath+"/rules", map[string]any{"tenant": tenant, "dirGroup": dir, "role": roleName}, nil)
		if statusOf(err) == http.StatusBadRequest {
			var ae *apiError
			errors.As(err, &ae)
			o.invalid(map[string]string{"dirGroup": ae.Message + "."})
			return
		}
		o.done(err, "Members of “"+dir+"” ("+tenant+") now hold "+roleName+" here.")
	default:
		p.fail(w, r, http.StatusNotFound, "There is no such action.")
	}
}

// repeatChoices are the options (value, label) of a meeting form's
// "Repeats"; meetingForm turns each value into an RRULE.
func repeatChoices() [][2]string {
	return [][2]string{
		{"", "Once"},
		{"weekly", "Every week"},
		{"fortnightly", "Every other week"},
		{"monthly-weekday", "Monthly on the same weekday (e.g. 2nd Tuesday)"},
		{"monthly-day", "Monthly on the same date"},
		{"custom", "By the rule below"},
	}
}

// meetingForm reads the fields of a meeting form (adding or editing) into
// an admin API meeting body; ok is false when c holds errors.
func meetingForm(c *checker) (in map[string]any, ok bool) {
	title := c.text("title", "Title", true, 200)
	loc := c.text("location", "Location", false, 300)
	tz := c.text("tz", "Time zone", true, 64)
	zone, err := time.LoadLocation(tz)
	if tz != "" && (err != nil || tz == "Local") {
		c.errors["tz"] = "Use an IANA time zone such as Europe/London or UTC."
		zone = nil
	}
	start := c.text("start", "Start", true, 32)
	end := c.text("end", "End", false, 32)
	var st, en time.Time
	if zone != nil {
		if start != "" {
			if st, err = time.ParseInLocation("2006-01-02T15:04", start, zone); err != nil {
				c.errors["start"] = "Enter a date and time (YYYY-MM-DDTHH:MM)."
			}
		}
		if end != "" {
			if en, err = time.ParseInLocation("2006-01-02T15:04", end, zone); err != nil {
				c.errors["end"] = "Enter a date and time (YYYY-MM-DDTHH:MM)."
			} else if c.errors["start"] == "" && !st.IsZero() && en.Before(st) {
				c.errors["end"] = "The end is before the start."
			}
		}
	}
	if !c.ok() {
		return nil, false
	}
	desc := c.text("description", "Description", false, 4000)
	addr := c.text("address", "Address", false, 300)
	online := c.text("online", "Online link", false, 500)
	if online != "" && !strings.HasPrefix(online, "https://") && !strings.HasPrefix(online, "http://") {
		c.errors["online"] = "Enter a link starting with https://."
	}
	capacity := 0
	if cs := c.text("capacity", "Capacity", false, 7); cs != "" {
		n, err := strconv.Atoi(cs)
		if err != nil || n < 0 {
			c.errors["capacity"] = "Enter a whole number of places, or leave it empty for no limit."
		}
		capacity = n
	}
	rrule := ""
	switch rep := c.text("repeat", "Repeats", false, 32); rep {
	case "":
	case "weekly":
		rrule = "FREQ=WEEKLY"
	case "fortnightly":
		rrule = "FREQ=WEEKLY;INTERVAL=2"
	case "monthly-weekday":
		if !st.IsZero() {
			rrule = fmt.Sprintf("FREQ=MONTHLY;BYDAY=%d%s", (st.Day()-1)/7+1, strings.ToUpper(st.Weekday().String()[:2]))
		}
	case "monthly-day":
		rrule = "FREQ=MONTHLY"
	case "custom":
		rrule = c.text("rrule", "Rule", true, 300)
	default:
		c.errors["repeat"] = "Choose how the meeting repeats."
	}
	if cs := c.text("count", "How many times", false, 4); cs != "" {
		n, err := strconv.Atoi(cs)
		switch {
		case err != nil || n < 1 || n > 1000:
			c.errors["count"] = "Enter a number from 1 to 1000, or leave it empty."
		case rrule == "":
			c.errors["count"] = "Only a repeating meeting happens several times."
		default:
			rrule += ";COUNT=" + cs
		}
	}
	if !c.ok() {
		return nil, false
	}
	endText := ""
	if !en.IsZero() {
		endText = en.Format(time.RFC3339)
	}
	return map[string]any{"title": title, "start": st.Format(time.RFC3339), "end": endText, "location": loc, "timeZone": tz,
		"description": desc, "address": addr, "onlineUrl": online, "capacity": capacity, "rrule": rrule}, true
}

// rruleRefused shows the admin API's objection to a recurrence rule next
// to the rule field, and reports whether there was one.
func rruleRefused(o outcome, err error, in map[string]any) bool {
	var ae *apiError
	if statusOf(err) == http.StatusBadRequest && in["rrule"] != "" && errors.As(err, &ae) && strings.Contains(ae.Message, "recurrence") {
		o.invalid(map[string]string{"rrule": ae.Message + "."})
		return true
	}
	return false
}
