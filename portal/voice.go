package portal

// The members' voice, over the admin API (admin/feedback.go,
// admin/applications.go):
//
//	/portal/feedback                 send product feedback, follow yours; the product team's inbox
//	/portal/feedback/{id}            one item: its answer; the product team answers here
//	/portal/found                    apply to found a group (with the "is there a group already?" check)
//	/portal/applications             your applications and those you review
//	/portal/applications/{id}        one application: questions, answers, the decision
//
// Every form posts to …/{action}; a refusal shows the page again with the
// message next to the field the admin API named, and changes nothing.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (p *Portal) voiceRoutes() {
	p.mustPages([]string{"productfeedback", "found"})
	p.mux.HandleFunc("GET /portal/feedback", p.guard(p.productFeedbackPage))
	p.mux.HandleFunc("GET /portal/feedback/{id}", p.guard(p.productFeedbackPage))
	p.mux.HandleFunc("POST /portal/feedback/{action}", p.guard(p.productFeedbackAction))
	p.mux.HandleFunc("POST /portal/feedback/{id}/{action}", p.guard(p.productFeedbackAction))
	p.mux.HandleFunc("GET /portal/found", p.guard(p.foundPage))
	p.mux.HandleFunc("POST /portal/found/{action}", p.guard(p.foundAction))
	p.mux.HandleFunc("GET /portal/applications", p.guard(p.foundPage))
	p.mux.HandleFunc("GET /portal/applications/{id}", p.guard(p.foundPage))
	p.mux.HandleFunc("POST /portal/applications/{id}/{action}", p.guard(p.foundAction))
}

// productFeedback mirrors policy.Feedback.
type productFeedback struct {
	ID           string    `json:"id"`
	Product      string    `json:"product"`
	Category     string    `json:"category"`
	Title        string    `json:"title"`
	Body         string    `json:"body"`
	Group        string    `json:"group"`
	Author       string    `json:"author"`
	AuthorName   string    `json:"authorName"`
	Company      string    `json:"company"`
	ShowIdentity bool      `json:"showIdentity"`
	Status       string    `json:"status"`
	Tags         []string  `json:"tags"`
	Answer       string    `json:"answer"`
	AnsweredBy   string    `json:"answeredBy"`
	Answered     time.Time `json:"answered"`
	Created      time.Time `json:"created"`
	Version      uint64    `json:"version"`
}

type feedbackOptions struct {
	Products   []string `json:"products"`
	Categories []string `json:"categories"`
	Statuses   []string `json:"statuses"`
	Triage     []string `json:"triage"`
}

type productFeedbackData struct {
	Options feedbackOptions
	Groups  []group // the caller's groups, to send from
	Mine    []productFeedback
	Inbox   []productFeedback // the product team's, filtered
	Item    *productFeedback
	Mine2   bool // Item is the caller's
	// The inbox filter.
	Product, Status, Group string
}

func (p *Portal) productFeedbackPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showProductFeedback(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showProductFeedback(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a := r.Context(), p.api(s)
	var d productFeedbackData
	if err := a.get(ctx, "/feedback/options", &d.Options); err != nil {
		p.apiFail(w, r, err, "product feedback")
		return
	}
	if id := r.PathValue("id"); id != "" {
		var it productFeedback
		if err := a.get(ctx, "/feedback/"+esc(id), &it); err != nil {
			p.apiFail(w, r, err, "this feedback")
			return
		}
		d.Item, d.Mine2 = &it, it.Author == s.user.ID
		p.render(w, r, s, status, "productfeedback", view{Title: "Feedback · " + it.Title, Nav: "feedback", F: f, D: d})
		return
	}
	var mine, inbox struct {
		Items []productFeedback `json:"items"`
	}
	if err := a.get(ctx, "/feedback?mine=true", &mine); err != nil {
		p.apiFail(w, r, err, "your feedback")
		return
	}
	d.Mine = mine.Items
	if len(d.Options.Triage) > 0 {
		q := r.URL.Query()
		d.Product, d.Status, d.Group = q.Get("product"), q.Get("status"), q.Get("group")
		v := url.Values{}
		for k, x := range map[string]string{"product": d.Product, "status": d.Status, "group": d.Group} {
			if x != "" {
				v.Set(k, x)
			}
		}
		if err := a.get(ctx, "/feedback?"+v.Encode(), &inbox); err != nil {
			p.apiFail(w, r, err, "the product feedback")
			return
		}
		for _, it := range inbox.Items {
			if it.Author != s.user.ID || it.Author == "" {
				d.Inbox = append(d.Inbox, it)
			}
		}
	}
	var gs listOf[group]
	if err := a.get(ctx, "/groups", &gs); err == nil {
		var me struct {
			Groups []struct {
				Group string `json:"group"`
			} `json:"groups"`
		}
		_ = a.get(ctx, "/me", &me)
		in := map[string]bool{}
		for _, m := range me.Groups {
			in[m.Group] = true
		}
		for _, g := range gs.Items {
			if in[g.ID] {
				d.Groups = append(d.Groups, g)
			}
		}
	}
	p.render(w, r, s, status, "productfeedback", view{Title: "Product feedback", Nav: "feedback", F: f, D: d})
}

func (p *Portal) productFeedbackAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, a, id, action := r.Context(), p.api(s), r.PathValue("id"), r.PathValue("action")
	back := "/portal/feedback"
	if id != "" {
		back += "/" + url.PathEscape(id)
	}
	o := outcome{p: p, w: w, r: r, s: s, form: action, back: back, doing: "do that with this feedback",
		show: func(st int, f *formState) { p.showProductFeedback(w, r, s, st, f) }}
	c := newChecker(r.PostForm)
	switch {
	case id == "" && action == "send":
		in := map[string]any{
			"product": c.text("product", "Product", true, 200), "category": c.text("category", "Category", true, 50),
			"title": c.text("title", "Title", true, 200), "body": c.text("body", "Your feedback", true, 8000),
			"showIdentity": r.PostForm.Get("showIdentity") == "on",
		}
		if g := c.text("group", "Group", false, 200); g != "" {
			in["group"] = g
		}
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		var out productFeedback
		o.doing = "send feedback"
		err := a.do(ctx, http.MethodPost, "/feedback", in, &out)
		if err == nil {
			o.back = "/portal/feedback/" + url.PathEscape(out.ID)
		}
		o.done(err, "Thank you: your feedback reached the "+out.Product+" team. You will see their answer here.")
	case id != "" && action == "answer":
		in := map[string]any{"status": c.text("status", "Status", true, 50), "answer": c.text("answer", "Answer", false, 8000)}
		var tags []string
		for _, t := range strings.Split(c.text("tags", "Tags", false, 1000), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		in["tags"] = tags
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		o.doing = "answer this feedback"
		o.done(a.do(ctx, http.MethodPatch, "/feedback/"+esc(id), in, nil), "Saved; the member sees it.")
	case id != "" && action == "identity":
		o.doing = "change who sees your name"
		show := r.PostForm.Get("showIdentity") == "on"
		msg := "The vendor no longer sees your name and company on this item."
		if show {
			msg = "The vendor now sees your name and company on this item."
		}
		o.done(a.do(ctx, http.MethodPatch, "/feedback/"+esc(id), map[string]any{"showIdentity": show}, nil), msg)
	default:
		p.fail(w, r, http.StatusNotFound, "No such action.")
	}
}

// application mirrors the admin API's application view.
type application struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Slug     string `json:"slug"`
	Parent   string `json:"parent"`
	Location struct {
		City    string `json:"city"`
		Country string `json:"country"`
	} `json:"location"`
	Remit   string `json:"remit"`
	Founder struct {
		User     string `json:"user"`
		UserName string `json:"userName"`
	} `json:"founder"`
	CoFounders []struct {
		UserName string    `json:"userName"`
		Answer   string    `json:"answer"`
		Answered time.Time `json:"answered"`
	} `json:"coFounders"`
	// MyAnswer is the caller's answer when they are a named co-founder.
	MyAnswer string `json:"myAnswer"`
	Status   string `json:"status"`
	Messages []struct {
		Name     string    `json:"name"`
		Reviewer bool      `json:"reviewer"`
		Text     string    `json:"text"`
		Time     time.Time `json:"time"`
	} `json:"messages"`
	Reason   string        `json:"reason"`
	Group    string        `json:"group"`
	Created  time.Time     `json:"created"`
	Version  uint64        `json:"version"`
	Nearby   []nearbyGroup `json:"nearby"`
	Reviewer bool          `json:"reviewer"`
}

type nearbyGroup struct {
	Slug string  `json:"slug"`
	Name string  `json:"name"`
	City string  `json:"city"`
	Km   float64 `json:"km"`
}

type foundData struct {
	Parents []group
	// Checked: the founding form was checked; Nearby what the check found.
	Checked bool
	Nearby  []nearbyGroup
	Radius  float64
	Apps    []application
	App     *application
	NewSlug string // the group an approval created
}

func (p *Portal) foundPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showFound(w, r, s, http.StatusOK, nil, nil)
}

func (p *Portal) showFound(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState, check *foundData) {
	ctx, a := r.Context(), p.api(s)
	var d foundData
	if check != nil {
		d = *check
	}
	if id := r.PathValue("id"); id != "" {
		var app application
		if err := a.get(ctx, "/applications/"+esc(id), &app); err != nil {
			p.apiFail(w, r, err, "this application")
			return
		}
		if app.Group != "" {
			var g group
			if err := a.get(ctx, "/groups/"+esc(app.Group), &g); err == nil {
				d.NewSlug = g.Slug
			}
		}
		d.App = &app
		p.render(w, r, s, status, "found", view{Title: "Application · " + app.Name, Nav: "found", F: f, D: d})
		return
	}
	var apps listOf[application]
	if err := a.get(ctx, "/applications", &apps); err != nil {
		p.apiFail(w, r, err, "applications")
		return
	}
	d.Apps = apps.Items
	var gs listOf[group]
	if err := a.get(ctx, "/applications/parents", &gs); err != nil {
		p.apiFail(w, r, err, "the regions")
		return
	}
	d.Parents = gs.Items
	p.render(w, r, s, status, "found", view{Title: "Found a group", Nav: "found", F: f, D: d})
}

func (p *Portal) nearbyCheck(ctx context.Context, s *session, city, country string) (foundData, error) {
	var ans struct {
		RadiusKm float64       `json:"radiusKm"`
		Items    []nearbyGroup `json:"items"`
	}
	err := p.api(s).get(ctx, "/applications/nearby?city="+url.QueryEscape(city)+"&country="+url.QueryEscape(country), &ans)
	return foundData{Checked: err == nil, Nearby: ans.Items, Radius: ans.RadiusKm}, err
}

func (p *Portal) foundAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, a, id, action := r.Context(), p.api(s), r.PathValue("id"), r.PathValue("action")
	back := "/portal/found"
	if id != "" {
		back = "/portal/applications/" + url.PathEscape(id)
	}
	var check *foundData
	o := outcome{p: p, w: w, r: r, s: s, form: action, back: back, doing: "do that with this application",
		show: func(st int, f *formState) { p.showFound(w, r, s, st, f, check) }}
	c := newChecker(r.PostForm)
	switch {
	case id == "" && (action == "check" || action == "apply"):
		o.form = "apply"
		in := map[string]any{
			"name": c.text("name", "Name", true, 200), "slug": c.text("slug", "Short name", true, 63),
			"parent": c.text("parent", "Region", true, 200), "city": c.text("city", "City", true, 200),
			"country": strings.ToUpper(c.text("country", "Country", true, 2)), "remit": c.text("remit", "Remit", true, 4000),
		}
		var cos []string
		for _, ref := range strings.FieldsFunc(c.text("coFounders", "Co-founders", false, 2000), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			cos = append(cos, ref)
		}
		in["coFounders"] = cos
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		d, err := p.nearbyCheck(ctx, s, in["city"].(string), in["country"].(string))
		check = &d
		if err != nil || action == "check" {
			if err == nil {
				// The check alone changes nothing: show what it found.
				p.showFound(w, r, s, http.StatusOK, &formState{Form: "apply", Values: r.PostForm, Errors: map[string]string{}}, check)
				return
			}
			o.done(err, "")
			return
		}
		var out application
		o.doing = "apply to found a group"
		err = a.do(ctx, http.MethodPost, "/applications", in, &out)
		if err == nil {
			o.back = "/portal/applications/" + url.PathEscape(out.ID)
		}
		o.done(err, "Applied: the region's reviewers will answer here.")
	case id != "" && action == "message":
		text := c.text("text", "Message", true, 4000)
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		o.doing = "write on this application"
		o.done(a.do(ctx, http.MethodPost, "/applications/"+esc(id)+"/messages", map[string]any{"text": text}, nil), "Sent.")
	case id != "" && (action == "accept-place" || action == "decline-place"):
		o.form = "confirm"
		answer := map[string]string{"accept-place": "accepted", "decline-place": "declined"}[action]
		o.doing = "answer as a co-founder"
		o.done(a.do(ctx, http.MethodPut, "/applications/"+esc(id)+"/confirmation", map[string]any{"answer": answer}, nil),
			map[string]string{"accept-place": "You accepted: you become one of its organizers if it is approved.", "decline-place": "You declined: you will not be one of its organizers."}[action])
	case id != "" && (action == "approve" || action == "decline"):
		o.form = "decide"
		status := map[string]string{"approve": "approved", "decline": "declined"}[action]
		reason := c.text("reason", "Word to the founders", false, 4000)
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		o.doing = action + " this application"
		o.done(a.do(ctx, http.MethodPatch, "/applications/"+esc(id), map[string]any{"status": status, "reason": reason}, nil),
			map[string]string{"approve": "Approved: the group is founded and its founders are its organizers.", "decline": "Declined; the founders are told."}[action])
	default:
		p.fail(w, r, http.StatusNotFound, "No such action.")
	}
}
