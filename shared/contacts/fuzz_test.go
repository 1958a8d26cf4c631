package contacts

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/phone"
)

var fuzzCountries = []string{"", "PK", "US", "IL", "RU"}

// badCanonical recognises canonical forms that must never be produced
// (non-finite or negative-zero numbers, datetimes outside years 1-9999).
func badCanonical(typ FieldType, v string) bool {
	switch typ {
	case Number:
		return v == "NaN" || v == "+Inf" || v == "-Inf" || v == "-0"
	case DateTime:
		return strings.HasPrefix(v, "-") || (len(v) > 4 && v[4] != '-')
	}
	return false
}

// checkCanonical asserts Canonical's contract for one input: an error is a
// *apperr.Error naming the label; a value is short enough, of the type's
// shape, and idempotent.
func checkCanonical(t *testing.T, typ FieldType, raw []byte, norm PhoneNormalizer, country string) {
	const label = "Some field"
	v, err := Canonical(label, typ, listOptions, raw, norm, country)
	if err != nil {
		var ve *apperr.Error
		if !errors.As(err, &ve) || ve.Field != label {
			t.Fatalf("Canonical(%s, %q) error %v (%T) is not an invalid-input error on the label", typ, raw, err, err)
		}
		return
	}
	if v == "" {
		return
	}
	if badCanonical(typ, v) {
		t.Fatalf("Canonical(%s, %q) = %q, not a canonical form", typ, raw, v)
	}
	if utf8.RuneCountInString(v) > MaxValueLength || strings.TrimSpace(v) != v || !utf8.ValidString(v) {
		t.Fatalf("Canonical(%s, %q) = %q: too long, padded or not UTF-8", typ, raw, v)
	}
	switch typ {
	case Boolean:
		if v != "TRUE" && v != "FALSE" {
			t.Fatalf("boolean %q", v)
		}
	case Number:
		if strings.ContainsAny(v, "eE") {
			t.Fatalf("number %q has an exponent", v)
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("number %q does not parse", v)
		}
	case Date:
		if _, err := time.Parse("2006-01-02", v); err != nil {
			t.Fatalf("date %q", v)
		}
	case DateTime:
		d, err := time.Parse(time.RFC3339, v)
		if err != nil || !strings.HasSuffix(v, "Z") || d.Location() != time.UTC {
			t.Fatalf("datetime %q is not RFC 3339 in UTC: %v", v, err)
		}
	case Email:
		at := strings.LastIndex(v, "@")
		if at < 1 || strings.ToLower(v[at+1:]) != v[at+1:] {
			t.Fatalf("email %q", v)
		}
	case Phone:
		if !strings.HasPrefix(v, "+") {
			t.Fatalf("phone %q is not E.164", v)
		}
	case List:
		found := false
		for _, o := range listOptions {
			found = found || o == v
		}
		if !found {
			t.Fatalf("list value %q is not an option", v)
		}
	}
	b, _ := json.Marshal(v)
	again, err := Canonical(label, typ, listOptions, b, norm, country)
	if err != nil || again != v {
		t.Fatalf("not idempotent: Canonical(%s, %q) = %q, then %q, %v", typ, raw, v, again, err)
	}
	// Searching compares ValueKeys: the value's key is stable too.
	if ValueKey(again) != ValueKey(v) {
		t.Fatalf("value key of %q changed", v)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, c := range canonCases() {
		if c.bug != "" {
			continue
		}
		for i, typ := range FieldTypes {
			if typ == c.typ {
				f.Add(uint8(i), []byte(c.raw), uint8(1))
			}
		}
	}
	for i := range FieldTypes {
		for _, raw := range []string{`null`, `""`, `{}`, `[1]`, `"x"`, `0`, `-1.5e-7`, `true`, `"\ud800"`, `"\u00a0 a \u00a0"`, "\"\xff\""} {
			f.Add(uint8(i), []byte(raw), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, raw []byte, country uint8) {
		checkCanonical(t, FieldTypes[int(typ)%len(FieldTypes)], raw, fakePhone, fuzzCountries[int(country)%len(fuzzCountries)])
	})
}

// FuzzCanonicalPhone runs the real normaliser: whatever it accepts is
// E.164 and stays put.
func FuzzCanonicalPhone(f *testing.F) {
	for _, s := range []string{`"03244077087"`, `"+923244077087"`, `"+370 8 628 28 2846"`, `"+7 8 800 555 3535"`, `923244077087`, `"+370 628 28 2846"`, `"(415) 555-0123"`,
		`"054-123-4567"`, `"+1 800 FLOWERS"`, `"+44 20 7946 0958 ext. 12"`, `"1"`, `"++1"`, `"+999 123"`, `"0"`} {
		for i := range fuzzCountries {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, country uint8) {
		checkCanonical(t, Phone, raw, phone.Normalize, fuzzCountries[int(country)%len(fuzzCountries)])
	})
}

// FuzzValidFieldName: an accepted name is 1 to 64 runes, unpadded, not a
// standard field's name, never mistaken for an ID, and usable: a field made
// with it is found by it in any ASCII case.
func FuzzValidFieldName(f *testing.F) {
	for _, s := range []string{"Plan", "", " x", "123", "12a", "firstName", "PHONE", "ñandú", strings.Repeat("a", 64), "0x1", "1e3", "-1", "+1", "١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := ValidFieldName(name); err != nil {
			var ve *apperr.Error
			if !errors.As(err, &ve) || ve.Field != "name" {
				t.Fatalf("error %v is not an invalid-input error on name", err)
			}
			return
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > 64 || strings.TrimSpace(name) != name {
			t.Fatalf("accepted %q", name)
		}
		if strings.Trim(name, "0123456789") == "" && len(name) <= 19 {
			t.Fatalf("accepted the digits-only %q", name)
		}
		for _, sf := range Standard {
			if strings.EqualFold(sf.Name, name) {
				t.Fatalf("accepted the standard name %q", name)
			}
		}
		asciiUpper := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, name)
		std, def, err := resolve(asciiUpper, []Field{{ID: "1", Name: name, Type: Text}})
		if utf8.ValidString(name) && (err != nil || std.Name != "" || def.ID != "1") {
			t.Fatalf("a field named %q is not found as %q: %v %v %v", name, asciiUpper, std, def, err)
		}
	})
}

// FuzzWriteThenSearch: a value the service accepts for a field is found by
// searching that field for the same value, spelled as it was written.
func FuzzWriteThenSearch(f *testing.F) {
	for _, c := range canonCases() {
		if c.bug != "" || c.wantErr || c.want == "" {
			continue
		}
		var s string
		if json.Unmarshal([]byte(c.raw), &s) != nil {
			continue
		}
		for i, typ := range FieldTypes {
			if typ == c.typ {
				f.Add(uint8(i), s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, value string) {
		ft := FieldTypes[int(typ)%len(FieldTypes)]
		s, _ := newTestService()
		var opts []string
		if ft == List {
			opts = listOptions
		}
		field := mustField(t, s, "t1", "Field", ft, opts...)
		sc := Scope{TenantID: "t1", DefaultCountry: "PK"}
		c, err := s.Create(bg, sc, []Input{{Name: "field", Value: mustMarshal(t, value)}}, false)
		if err != nil {
			var ve *apperr.Error
			if !errors.As(err, &ve) || ve.Field != "field" {
				t.Fatalf("Create error %v is not an invalid-input error on the input's name", err)
			}
			return
		}
		stored := c.Custom[field.ID]
		if badCanonical(ft, stored) {
			t.Fatalf("%s value %q stored as %q", ft, value, stored)
		}
		if stored == "" {
			return
		}
		for _, name := range []string{"FIELD", field.ID} {
			p, err := search(s, sc, name, value, 1)
			if err != nil || p.Total != 1 || len(p.Contacts) != 1 || p.Contacts[0].ID != c.ID {
				t.Fatalf("%s value %q stored as %q: search by %s gives %+v, %v", ft, value, stored, name, p, err)
			}
		}
	})
}
