package hours_test

import (
	"strings"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/hours"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func span(from, to string) hours.Span { return hours.Span{From: from, To: to} }

// weekdays is 09:00–17:00 Monday to Friday.
func weekdays(zone string, holidays ...string) hours.Schedule {
	w := map[string][]hours.Span{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		w[d] = []hours.Span{span("09:00", "17:00")}
	}
	return hours.Schedule{TimeZone: zone, Week: w, Holidays: holidays}
}

func TestNext(t *testing.T) {
	cases := []struct {
		name string
		s    hours.Schedule
		at   string // UTC
		open bool
		next string // UTC, "" with open or never
	}{
		{name: "always open", s: hours.Schedule{}, at: "2026-03-08 07:30", open: true},
		{name: "weekday inside", s: weekdays("Europe/London"), at: "2026-06-10 12:00", open: true},
		{name: "weekday at its start", s: weekdays("Europe/London"), at: "2026-06-10 08:00", open: true}, // 09:00 BST
		{name: "weekday at its end is closed", s: weekdays("Europe/London"), at: "2026-06-10 16:00", next: "2026-06-11 08:00"},
		{name: "friday evening waits for monday", s: weekdays("America/New_York"), at: "2026-06-12 22:00", next: "2026-06-15 13:00"},

		// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC).
		{name: "NY spring: an opening in the gap opens when the clocks jump",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("02:30", "05:00")}}},
			at: "2026-03-08 05:00", next: "2026-03-08 07:00"},
		{name: "NY spring: open right after the jump",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("02:30", "05:00")}}},
			at: "2026-03-08 07:00", open: true},
		{name: "NY spring: a span wholly in the gap does not open that day",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("02:15", "02:45")}, "mon": {span("09:00", "10:00")}}},
			at: "2026-03-08 05:00", next: "2026-03-09 13:00"},
		{name: "NY spring: the day's spans after the gap keep their wall times",
			s: weekdays("America/New_York"), at: "2026-03-08 12:00", next: "2026-03-09 13:00"},
		// 2026-11-01 02:00 EDT → 01:00 EST (06:00 UTC): 01:00–02:00 twice.
		{name: "NY fall: an opening in the repeated hour is its first occurrence",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("01:00", "01:30")}}},
			at: "2026-11-01 04:00", next: "2026-11-01 05:00"},
		{name: "NY fall: no second opening when 01:00 comes round again",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("01:00", "01:30")}}},
			at: "2026-11-01 06:10", next: "2026-11-08 06:00"},
		{name: "NY fall: a span across the repeated hour stays open through both",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("00:30", "02:00")}}},
			at: "2026-11-01 06:40", open: true},
		{name: "NY fall: and closes at 02:00 EST",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("00:30", "02:00")}}},
			at: "2026-11-01 07:00", next: "2026-11-08 05:30"},
		{name: "NY 2027 spring",
			s:  hours.Schedule{TimeZone: "America/New_York", Week: map[string][]hours.Span{"sun": {span("02:00", "03:30")}}},
			at: "2027-03-14 00:00", next: "2027-03-14 07:00"},

		// Europe/London: 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
		{name: "London spring: 01:30 opens at 02:00 BST",
			s:  hours.Schedule{TimeZone: "Europe/London", Week: map[string][]hours.Span{"sun": {span("01:30", "03:00")}}},
			at: "2026-03-29 00:00", next: "2026-03-29 01:00"},
		{name: "London fall: 01:15 is 01:15 BST",
			s:  hours.Schedule{TimeZone: "Europe/London", Week: map[string][]hours.Span{"sun": {span("01:15", "01:45")}}},
			at: "2026-10-25 00:00", next: "2026-10-25 00:15"},
		{name: "London fall: closed at the second 01:20",
			s:  hours.Schedule{TimeZone: "Europe/London", Week: map[string][]hours.Span{"sun": {span("01:15", "01:45")}}},
			at: "2026-10-25 01:20", next: "2026-11-01 01:15"},
		{name: "London 2027 fall: the week after keeps GMT",
			s: weekdays("Europe/London"), at: "2027-10-29 17:00", next: "2027-11-01 09:00"},

		// Asia/Jerusalem: 2026-03-27 (a Friday) 02:00 IST → 03:00 IDT (00:00 UTC);
		// 2026-10-25 02:00 IDT → 01:00 IST (2026-10-24 23:00 UTC).
		{name: "Jerusalem spring (a Friday): 02:00 opens at the jump",
			s:  hours.Schedule{TimeZone: "Asia/Jerusalem", Week: map[string][]hours.Span{"fri": {span("02:00", "04:00")}}},
			at: "2026-03-26 20:00", next: "2026-03-27 00:00"},
		{name: "Jerusalem fall: first 01:30 only",
			s:  hours.Schedule{TimeZone: "Asia/Jerusalem", Week: map[string][]hours.Span{"sun": {span("01:30", "01:50")}}},
			at: "2026-10-24 23:35", next: "2026-10-31 23:30"},
		{name: "Jerusalem 2027 spring",
			s:  hours.Schedule{TimeZone: "Asia/Jerusalem", Week: map[string][]hours.Span{"fri": {span("02:30", "02:59"), span("08:00", "09:00")}}},
			at: "2027-03-25 12:00", next: "2027-03-26 05:00"},

		// Australia/Sydney: 2026-04-05 03:00 AEDT → 02:00 AEST (2026-04-04 16:00 UTC);
		// 2026-10-04 02:00 AEST → 03:00 AEDT (2026-10-03 16:00 UTC).
		{name: "Sydney fall: 02:30 is the AEDT one",
			s:  hours.Schedule{TimeZone: "Australia/Sydney", Week: map[string][]hours.Span{"sun": {span("02:30", "02:45")}}},
			at: "2026-04-04 12:00", next: "2026-04-04 15:30"},
		{name: "Sydney fall: not again at 02:30 AEST",
			s:  hours.Schedule{TimeZone: "Australia/Sydney", Week: map[string][]hours.Span{"sun": {span("02:30", "02:45")}}},
			at: "2026-04-04 16:35", next: "2026-04-11 16:30"},
		{name: "Sydney spring: 02:00 opens at 03:00 AEDT",
			s:  hours.Schedule{TimeZone: "Australia/Sydney", Week: map[string][]hours.Span{"sun": {span("02:00", "10:00")}}},
			at: "2026-10-03 12:00", next: "2026-10-03 16:00"},
		{name: "Sydney 2027 spring: open just after the jump",
			s:  hours.Schedule{TimeZone: "Australia/Sydney", Week: map[string][]hours.Span{"sun": {span("02:00", "10:00")}}},
			at: "2027-10-02 16:01", open: true},

		// Holidays are local dates.
		{name: "holiday skipped to the next working day",
			s: weekdays("Europe/London", "2026-12-25", "2026-12-28"), at: "2026-12-24 18:00", next: "2026-12-29 09:00"},
		{name: "a holiday by the local date, not the UTC one",
			s: weekdays("Australia/Sydney", "2026-01-26"), at: "2026-01-25 23:00", next: "2026-01-26 22:00"},
		{name: "the day before a local holiday is open",
			s: weekdays("Australia/Sydney", "2026-01-26"), at: "2026-01-23 00:00", open: true},

		// Past midnight, as two spans.
		{name: "past midnight: open after 00:00",
			s:  hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"fri": {span("22:00", "24:00")}, "sat": {span("00:00", "02:00")}}},
			at: "2026-06-13 00:00", open: true},
		{name: "past midnight: open at 23:59",
			s:  hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"fri": {span("22:00", "24:00")}, "sat": {span("00:00", "02:00")}}},
			at: "2026-06-12 23:59", open: true},
		{name: "past midnight: closed at 02:00, next friday",
			s:  hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"fri": {span("22:00", "24:00")}, "sat": {span("00:00", "02:00")}}},
			at: "2026-06-13 02:00", next: "2026-06-19 22:00"},

		// Never within a year: Mondays only, and every Monday of the next year a holiday.
		{name: "never within a year", s: hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("09:00", "10:00")}}, Holidays: mondays(utc("2026-06-01 00:00"), 54)},
			at: "2026-06-01 11:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.s.Validate("hours"); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			at := utc(c.at)
			open, next := c.s.Next(at)
			if open != c.open {
				t.Fatalf("Next(%s) open = %v, want %v (next %s)", c.at, open, c.open, next.UTC())
			}
			switch {
			case open && !next.Equal(at):
				t.Errorf("open, next = %s, want t", next.UTC())
			case !open && c.next == "" && !next.IsZero():
				t.Errorf("next = %s, want none", next.UTC())
			case !open && c.next != "" && !next.Equal(utc(c.next)):
				t.Errorf("next = %s (%s), want %s UTC", next.UTC().Format("2006-01-02 15:04"), next, c.next)
			}
			if !open && !next.IsZero() {
				// The opening found is open, and the instant before it is not.
				if o, _ := c.s.Next(next); !o {
					t.Errorf("closed at its own next opening %s", next)
				}
				if o, _ := c.s.Next(next.Add(-time.Second)); o {
					t.Errorf("open a second before its next opening %s", next)
				}
			}
		})
	}
}

func mondays(from time.Time, n int) []string {
	var out []string
	for d := from; len(out) < n; d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Monday {
			out = append(out, d.Format(time.DateOnly))
		}
	}
	return out
}

// TestNextWalk walks a year in every test zone minute by minute around each
// transition and checks Next against itself: an instant is open exactly
// when Next says so, and from a closed instant Next's opening is the first
// open minute after it.
func TestNextWalk(t *testing.T) {
	for _, zone := range []string{"Europe/London", "America/New_York", "Asia/Jerusalem", "Australia/Sydney"} {
		s := hours.Schedule{TimeZone: zone, Week: map[string][]hours.Span{
			"fri": {span("00:30", "01:30"), span("02:10", "02:40"), span("22:00", "24:00")},
			"sat": {span("00:00", "01:20"), span("02:30", "03:10")},
			"sun": {span("00:00", "01:10"), span("01:40", "02:20"), span("02:50", "04:00")},
		}}
		loc, _ := time.LoadLocation(zone)
		for tt := time.Date(2026, 1, 1, 0, 0, 0, 0, loc); tt.Year() < 2028; {
			_, end := tt.ZoneBounds()
			if end.IsZero() {
				break
			}
			var pendingNext time.Time
			for m := end.Add(-50 * time.Hour); m.Before(end.Add(50 * time.Hour)); m = m.Add(5 * time.Minute) {
				open, next := s.Next(m)
				if !pendingNext.IsZero() && open && !m.After(pendingNext) && !m.Equal(pendingNext) {
					t.Fatalf("%s: open at %s, before the next opening %s said earlier", zone, m, pendingNext)
				}
				if !open {
					if next.IsZero() || !next.After(m) {
						t.Fatalf("%s: closed at %s, next %s", zone, m, next)
					}
					pendingNext = next
				} else {
					pendingNext = time.Time{}
				}
			}
			tt = end
		}
	}
}

func TestValidate(t *testing.T) {
	ok := []hours.Schedule{
		{},
		{TimeZone: "Europe/London"},
		weekdays("Asia/Jerusalem", "2026-09-21"),
		{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("00:00", "24:00")}, "tue": nil}},
		{TimeZone: "Australia/Sydney", Week: map[string][]hours.Span{"sat": {span("12:00", "13:00"), span("09:00", "12:00")}}},
	}
	for i, s := range ok {
		if err := s.Validate("hours"); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []struct {
		s     hours.Schedule
		field string
	}{
		{hours.Schedule{TimeZone: "Mars/Olympus"}, "hours.time_zone"},
		{hours.Schedule{TimeZone: "Local", Week: map[string][]hours.Span{"mon": {span("09:00", "10:00")}}}, "hours.time_zone"},
		{hours.Schedule{Week: map[string][]hours.Span{"mon": {span("09:00", "10:00")}}}, "hours.time_zone"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"monday": {span("09:00", "10:00")}}}, "hours.week.monday"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("09:00", "10:00"), span("9:00", "10:00")}}}, "hours.week.mon[1].from"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("09:00", "10:00"), span("10:00", "24:01")}}}, "hours.week.mon[1].to"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("24:00", "24:00")}}}, "hours.week.mon[0].from"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("09:60", "10:00")}}}, "hours.week.mon[0].from"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("+9:00", "10:00")}}}, "hours.week.mon[0].from"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("10:00", "10:00")}}}, "hours.week.mon[0].to"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {span("22:00", "02:00")}}}, "hours.week.mon[0].to"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"tue": {span("12:00", "14:00"), span("09:00", "12:30")}}}, "hours.week.tue[1]"},
		{hours.Schedule{TimeZone: "UTC", Week: map[string][]hours.Span{"mon": {}}}, "hours.week"},
		{hours.Schedule{TimeZone: "UTC", Holidays: []string{"2026-12-25"}}, "hours.holidays"},
		{weekdays("UTC", "2026-12-25", "2026-02-30"), "hours.holidays[1]"},
		{weekdays("UTC", "25/12/2026"), "hours.holidays[0]"},
	}
	for i, c := range bad {
		err := c.s.Validate("hours")
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Field != c.field || !strings.HasPrefix(e.Message, c.field+": ") {
			t.Errorf("bad[%d] %+v: %v, want invalid %s", i, c.s, err, c.field)
		}
	}
	// Without a prefix the path starts at the schedule's own fields.
	if e, _ := apperr.As(hours.Schedule{TimeZone: "Nowhere"}.Validate("")); e == nil || e.Field != "time_zone" {
		t.Errorf("no prefix: %v", e)
	}
}
