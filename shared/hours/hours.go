// Package hours is a weekly opening schedule in an IANA time zone with
// holiday dates: when an installation (or its channel) may send.
//
// A span is read on the wall clock of its day in the schedule's zone, as
// an interval of instants: it opens at the first instant whose local time
// on that date is at or past From and closes at the first instant at or
// past To. So on a daylight-saving change:
//
//   - spring forward: a From inside the skipped hour (02:30 when clocks
//     jump from 02:00 to 03:00) opens at the first valid instant after it
//     (03:00); a span wholly inside the gap does not open that day;
//   - fall back: a wall time that occurs twice is its first occurrence, so
//     a span opens once (01:00–01:30 does not open again when 01:00 comes
//     round a second time), and a span across the repeated hour lasts an
//     hour longer.
//
// Holidays are local dates closed all day. A schedule open past midnight
// is written as two spans (fri 22:00–24:00, sat 00:00–02:00) and reads as
// one opening.
package hours

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
)

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

// Limits of a schedule (Validate).
const (
	MaxSpansPerDay = 12
	MaxHolidays    = 400
	// SearchDays bounds Next's search for an opening: a year and a day.
	SearchDays = 367
)

// Days are the Week keys, Monday first.
var Days = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// dayKey is a time.Weekday's Week key.
var dayKey = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// AlwaysOpen reports whether s never closes (no Week).
func (s Schedule) AlwaysOpen() bool { return len(s.Week) == 0 }

// Validate returns an apperr invalid error naming the field at fault
// (field is the JSON path prefix, e.g. "hours") or nil; or ErrNoZoneData
// when no zone can be checked.
func (s Schedule) Validate(field string) error {
	at := func(sub string) string {
		if field == "" {
			return sub
		}
		return field + "." + sub
	}
	if s.TimeZone != "" || len(s.Week) > 0 {
		if s.TimeZone == "" {
			return apperr.Invalid(at("time_zone"), "is required with a week: an IANA time zone such as Europe/London")
		}
		if _, err := location(s.TimeZone); errors.Is(err, ErrNoZoneData) {
			return err // not the caller's fault: an internal error
		} else if err != nil {
			return apperr.Invalidf(at("time_zone"), "%q is not an IANA time zone (such as Europe/London or America/New_York)", s.TimeZone)
		}
	}
	if len(s.Week) == 0 && len(s.Holidays) > 0 {
		return apperr.Invalid(at("holidays"), "apply only with a week (a schedule without one is always open)")
	}
	for k := range s.Week {
		if !slices.Contains(Days, k) {
			return apperr.Invalidf(at("week."+k), "is not a day: use mon, tue, wed, thu, fri, sat or sun")
		}
	}
	opens := false
	for _, day := range Days {
		spans := s.Week[day]
		if len(spans) > MaxSpansPerDay {
			return apperr.Invalidf(at("week."+day), "at most %d spans a day", MaxSpansPerDay)
		}
		type iv struct{ from, to, i int }
		ivs := make([]iv, 0, len(spans))
		for i, sp := range spans {
			path := fmt.Sprintf("week.%s[%d]", day, i)
			from, ok := clock(sp.From, false)
			if !ok {
				return apperr.Invalidf(at(path+".from"), "%q is not a time HH:MM from 00:00 to 23:59", sp.From)
			}
			to, ok := clock(sp.To, true)
			if !ok {
				return apperr.Invalidf(at(path+".to"), "%q is not a time HH:MM from 00:01 to 24:00", sp.To)
			}
			if to <= from {
				return apperr.Invalidf(at(path+".to"), "must be after from (%s); a span past midnight is two spans, one on each day", sp.From)
			}
			ivs = append(ivs, iv{from, to, i})
		}
		slices.SortFunc(ivs, func(a, b iv) int { return a.from - b.from })
		for j := 1; j < len(ivs); j++ {
			if ivs[j].from < ivs[j-1].to {
				a, b := min(ivs[j].i, ivs[j-1].i), max(ivs[j].i, ivs[j-1].i)
				return apperr.Invalidf(at(fmt.Sprintf("week.%s[%d]", day, b)), "overlaps week.%s[%d]", day, a)
			}
		}
		opens = opens || len(spans) > 0
	}
	if len(s.Week) > 0 && !opens {
		return apperr.Invalid(at("week"), "opens on no day: give at least one span")
	}
	if len(s.Holidays) > MaxHolidays {
		return apperr.Invalidf(at("holidays"), "at most %d dates", MaxHolidays)
	}
	for i, h := range s.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil || len(h) != len(time.DateOnly) {
			return apperr.Invalidf(at(fmt.Sprintf("holidays[%d]", i)), "%q is not a date YYYY-MM-DD", h)
		}
	}
	return nil
}

// clock reads "HH:MM" as minutes of the day; "24:00" only when end.
func clock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	v := h*60 + m
	switch {
	case m > 59:
		return 0, false
	case end && (v == 0 || v > 24*60):
		return 0, false
	case !end && v >= 24*60:
		return 0, false
	}
	return v, true
}

// locations caches loaded zones (LoadLocation reads and parses the zone
// file each time).
var locations sync.Map // string → *time.Location

// ErrNoZoneData is a zone that could not be loaded because no IANA zone
// database could be read at all: a deployment fault, never the caller's.
// Lambda's provided.al2023 has no /usr/share/zoneinfo: the functions that
// load a zone ship Go's zoneinfo.zip in their asset and name it in
// ZONEINFO (routes.ZoneReaders, the CDK app and `make build`).
var ErrNoZoneData = errors.New("hours: no IANA time zone database (set ZONEINFO to Go's lib/time/zoneinfo.zip)")

// zoneDataFound is set once a zone has been loaded from the database.
var zoneDataFound atomic.Bool

// location loads an IANA zone; "Local" (the machine's zone) is refused. A
// zone that cannot be loaded is ErrNoZoneData when no zone loads at all.
func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("hours: %q is not an IANA zone", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		if zerr := zoneData(); zerr != nil {
			return nil, zerr
		}
		return nil, err
	}
	if name != "UTC" {
		zoneDataFound.Store(true)
	}
	locations.Store(name, l)
	return l, nil
}

// zoneData is ErrNoZoneData (with the loader's error) when the zone
// database cannot be read: Etc/UTC, in every version of it, does not load.
func zoneData() error {
	if zoneDataFound.Load() {
		return nil
	}
	if _, err := time.LoadLocation("Etc/UTC"); err != nil {
		return fmt.Errorf("%w: %v", ErrNoZoneData, err)
	}
	zoneDataFound.Store(true)
	return nil
}

// Location is the schedule's zone (UTC for a schedule without one): an
// ErrNoZoneData when the zone database cannot be read, so that a caller
// fails rather than read the hours in UTC.
func (s Schedule) Location() (*time.Location, error) {
	if s.TimeZone == "" {
		return time.UTC, nil
	}
	return location(s.TimeZone)
}

// Next reports whether s is open at t and, when it is not, the instant
// of its next opening (zero when it never opens again within a year).
// A schedule that does not validate is read as best it can be: an unknown
// zone as UTC, an unreadable span or holiday left out. A caller checks
// Location first: without the zone database every zone is unknown.
func (s Schedule) Next(t time.Time) (open bool, at time.Time) {
	if s.AlwaysOpen() {
		return true, t
	}
	loc, err := location(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	holidays := make(map[string]bool, len(s.Holidays))
	for _, h := range s.Holidays {
		holidays[h] = true
	}
	type iv struct{ from, to int }
	week := map[string][]iv{}
	for day, spans := range s.Week {
		for _, sp := range spans {
			from, ok1 := clock(sp.From, false)
			to, ok2 := clock(sp.To, true)
			if ok1 && ok2 && from < to {
				week[day] = append(week[day], iv{from, to})
			}
		}
		slices.SortFunc(week[day], func(a, b iv) int { return a.from - b.from })
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	for i := 0; i < SearchDays; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC) // a civil date
		if holidays[day.Format(time.DateOnly)] {
			continue
		}
		for _, sp := range week[dayKey[day.Weekday()]] {
			start := firstAtOrAfter(loc, day, sp.from)
			end := firstAtOrAfter(loc, day, sp.to)
			if !start.Before(end) {
				continue // wholly inside a spring-forward gap
			}
			if t.Before(end) {
				if !t.Before(start) {
					return true, t
				}
				return false, start
			}
		}
	}
	return false, time.Time{}
}

// firstAtOrAfter is the first instant whose wall clock in loc, on the
// civil date day, is at or past minute minutes (24*60: the next day's
// first instant). A wall time that occurs twice (fall back) is its first
// occurrence; one that does not occur (spring forward) is the instant the
// clocks jump past it.
func firstAtOrAfter(loc *time.Location, day time.Time, minute int) time.Time {
	wall := day.Unix() + int64(minute)*60 // the wall time read as if UTC
	// The zone periods around it: offsets change at most a few hours
	// either way, so a day on each side covers every candidate.
	var best time.Time
	var prevOff int
	first := true
	p := time.Unix(wall-30*3600, 0).In(loc)
	for {
		_, off := p.Zone()
		start, end := p.ZoneBounds()
		if first {
			start, first = p, false
		} else if start.Unix()+int64(prevOff) <= wall && wall < start.Unix()+int64(off) && best.IsZero() {
			// The clocks jumped over wall at start (a gap): the wall
			// times from start+prevOff up to start+off never occur.
			best = start
		}
		if i := wall - int64(off); i >= start.Unix() && (end.IsZero() || i < end.Unix()) {
			c := time.Unix(i, 0)
			if best.IsZero() || c.Before(best) {
				best = c
			}
		}
		if end.IsZero() || end.Unix() > wall+30*3600 {
			break
		}
		prevOff = off
		p = end.In(loc)
	}
	if best.IsZero() { // not reached: every wall time occurs or is jumped over
		best = time.Date(day.Year(), day.Month(), day.Day(), 0, minute, 0, 0, loc)
	}
	return best.In(loc)
}
