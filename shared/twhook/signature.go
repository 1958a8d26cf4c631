package twhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/url"
	"sort"
	"strings"
)

// Twilio signs each request it makes (X-Twilio-Signature): the base64 of
// HMAC-SHA1, keyed by the account's auth token, over the full URL it
// called (query included) followed by each form parameter's name and
// value, sorted by name. Checked here with the standard library only, so
// the function links no Twilio SDK (the tests compare it with Twilio's own
// validator, github.com/twilio/twilio-go's RequestValidator).

// paramsPart is what the signature covers after the URL: every name and
// value, sorted by name (a repeated name's values sorted too).
func paramsPart(params url.Values) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, v...)
		}
	}
	return b
}

// Sign is Twilio's signature of a form-encoded request to fullURL.
func Sign(authToken, fullURL string, params url.Values) string {
	return sign(authToken, fullURL, paramsPart(params))
}

func sign(authToken, fullURL string, params []byte) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	mac.Write(params)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether signature is Twilio's signature, with authToken,
// of a request with params to one of urls. Like Twilio's own validators
// it takes each URL with and without its scheme's default port (Twilio
// signs the URL as it was configured, which may name :443 or not).
func Valid(authToken string, urls []string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	p := paramsPart(params)
	ok := false
	for _, u := range urls {
		for _, v := range portVariants(u) {
			// Every candidate is computed: the time does not say which
			// one matched.
			if hmac.Equal([]byte(sign(authToken, v, p)), []byte(signature)) {
				ok = true
			}
		}
	}
	return ok
}

// portVariants are u, and u with its default port added or removed.
func portVariants(u string) []string {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return []string{u}
	}
	def := map[string]string{"https": "443", "http": "80"}[pu.Scheme]
	if def == "" {
		return []string{u}
	}
	alt := *pu
	if host, port, err := net.SplitHostPort(pu.Host); err == nil {
		if port != def {
			return []string{u}
		}
		alt.Host = host
	} else {
		alt.Host = net.JoinHostPort(strings.Trim(pu.Host, "[]"), def)
	}
	return []string{u, alt.String()}
}

// maxQueryOrders bounds the query parameters whose orders are all tried.
const maxQueryOrders = 4

// CallbackURLs are the URLs Twilio may have signed for a request that
// reached us at base (scheme, host and full path, as the client called
// it) with the query rawQuery as the edge gave it. API Gateway hands a query
// over as a map, so its order is lost: the query is tried as given,
// sorted by name, and, for up to four names, in every order.
func CallbackURLs(base, rawQuery string) []string {
	if rawQuery == "" {
		return []string{base}
	}
	out := []string{base + "?" + rawQuery}
	add := func(q string) {
		u := base + "?" + q
		for _, have := range out {
			if have == u {
				return
			}
		}
		out = append(out, u)
	}
	// The pairs as given, grouped by name in the order names first appear.
	var names []string
	pairs := map[string][]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := pairs[k]; !ok {
			names = append(names, k)
		}
		pairs[k] = append(pairs[k], kv)
	}
	join := func(order []string) string {
		var parts []string
		for _, k := range order {
			parts = append(parts, pairs[k]...)
		}
		return strings.Join(parts, "&")
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	add(join(sorted))
	if len(names) <= maxQueryOrders {
		permute(names, 0, func(order []string) { add(join(order)) })
	}
	return out
}

// permute calls f with every order of s[i:] after s[:i].
func permute(s []string, i int, f func([]string)) {
	if i == len(s) {
		f(s)
		return
	}
	for j := i; j < len(s); j++ {
		s[i], s[j] = s[j], s[i]
		permute(s, i+1, f)
		s[i], s[j] = s[j], s[i]
	}
}
