package bolt

import (
	"encoding/json"
	"strconv"

	"github.com/roster-dev/roster/policy"
)

// appendChange appends the JSON encoding of c to b: the bytes json.Marshal
// gives, provided c.Before and c.After are compact JSON, as everything this
// package encodes is. They are copied as they are, where json.Marshal would
// validate and re-compact them: on a bulk load that was a pass over every
// record a second time.
func appendChange(b []byte, c policy.Change) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, c.Seq, 10)
	b = append(b, `,"time":"`...)
	b, err := c.Time.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `","actor":`...)
	b = appendString(b, c.Actor)
	if c.Tenant != "" {
		b = append(b, `,"tenant":`...)
		b = appendString(b, string(c.Tenant))
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, string(c.Kind))
	b = append(b, `,"op":`...)
	b = appendString(b, string(c.Op))
	b = append(b, `,"id":`...)
	b = appendString(b, c.ID)
	if len(c.Before) > 0 {
		b = append(b, `,"before":`...)
		b = append(b, c.Before...)
	}
	if len(c.After) > 0 {
		b = append(b, `,"after":`...)
		b = append(b, c.After...)
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, escaped as json.Marshal does.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
