package policy

import (
	"time"
)

// Rating is one person's feedback on a meeting they went to (RSVP'd
// going, or checked in): an overall rating, a rating per talk and a
// comment. There is at most one per meeting and person; sending it again
// replaces it while the form is open.
type Rating struct {
	Group   GroupID  `json:"group"`
	Meeting string   `json:"meeting"`
	User    UserID   `json:"user"`
	Tenant  TenantID `json:"tenant"`
	// Overall is 1 to MaxRating; Talks maps a talk's id to 1 to
	// MaxRating (talks not rated are absent).
	Overall int            `json:"overall"`
	Talks   map[string]int `json:"talks,omitempty"`
	Comment string         `json:"comment,omitempty"`
	Updated time.Time      `json:"updated"`
}

// RatingKey is the key of a rating among the "ratings" records:
// "<group>/<meeting>/<user>".
func RatingKey(g GroupID, meeting string, u UserID) string { return RSVPKey(g, meeting, u) }

// ValidateRating checks a rating: overall 1 to MaxRating, each talk rated
// 1 to MaxRating and on the agenda (talks are the ids on it), a comment
// of at most MaxCommentBytes.
func ValidateRating(r Rating, talks []string) error {
	if r.Overall < 1 || r.Overall > MaxRating {
		return invalid("overall", "rate the meeting from 1 to %d", MaxRating)
	}
	for id, v := range r.Talks {
		known := false
		for _, t := range talks {
			known = known || t == id
		}
		if !known {
			return invalid("talks", "talk %q is not on the meeting's agenda", id)
		}
		if v < 1 || v > MaxRating {
			return invalid("talks", "rate each talk from 1 to %d", MaxRating)
		}
	}
	if len(r.Comment) > MaxCommentBytes {
		return invalid("comment", "a comment is at most %d bytes", MaxCommentBytes)
	}
	return nil
}

// Score is a count and mean of ratings.
type Score struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
}

// add counts one rating v.
func (s *Score) add(v int) {
	s.Mean = (s.Mean*float64(s.Count) + float64(v)) / float64(s.Count+1)
	s.Count++
}

// Results sums up ratings: the meeting's overall score and each talk's.
type Results struct {
	Overall Score            `json:"overall"`
	Talks   map[string]Score `json:"talks"`
}

// Summarize sums up rs.
func Summarize(rs []Rating) Results {
	out := Results{Talks: map[string]Score{}}
	for _, r := range rs {
		out.Overall.add(r.Overall)
		for id, v := range r.Talks {
			s := out.Talks[id]
			s.add(v)
			out.Talks[id] = s
		}
	}
	return out
}
