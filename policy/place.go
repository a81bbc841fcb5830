package policy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Location says where a user group meets (a LUG exists within a few hours'
// travel of its members) or where a person is. Every field is optional.
type Location struct {
	City   string `json:"city,omitempty"`
	Region string `json:"region,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code, upper case ("GB").
	Country     string       `json:"country,omitempty"`
	Coordinates *Coordinates `json:"coordinates,omitempty"`
	// TimeZone is an IANA time zone name ("Europe/London").
	TimeZone string `json:"timeZone,omitempty"`
}

// Coordinates are a WGS 84 latitude and longitude in degrees.
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// IsZero reports whether l says nothing.
func (l Location) IsZero() bool { return l == Location{} }

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// ValidateLocation checks a location: a two-letter upper-case country
// code, coordinates within range, a known IANA time zone, names within
// bounds.
func ValidateLocation(l Location) error {
	if err := checkLens(MaxNameBytes, "location.city", l.City, "location.region", l.Region, "location.timeZone", l.TimeZone); err != nil {
		return err
	}
	if l.Country != "" && !countryRE.MatchString(l.Country) {
		return fmt.Errorf("%w: location.country %q is not an ISO 3166-1 alpha-2 code (like GB)", ErrInvalid, l.Country)
	}
	if c := l.Coordinates; c != nil {
		if math.IsNaN(c.Lat) || math.IsNaN(c.Lon) || c.Lat < -90 || c.Lat > 90 || c.Lon < -180 || c.Lon > 180 {
			return fmt.Errorf("%w: location.coordinates must be a latitude in [-90, 90] and a longitude in [-180, 180]", ErrInvalid)
		}
	}
	if l.TimeZone != "" {
		if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "Local" {
			return fmt.Errorf("%w: location.timeZone %q is not an IANA time zone", ErrInvalid, l.TimeZone)
		}
	}
	return nil
}

// GroupType is what a user group is about, as people name it.
type GroupType string

// Group types.
const (
	TypeSocial          GroupType = "social"
	TypeSpecialInterest GroupType = "special-interest"
	TypeSoftware        GroupType = "software"
)

// Valid reports whether t is empty or one of the three types.
func (t GroupType) Valid() bool {
	return t == "" || t == TypeSocial || t == TypeSpecialInterest || t == TypeSoftware
}

// Bounds on tags.
const (
	MaxTags     = 50
	MaxTagBytes = 64
)

var tagRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}][\p{Ll}\p{Lo}\p{N}+#./ -]*$`)

// NormalizeTags returns tags trimmed, lower-cased, without empties or
// duplicates, in their first order.
func NormalizeTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		t = strings.ToLower(strings.Join(strings.Fields(t), " "))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// validateTags checks topics or products as NormalizeTags leaves them.
func validateTags(field string, tags []string) error {
	if len(tags) > MaxTags {
		return &LimitError{Field: field, Limit: LimitCount, Max: MaxTags}
	}
	for i, t := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		if len(t) > MaxTagBytes {
			return &LimitError{Field: f, Limit: LimitLength, Max: MaxTagBytes}
		}
		if !tagRE.MatchString(t) {
			return fmt.Errorf("%w: %s %q: lower-case letters, digits, spaces and + # . / -", ErrInvalid, f, t)
		}
	}
	return nil
}
