// Package phone normalises phone numbers to E.164 with
// github.com/nyaruka/phonenumbers. It is a separate package because the
// library loads its metadata at start-up (about 9 ms) and links protobuf
// reflection (several MB): only the functions that take phone input import
// it.
package phone

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize returns raw in E.164. A number without a country code is read
// in defaultCountry (ISO 3166-1 alpha-2); a "+" prefix, or a number that only
// parses as international, keeps its own country. Only a number that cannot
// be parsed even then is an error: numbers the library's metadata finds
// unusual for their country (the product documents' own +370628282846) are
// kept, as a bot collected them; fewer than MinDigits digits are not.
func Normalize(raw, defaultCountry string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 64 {
		return "", errors.New("empty or too long")
	}
	region := strings.ToUpper(defaultCountry)
	if region == "" {
		region = "ZZ"
	}
	n, err := phonenumbers.Parse(raw, region)
	if err != nil && !strings.HasPrefix(raw, "+") {
		// A full international number written without "+" (79995253422).
		n, err = phonenumbers.Parse("+"+raw, "ZZ")
	}
	if err != nil {
		return "", err
	}
	// The library strips national prefixes; on numbers its metadata finds
	// odd, a second pass may strip more. Settle on a fixed point, so that a
	// stored number is found by searching its own spelling.
	out := phonenumbers.Format(n, phonenumbers.E164)
	for range 16 { // each pass shortens the number; E.164 has at most 15 digits
		again, err := phonenumbers.Parse(out, "ZZ")
		if err != nil {
			break
		}
		next := phonenumbers.Format(again, phonenumbers.E164)
		if next == out {
			break
		}
		out = next
	}
	// No numbering plan has numbers this short (the shortest, Niue's and
	// Saint Helena's, have 7 digits with the country code): "12" read in
	// the US as +112 is a typo, not a number.
	if len(out)-1 < MinDigits {
		return "", errors.New("too short to be a phone number")
	}
	return out, nil
}

// MinDigits is the fewest digits (country code included) of a number
// Normalize accepts.
const MinDigits = 7

// FixedLine reports whether the library types the number (E.164) as a
// fixed line only: no SMS reaches it. A number it cannot tell from a
// mobile (FIXED_LINE_OR_MOBILE, as in the US) or cannot type is not.
func FixedLine(e164 string) bool {
	n, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return false
	}
	return phonenumbers.GetNumberType(n) == phonenumbers.FIXED_LINE
}
