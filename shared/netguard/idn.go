// Internationalised host names. The guard judges, and the dispatcher dials,
// ASCII hosts only: CheckURL converts an internationalised name (bücher.example,
// 例え.テスト) to its ASCII (punycode, "xn--") form, judges that form exactly
// as if it had been written so, and hands it back in an *IDNError for the
// caller to keep. ParseURL, which the dispatcher uses, refuses non-ASCII
// hosts without converting them.
//
// The conversion is net/http's own: the UTS #46 lookup profile (non-
// transitional mapping, STD3 rules, hyphen, joiner and bidi checks), as
// browsers apply it, which http.Transport applies to every host it dials.
// It is reached through a Transport whose dialer only records the address
// it is asked for (dialForm), so a stored URL holds exactly the host Go
// would dial, and no second copy of the Unicode tables (golang.org/x/net/idna
// and golang.org/x/text, about 190 KiB) is linked into the functions. The
// tests check the conversion against golang.org/x/net/idna.
//
// The result must then be a valid DNS name: no empty label, labels of at
// most 63 bytes, at most 253 bytes in all. The mapping can turn a host into
// an IP spelling or a loopback name (１２７．０．０．１ is 127.0.0.1,
// ｌｏｃａｌｈｏｓｔ is localhost); that is why the ASCII form is what is judged.

package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DNS limits (RFC 1035), on the ASCII form.
const (
	maxLabel = 63
	maxName  = 253 // without the root's trailing dot
)

// IDNError is CheckURL's answer to a URL whose host is an internationalised
// name: the URL is allowed, but only as URL, its ASCII form, which CheckURL
// judged in full (resolution included) and which is what must be stored and
// dialed.
type IDNError struct {
	Host string // the host as given, in lower case
	URL  string // the URL with its host in ASCII
}

func (e *IDNError) Error() string {
	return fmt.Sprintf("host %q is an internationalised name; use its ASCII form, %s", e.Host, e.URL)
}

// ASCIIURL returns the URL to keep in place of the one CheckURL was given.
func (e *IDNError) ASCIIURL() string { return e.URL }

// ASCIIURL returns raw with its host converted to ASCII by asciiHost, and the
// URL otherwise as url.URL.String writes it. A URL whose host is already
// ASCII, or that ParseURL refuses without looking at the host (it does not
// parse, is too long, has spaces or control characters), is returned
// unchanged. A host that is not a valid internationalised domain name is a
// *BlockedError.
func ASCIIURL(raw string) (string, error) {
	if len(raw) > MaxURLLength || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil || isASCII(u.Hostname()) {
		return raw, nil
	}
	host, err := asciiHost(u.Hostname())
	if err != nil {
		return "", err
	}
	if port := u.Port(); port != "" {
		host += ":" + port
	}
	u.Host = host
	return u.String(), nil
}

// asciiHost converts a host name (no port, no brackets) to its ASCII form,
// lower case: an ASCII host is returned as is, otherwise UTS #46 lookup
// processing is applied and the result must be a valid DNS name. Refusals
// are *BlockedError naming the problem.
func asciiHost(host string) (string, error) {
	if isASCII(host) {
		return host, nil
	}
	invalid := func(format string, args ...any) error {
		return &BlockedError{Reason: fmt.Sprintf("host %q is not a valid internationalised domain name: ", host) + fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(host) {
		return "", invalid("it is not valid UTF-8")
	}
	ascii, err := dialForm(host)
	if err != nil {
		return "", invalid("it cannot be converted: %v", err)
	}
	if !isASCII(ascii) { // net/http keeps a host it cannot convert as it is
		return "", invalid("%s", explain(host))
	}
	// Check the labels against the input's: the lookup profile drops
	// characters (soft hyphens, variation selectors) and "xn--" with nothing
	// after it, which can leave a label empty, and does not apply DNS limits.
	in := splitLabels(host)
	out := strings.Split(ascii, ".")
	if len(in) != len(out) {
		return "", invalid("its labels change when mapped")
	}
	name := len(ascii)
	for i, a := range out {
		last := i == len(out)-1
		switch {
		case a == "" && last && in[i] == "": // the root's trailing dot
			name--
		case a == "" && in[i] == "":
			return "", invalid("it has an empty label")
		case a == "":
			return "", invalid("label %q is empty once mapped", in[i])
		case len(a) > maxLabel:
			return "", invalid("label %q is %d bytes long in ASCII (%s), more than %d", in[i], len(a), a, maxLabel)
		}
	}
	if name > maxName {
		return "", invalid("it is %d bytes long in ASCII, more than %d", name, maxName)
	}
	return ascii, nil
}

// splitLabels splits a host at its dots, keeping empty labels: the full
// stop and what UTS #46 maps to it (ideographic full stop, full-width full
// stop, half-width ideographic full stop).
func splitLabels(host string) []string {
	return strings.Split(strings.Map(func(r rune) rune {
		if r == '\u3002' || r == '\uff0e' || r == '\uff61' {
			return '.'
		}
		return r
	}, host), ".")
}

// dialForm returns the host net/http dials for a URL with host name host:
// its ASCII form under the UTS #46 lookup profile, or host unchanged when
// that conversion fails. The Transport's dialer records the address and
// fails, so nothing is sent and no connection is opened.
func dialForm(host string) (string, error) {
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			return nil, &dialAddr{addr}
		},
	}
	req := &http.Request{Method: http.MethodHead, Header: http.Header{},
		URL: &url.URL{Scheme: "http", Host: net.JoinHostPort(host, "80"), Path: "/"}}
	_, err := tr.RoundTrip(req)
	var got *dialAddr
	if !errors.As(err, &got) {
		return "", fmt.Errorf("net/http did not dial it: %v", err)
	}
	h, _, err := net.SplitHostPort(got.addr)
	return h, err
}

// dialAddr is the error dialForm's dialer answers with.
type dialAddr struct{ addr string }

func (d *dialAddr) Error() string { return "dial " + d.addr + " not attempted" }

// explain says which rule keeps host, which net/http could not convert,
// from being a valid internationalised name: the first label that cannot
// be converted on its own, and what is wrong with it.
func explain(host string) string {
	labels := splitLabels(host)
	for _, l := range labels {
		if a, err := dialForm(l); l == "" || err != nil || isASCII(a) {
			continue
		}
		return explainLabel(l)
	}
	// An ASCII xn-- label is converted only beside a non-ASCII one (net/http
	// passes all-ASCII hosts through): try each beside a plain "é".
	for _, l := range labels {
		if !strings.HasPrefix(strings.ToLower(l), "xn--") {
			continue
		}
		if a, err := dialForm("\u00e9." + l); err == nil && !isASCII(a) {
			return explainLabel(l)
		}
	}
	return "it mixes right-to-left and left-to-right text in a way the bidi rule (RFC 5893) forbids"
}

// explainLabel says why label breaks the IDNA rules.
func explainLabel(label string) string {
	lower := strings.ToLower(label)
	r, _ := utf8.DecodeRuneInString(label)
	switch {
	case strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-"):
		return fmt.Sprintf("label %q begins or ends with a hyphen", label)
	case len(label) >= 4 && label[2:4] == "--" && !strings.HasPrefix(lower, "xn--"):
		return fmt.Sprintf("label %q has hyphens in the third and fourth places, which are reserved (as in xn--)", label)
	case strings.HasPrefix(lower, "xn--"):
		return fmt.Sprintf("label %q is not valid punycode, or decodes to an invalid label", label)
	case unicode.Is(unicode.M, r):
		return fmt.Sprintf("label %q begins with a combining mark", label)
	case strings.ContainsAny(label, "\u200c\u200d"):
		return fmt.Sprintf("label %q has a zero-width joiner or non-joiner where it is not allowed", label)
	}
	for _, c := range label {
		switch {
		case c < 0x80 && c != '-' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9'):
			return fmt.Sprintf("it contains %U %q, which is not allowed in a host name", c, c)
		case c >= 0x80 && !unicode.IsPrint(c), c == utf8.RuneError:
			return fmt.Sprintf("it contains %U, which is not allowed in a host name", c)
		case c >= 0x80 && unicode.In(c, unicode.P, unicode.S, unicode.Z):
			return fmt.Sprintf("it contains %U %q, which is not allowed in a host name", c, c)
		}
	}
	if hasRTL(label) {
		return fmt.Sprintf("label %q breaks the bidi rule (RFC 5893)", label)
	}
	return fmt.Sprintf("label %q breaks the IDNA rules (UTS #46)", label)
}

// hasRTL reports whether s has characters of a right-to-left script or
// Arabic-Indic digits.
func hasRTL(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko,
			unicode.Samaritan, unicode.Mandaic, unicode.Adlam) {
			return true
		}
	}
	return false
}
