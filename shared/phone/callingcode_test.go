package phone

import "testing"

func TestNormalizeDialled(t *testing.T) {
	for _, c := range []struct{ raw, cc, country, want string }{
		{"0501234567", "972", "", "+972501234567"},    // the seed's 05xxxxxxxx with 972
		{"0501234567", "+972", "PK", "+972501234567"}, // the code wins over the channel's country
		{"972501234567", "", "PK", "+972501234567"},   // international without +
		{"+972501234567", "", "", "+972501234567"},
		{"03244077087", "", "PK", "+923244077087"}, // local in the default country
		{"79995253422", "", "", "+79995253422"},
	} {
		got, err := NormalizeDialled(c.raw, c.cc, c.country)
		if err != nil || got != c.want {
			t.Errorf("NormalizeDialled(%q, %q, %q) = %q, %v; want %q", c.raw, c.cc, c.country, got, err, c.want)
		}
	}
	for _, c := range []struct{ raw, cc string }{
		{"hello", ""}, {"05012", "972"}, {"0501234567", "abc"}, {"0501234567", "9999"}, {"12", ""}, {"", "972"},
	} {
		if got, err := NormalizeDialled(c.raw, c.cc, "IL"); err == nil {
			t.Errorf("NormalizeDialled(%q, %q) = %q, want an error", c.raw, c.cc, got)
		}
	}
}
