package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateTalk(t *testing.T) {
	p := Program{CallOpen: true}
	ok := Talk{Title: "Go at scale", Abstract: "How.", Format: "talk", Status: TalkProposed, Speaker: Speaker{User: "u1"}}
	for _, tt := range []struct {
		name  string
		edit  func(*Talk)
		field string
	}{
		{"fine", func(*Talk) {}, ""},
		{"no title", func(t *Talk) { t.Title = " " }, "title"},
		{"two-line title", func(t *Talk) { t.Title = "a\nb" }, "title"},
		{"no abstract", func(t *Talk) { t.Abstract = "" }, "abstract"},
		{"long abstract", func(t *Talk) { t.Abstract = strings.Repeat("x", MaxAbstractBytes+1) }, "abstract"},
		{"unknown format", func(t *Talk) { t.Format = "keynote" }, "format"},
		{"speaker twice", func(t *Talk) { t.Co = []Speaker{{User: "u1"}} }, "coSpeakers"},
		{"co-speaker twice", func(t *Talk) { t.Co = []Speaker{{User: "u2"}, {User: "u2"}} }, "coSpeakers"},
		{"bad status", func(t *Talk) { t.Status = "maybe" }, "status"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tk := ok
			tt.edit(&tk)
			err := ValidateTalk(tk, p)
			var fe *FieldError
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want a field error on %s", err, tt.field)
			}
		})
	}
}

func TestAgendaOrdersAcceptedTalksWithTimes(t *testing.T) {
	start := time.Date(2031, 3, 11, 18, 30, 0, 0, time.UTC)
	d := start.Add(-time.Hour)
	talks := []Talk{
		{ID: "b", Title: "B", Status: TalkAccepted, Minutes: 30, Decided: d.Add(2), Speaker: Speaker{Name: "Bo"}},
		{ID: "x", Title: "X", Status: TalkDeclined, Minutes: 30},
		{ID: "a", Title: "A", Status: TalkAccepted, Minutes: 5, Decided: d.Add(1), Speaker: Speaker{Name: "Al"}, Co: []Speaker{{Name: "Cy"}, {Name: "Di"}}},
		{ID: "c", Title: "C", Status: TalkAccepted, Minutes: 30, Order: -1, Decided: d.Add(3), Speaker: Speaker{Name: "Ce"}},
		{ID: "p", Title: "P", Status: TalkProposed, Minutes: 30},
	}
	got := Agenda(start, talks)
	var ids []string
	for _, it := range got {
		ids = append(ids, it.Talk)
	}
	if strings.Join(ids, ",") != "c,a,b" {
		t.Fatalf("order %v", ids)
	}
	if !got[1].Start.Equal(start.Add(30*time.Minute)) || !got[2].End.Equal(start.Add(65*time.Minute)) {
		t.Fatalf("times %+v", got)
	}
	if got[1].Speakers != "Al, Cy and Di" {
		t.Fatalf("speakers %q", got[1].Speakers)
	}
	if txt := AgendaText(got, time.UTC); !strings.HasPrefix(txt, "18:30–19:00 C — Ce\n19:00–19:05 A") {
		t.Fatalf("text %q", txt)
	}
}

func TestProgramWindows(t *testing.T) {
	start := time.Date(2031, 3, 11, 18, 0, 0, 0, time.UTC)
	m := Meeting{Title: "M", Start: start, End: start.Add(2 * time.Hour)}
	p := Program{CallOpen: true}
	if !p.Accepting(m, start.Add(-time.Hour)) || p.Accepting(m, start.Add(3*time.Hour)) {
		t.Fatal("a call without deadline takes talks until the meeting")
	}
	p.Deadline = start.Add(-24 * time.Hour)
	if p.Accepting(m, start.Add(-time.Hour)) {
		t.Fatal("a call takes no talks after its deadline")
	}
	if _, _, ok := p.FeedbackWindow(m, start.Add(time.Hour)); ok {
		t.Fatal("feedback opens when the meeting ends")
	}
	p.FeedbackDays = 3
	from, to, ok := p.FeedbackWindow(m, start.Add(3*time.Hour))
	if !ok || !from.Equal(m.End) || !to.Equal(m.End.AddDate(0, 0, 3)) {
		t.Fatalf("window %v %v %v", from, to, ok)
	}
	if _, _, ok := p.FeedbackWindow(m, m.End.AddDate(0, 0, 4)); ok {
		t.Fatal("feedback closes after FeedbackDays")
	}
	if err := ValidateProgram(Program{FeedbackDays: MaxFeedbackDays + 1}); err == nil {
		t.Fatal("too long a window passed")
	}
	if err := ValidateProgram(Program{Formats: []TalkFormat{{Name: "a", Minutes: 5}, {Name: "a", Minutes: 6}}}); err == nil {
		t.Fatal("a format named twice passed")
	}
}

func TestRatings(t *testing.T) {
	agenda := []string{"t1", "t2"}
	for _, tt := range []struct {
		r     Rating
		field string
	}{
		{Rating{Overall: 4, Talks: map[string]int{"t1": 5}}, ""},
		{Rating{Overall: 0}, "overall"},
		{Rating{Overall: 6}, "overall"},
		{Rating{Overall: 3, Talks: map[string]int{"t9": 5}}, "talks"},
		{Rating{Overall: 3, Talks: map[string]int{"t1": 0}}, "talks"},
		{Rating{Overall: 3, Comment: strings.Repeat("x", MaxCommentBytes+1)}, "comment"},
	} {
		err := ValidateRating(tt.r, agenda)
		var fe *FieldError
		if (tt.field == "") != (err == nil) || err != nil && (!errors.As(err, &fe) || fe.Field != tt.field) {
			t.Errorf("%+v: got %v, want field %q", tt.r, err, tt.field)
		}
	}
	res := Summarize([]Rating{{Overall: 4, Talks: map[string]int{"t1": 5}}, {Overall: 2, Talks: map[string]int{"t1": 3, "t2": 1}}})
	if res.Overall.Count != 2 || res.Overall.Mean != 3 || res.Talks["t1"].Mean != 4 || res.Talks["t2"].Count != 1 {
		t.Fatalf("results %+v", res)
	}
}
