// Package hours is a weekly opening schedule in an IANA time zone with
// holiday dates: when an installation (or its channel) may send.
//
// CONTRACT STUB: the types and signatures below are fixed; the bodies are
// placeholders (always open, no validation) to be replaced by the real
// implementation with its DST and holiday tests.
package hours

import "time"

// Span is one opening within a day, local wall-clock times "HH:MM";
// To may be "24:00" (to the end of the day). From < To.
type Span struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Schedule is a weekly schedule. The zero Schedule (no Week) is always
// open. Week keys are "mon", "tue", "wed", "thu", "fri", "sat", "sun"; a
// day absent from a non-empty Week is closed. Holidays are local dates
// "YYYY-MM-DD" closed all day.
type Schedule struct {
	TimeZone string            `json:"time_zone,omitempty"`
	Week     map[string][]Span `json:"week,omitempty"`
	Holidays []string          `json:"holidays,omitempty"`
}

// AlwaysOpen reports whether s never closes (no Week).
func (s Schedule) AlwaysOpen() bool { return len(s.Week) == 0 }

// Validate returns an apperr invalid error naming the field at fault
// (field is the JSON path prefix, e.g. "hours") or nil.
func (s Schedule) Validate(field string) error { return nil }

// Next reports whether s is open at t and, when it is not, the instant
// of its next opening (zero when it never opens again within a year).
func (s Schedule) Next(t time.Time) (open bool, at time.Time) { return true, t }
