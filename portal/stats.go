package portal

// How the groups are doing, over the admin API's analytics
// (admin/stats.go):
//
//	/portal/stats                     the groups whose analytics the user sees
//	/portal/stats/{slug}              charts (server-side SVG) and tables of a group and everything below it
//	/portal/stats/{slug}/{table}.csv  any table of that page as CSV

import (
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// How many dormant groups the page names, and the CSV (the admin API
// keeps at most 500).
const (
	pageDormant = 50
	csvDormant  = 500
)

func (p *Portal) statsRoutes() {
	p.mustPages([]string{"stats"})
	p.mux.HandleFunc("GET /portal/stats", p.guard(p.statsIndex))
	p.mux.HandleFunc("GET /portal/stats/{slug}", p.guard(p.statsPage))
	p.mux.HandleFunc("GET /portal/stats/{slug}/{file}", p.guard(p.statsCSV))
}

// figures mirrors policy.Figures.
type figures struct {
	Members       int            `json:"members"`
	Joins         map[string]int `json:"joins"`
	Leaves        map[string]int `json:"leaves"`
	MeetingsHeld  int            `json:"meetingsHeld"`
	RSVPs         int            `json:"rsvps"`
	CheckIns      int            `json:"checkIns"`
	RatingSum     float64        `json:"ratingSum"`
	Ratings       int            `json:"ratings"`
	CharterSum    float64        `json:"charterSum"`
	CharterGroups int            `json:"charterGroups"`
	Chartered     int            `json:"chartered"`
}

func (f figures) rating() float64 {
	if f.Ratings == 0 {
		return 0
	}
	return f.RatingSum / float64(f.Ratings)
}

func (f figures) charter() float64 {
	if f.CharterGroups == 0 {
		return 0
	}
	return f.CharterSum / float64(f.CharterGroups)
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

type statsGroup struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	LastMeeting time.Time `json:"lastMeeting"`
}

type statsAnswer struct {
	Group  statsGroup `json:"group"`
	Months []struct {
		Month   string  `json:"month"`
		Subtree figures `json:"subtree"`
		Groups  int     `json:"groups"`
	} `json:"months"`
	Dormant      []statsGroup `json:"dormant"`
	DormantCount int          `json:"dormantCount"`
	Children     []struct {
		statsGroup
		Figures figures `json:"figures"`
		Groups  int     `json:"groups"`
	} `json:"children"`
}

// statsTable is one table of the page (and one CSV).
type statsTable struct {
	ID, Title string
	Head      []string
	Rows      [][]string
}

type chart struct {
	SVG     template.HTML
	Table   string // the id of the table with its figures
	Caption string
}

type statsData struct {
	G            statsGroup
	Groups       []statsGroup // the index
	Charts       []chart
	Tables       []statsTable
	DormantCount int
	Latest       string
}

func (p *Portal) statsIndex(w http.ResponseWriter, r *http.Request, s *session) {
	var ans listOf[statsGroup]
	if err := p.api(s).get(r.Context(), "/stats/groups", &ans); err != nil {
		p.apiFail(w, r, err, "the analytics")
		return
	}
	p.render(w, r, s, http.StatusOK, "stats", view{Title: "Analytics", Nav: "stats", D: statsData{Groups: ans.Items}})
}

// statsOf reads a group's analytics and lays out its tables and charts.
// The page names the first dormant groups (pageDormant); the CSV all the
// admin API keeps.
func (p *Portal) statsOf(ctx context.Context, s *session, slug string, listed int) (statsData, error) {
	var ans statsAnswer
	if err := p.api(s).get(ctx, "/stats/groups/"+esc(slug)+"?months=24&dormant="+strconv.Itoa(listed), &ans); err != nil {
		return statsData{}, err
	}
	d := statsData{G: ans.Group, DormantCount: ans.DormantCount}
	var labels []string
	sources := map[string]bool{}
	for _, m := range ans.Months {
		labels = append(labels, m.Month)
		for k := range m.Subtree.Joins {
			sources[k] = true
		}
		for k := range m.Subtree.Leaves {
			sources[k] = true
		}
	}
	if len(labels) > 0 {
		d.Latest = labels[len(labels)-1]
	}
	srcs := make([]string, 0, len(sources))
	for k := range sources {
		srcs = append(srcs, k)
	}
	sort.Strings(srcs)
	n := len(ans.Months)
	col := func(f func(i int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	fig := func(i int) figures { return ans.Months[i].Subtree }
	itoa := strconv.Itoa

	members := statsTable{ID: "members", Title: "Members, joins and leaves", Head: []string{"Month", "Members", "Joins", "Leaves"}}
	for _, s := range srcs {
		members.Head = append(members.Head, "Joins: "+s)
	}
	for _, s := range srcs {
		members.Head = append(members.Head, "Leaves: "+s)
	}
	meetings := statsTable{ID: "meetings", Title: "Meetings, RSVPs and check-ins", Head: []string{"Month", "Meetings held", "RSVPs (going)", "Check-ins", "Check-ins per RSVP"}}
	scores := statsTable{ID: "feedback", Title: "Feedback scores", Head: []string{"Month", "Ratings", "Mean rating (1–5)"}}
	charter := statsTable{ID: "charter", Title: "Charter ratio", Head: []string{"Month", "Groups under the charter rule", "Mean ratio", "Chartered"}}
	for i, m := range ans.Months {
		f := m.Subtree
		row := []string{m.Month, itoa(f.Members), itoa(total(f.Joins)), itoa(total(f.Leaves))}
		for _, s := range srcs {
			row = append(row, itoa(f.Joins[s]))
		}
		for _, s := range srcs {
			row = append(row, itoa(f.Leaves[s]))
		}
		members.Rows = append(members.Rows, row)
		rate := "–"
		if f.RSVPs > 0 {
			rate = fmt.Sprintf("%.0f%%", 100*float64(f.CheckIns)/float64(f.RSVPs))
		}
		meetings.Rows = append(meetings.Rows, []string{m.Month, itoa(f.MeetingsHeld), itoa(f.RSVPs), itoa(f.CheckIns), rate})
		scores.Rows = append(scores.Rows, []string{m.Month, itoa(f.Ratings), fmt.Sprintf("%.2f", fig(i).rating())})
		charter.Rows = append(charter.Rows, []string{m.Month, itoa(f.CharterGroups), fmt.Sprintf("%.0f%%", 100*f.charter()), itoa(f.Chartered)})
	}
	dormant := statsTable{ID: "dormant", Title: fmt.Sprintf("Groups without a meeting in six months (%d)", ans.DormantCount), Head: []string{"Group", "Short name", "Last meeting"}}
	for _, g := range ans.Dormant {
		last := "never"
		if !g.LastMeeting.IsZero() {
			last = g.LastMeeting.UTC().Format("2006-01-02")
		}
		dormant.Rows = append(dormant.Rows, []string{g.Name, g.Slug, last})
	}
	below := statsTable{ID: "groups", Title: "Groups below, " + d.Latest, Head: []string{"Group", "Short name", "Groups", "Members", "Meetings held", "RSVPs", "Check-ins", "Mean rating", "Charter ratio"}}
	for _, c := range ans.Children {
		f := c.Figures
		below.Rows = append(below.Rows, []string{c.Name, c.Slug, itoa(c.Groups), itoa(f.Members), itoa(f.MeetingsHeld), itoa(f.RSVPs), itoa(f.CheckIns),
			fmt.Sprintf("%.2f", f.rating()), fmt.Sprintf("%.0f%%", 100*f.charter())})
	}
	d.Tables = []statsTable{members, meetings, scores, charter, dormant}
	if len(ans.Children) > 0 {
		d.Tables = append(d.Tables, below)
	}

	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	var joins, leaves []series
	for _, s := range srcs {
		joins = append(joins, series{Name: s, Values: col(func(i int) float64 { return float64(fig(i).Joins[s]) })})
		leaves = append(leaves, series{Name: s, Values: col(func(i int) float64 { return float64(fig(i).Leaves[s]) })})
	}
	d.Charts = []chart{
		{lineChart("Members over time", "Members at the end of each month, "+rangeOf(labels), labels,
			[]series{{"members", col(func(i int) float64 { return float64(fig(i).Members) })}}, count), "members", "Members"},
		{barChart("Joins by source", "New members each month by where their membership comes from", labels, joins), "members", "Joins by source"},
		{barChart("Leaves by source", "Members who left each month by where their membership came from", labels, leaves), "members", "Leaves by source"},
		{barChart("Meetings held", "Meetings held each month", labels, []series{{"meetings", col(func(i int) float64 { return float64(fig(i).MeetingsHeld) })}}), "meetings", "Meetings held"},
		{lineChart("RSVPs and check-ins", "Members who said they would come versus those checked in, each month", labels, []series{
			{"RSVPs (going)", col(func(i int) float64 { return float64(fig(i).RSVPs) })},
			{"check-ins", col(func(i int) float64 { return float64(fig(i).CheckIns) })}}, count), "meetings", "RSVPs versus check-ins"},
		{lineChart("Feedback score", "Mean overall rating of the meetings held each month, 1 to 5", labels,
			[]series{{"mean rating", col(func(i int) float64 { return fig(i).rating() })}}, func(v float64) string { return fmt.Sprintf("%.1f", v) }), "feedback", "Feedback score"},
		{lineChart("Charter ratio", "Mean share of each group's members who are members of the reference group", labels,
			[]series{{"mean charter ratio", col(func(i int) float64 { return 100 * fig(i).charter() })}}, func(v float64) string { return fmt.Sprintf("%.0f%%", v) }), "charter", "Charter ratio over time"},
	}
	return d, nil
}

func rangeOf(labels []string) string {
	if len(labels) == 0 {
		return "no months yet"
	}
	return labels[0] + " to " + labels[len(labels)-1]
}

func (p *Portal) statsPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := p.statsOf(r.Context(), s, r.PathValue("slug"), pageDormant)
	if err != nil {
		p.apiFail(w, r, err, "the analytics of this group")
		return
	}
	p.render(w, r, s, http.StatusOK, "stats", view{Title: "Analytics · " + d.G.Name, Nav: "stats", D: d})
}

// csvCell keeps a spreadsheet from reading a cell as a formula (OWASP
// CSV injection): a value starting with = + - @, a tab or a carriage
// return is written after a quote.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// csvRow is row with every cell defused (csvCell), for the CSV exports.
func csvRow(row []string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = csvCell(v)
	}
	return out
}

func (p *Portal) statsCSV(w http.ResponseWriter, r *http.Request, s *session) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok {
		p.fail(w, r, http.StatusNotFound, "There is no such page in the portal.")
		return
	}
	listed := pageDormant
	if name == "dormant" {
		listed = csvDormant
	}
	d, err := p.statsOf(r.Context(), s, r.PathValue("slug"), listed)
	if err != nil {
		p.apiFail(w, r, err, "the analytics of this group")
		return
	}
	for _, t := range d.Tables {
		if t.ID != name {
			continue
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, d.G.Slug, t.ID))
		cw := csv.NewWriter(w)
		_ = cw.Write(csvRow(t.Head))
		for _, row := range t.Rows {
			_ = cw.Write(csvRow(row))
		}
		cw.Flush()
		return
	}
	p.fail(w, r, http.StatusNotFound, "This group's analytics have no such table.")
}
