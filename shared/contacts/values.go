package contacts

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// PhoneNormalizer turns a phone number into E.164, reading a number without
// a country code in defaultCountry (ISO 3166-1 alpha-2). Functions that never
// take phone input are built without one (package phone pulls in large
// metadata).
type PhoneNormalizer func(raw, defaultCountry string) (string, error)

// Canonical checks a raw JSON value against a type and returns its canonical
// string form: booleans TRUE/FALSE, numbers without exponent or trailing
// zeros, dates YYYY-MM-DD, datetimes RFC 3339 in UTC, emails lower-cased
// domain, phones E.164. label names the field in errors.
func Canonical(label string, t FieldType, options []string, raw json.RawMessage, phone PhoneNormalizer, country string) (string, error) {
	s, isString, err := scalar(raw)
	if err != nil {
		return "", invalid(label, "%s", err)
	}
	if s == "" {
		return "", nil // clearing a value
	}
	if utf8.RuneCountInString(s) > MaxValueLength {
		return "", invalid(label, "is longer than %d characters", MaxValueLength)
	}
	switch t {
	case Text:
		return s, nil
	case Number:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "xXpP_") || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", invalid(label, "must be a number, not %q", s)
		}
		if f == 0 {
			f = 0 // no "-0": a search for 0 must find it
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case Boolean:
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return "TRUE", nil
		case "false", "0", "no":
			return "FALSE", nil
		}
		return "", invalid(label, "must be TRUE or FALSE, not %q", s)
	case Date:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return "", invalid(label, "must be a date as YYYY-MM-DD, not %q", s)
		}
		return d.Format("2006-01-02"), nil
	case DateTime:
		for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
			if d, err := time.Parse(layout, s); err == nil {
				if y := d.UTC().Year(); y < 1 || y > 9999 {
					return "", invalid(label, "must be between years 0001 and 9999 in UTC, not %q", s)
				}
				return d.UTC().Format(time.RFC3339), nil
			}
		}
		return "", invalid(label, "must be a date and time as RFC 3339 or YYYY-MM-DD HH:MM:SS, not %q", s)
	case Email:
		return canonicalEmail(label, s)
	case Phone:
		if phone == nil {
			return "", fmt.Errorf("%s: no phone normalizer configured", label)
		}
		if !isString {
			s = strings.TrimSpace(string(raw))
		}
		e164, err := phone(s, country)
		if err != nil {
			return "", invalid(label, "must be a phone number (E.164 like +14155550123, or local to the channel's country), not %q", s)
		}
		return e164, nil
	case List:
		for _, o := range options {
			if strings.EqualFold(o, s) {
				return o, nil
			}
		}
		return "", invalid(label, "must be one of %s, not %q", strings.Join(options, ", "), s)
	}
	return "", fmt.Errorf("%s: unknown field type %q", label, t)
}

// scalar reads a JSON string, number, boolean or null as a string.
func scalar(raw json.RawMessage) (s string, isString bool, err error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, fmt.Errorf("is not a valid JSON string")
		}
		return strings.TrimSpace(s), true, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", false, fmt.Errorf("is not a valid value")
		}
		return strings.ToUpper(strconv.FormatBool(b)), false, nil
	case '{', '[':
		return "", false, fmt.Errorf("must be a string, number or boolean, not an object or array")
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, fmt.Errorf("is not a valid value")
		}
		return n.String(), false, nil
	}
}

func canonicalEmail(label, s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", invalid(label, "must be an email address, not %q", s)
	}
	at := strings.LastIndex(s, "@")
	return s[:at] + "@" + strings.ToLower(s[at+1:]), nil
}

// ValidFieldName reports whether a custom field name is acceptable: 1 to 64
// characters, not only digits (digits alone are field IDs), not a standard
// field's name.
func ValidFieldName(name string) error {
	n := utf8.RuneCountInString(name)
	if n == 0 || n > 64 || strings.TrimSpace(name) != name {
		return invalid("name", "must be 1 to 64 characters without leading or trailing spaces")
	}
	if strings.Trim(name, "0123456789") == "" {
		return invalid("name", "must not be only digits (digits are field IDs)")
	}
	for _, f := range Standard {
		if strings.EqualFold(f.Name, name) {
			return invalid("name", "%q is a standard field", name)
		}
	}
	return nil
}
