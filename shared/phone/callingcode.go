package phone

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// NormalizeDialled is Normalize for a number a sender dials (seed 004's
// ToMobileNumber, FromMobileNumber): a number written without its
// country code is read in the country of callingCode ("972", "+972")
// when given, else in defaultCountry; the result must be a possible
// number of its country (its length fits), so a typo such as a missing
// digit is refused rather than queued for a sender that cannot dial it.
func NormalizeDialled(raw, callingCode, defaultCountry string) (string, error) {
	region := defaultCountry
	if cc := strings.TrimPrefix(strings.TrimSpace(callingCode), "+"); cc != "" {
		n, err := strconv.Atoi(cc)
		if err != nil || n <= 0 || len(cc) > 3 {
			return "", errors.New("not a country calling code")
		}
		region = phonenumbers.GetRegionCodeForCountryCode(n)
		if region == "" || region == "ZZ" {
			// Non-geographic codes (800, 870, …) have no region: the
			// number is read as international under that code.
			raw = "+" + cc + strings.TrimLeft(strings.TrimSpace(raw), "+0")
			region = "ZZ"
		}
	}
	if strings.TrimSpace(callingCode) == "" {
		// Without a code, a number not starting with 0 or + is the seed's
		// full international number (9725xxxxxxxx); a 0 starts a local one.
		t := strings.TrimSpace(raw)
		if t != "" && t[0] != '0' && t[0] != '+' {
			if e, err := possible("+" + t); err == nil {
				return e, nil
			}
		}
	}
	e164, err := Normalize(raw, region)
	if err != nil {
		return "", err
	}
	return possible(e164)
}

// possible normalises an international number and checks that its
// length fits its country.
func possible(raw string) (string, error) {
	e164, err := Normalize(raw, "ZZ")
	if err != nil {
		return "", err
	}
	n, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", errors.New("not a possible phone number")
	}
	return e164, nil
}
