package phone

import "testing"

func TestNormalize(t *testing.T) {
	cases := []struct {
		raw, country, want string
	}{
		{"03244077087", "PK", "+923244077087"}, // the Contacts API document's own example
		{"+370628282846", "", "+370628282846"},
		{"+370 628 28 2846", "PK", "+370628282846"},
		{"79995253422", "", "+79995253422"}, // seed 002's receiver, no "+"
		{"(415) 555-0123", "US", "+14155550123"},
		{"054-123-4567", "IL", "+972541234567"},
		{"972541234567", "IL", "+972541234567"},
		{"not a number", "US", ""},
		{"", "US", ""},
		{"1", "US", ""},
		{"+999 123", "", ""},
		{"12", "US", ""},             // would be +112
		{"911", "US", ""},            // would be +1911
		{"+123", "", ""},             // would be kept as is
		{"+6834002", "", "+6834002"}, // Niue: 7 digits in all
		{"+2905000", "", "+2905000"}, // Saint Helena
	}
	for _, c := range cases {
		got, err := Normalize(c.raw, c.country)
		if c.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q, %q) = %q, want an error", c.raw, c.country, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", c.raw, c.country, got, err, c.want)
		}
	}
}

func TestFixedLine(t *testing.T) {
	for n, want := range map[string]bool{
		"+442071234567": true,  // London
		"+4271234567":   false, // not a number
		"+923001234567": false, // a Pakistani mobile
		"+447911123456": false, // a UK mobile
		"+12015550123":  false, // US: fixed line or mobile
		"+922134567890": true,  // Karachi
	} {
		if got := FixedLine(n); got != want {
			t.Errorf("FixedLine(%s) = %v, want %v", n, got, want)
		}
	}
}
