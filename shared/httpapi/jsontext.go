package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// checkText refuses a JSON text any of whose strings (keys included) holds
// bytes that are not UTF-8, a "\u0000" escape or a lone surrogate escape:
// encoding/json would store the first and the last as U+FFFD and the
// second as a NUL, silently. The error names the string's place in the
// body (custom_fields[0].value, [2].Fname). b must already be valid JSON
// syntax for the places to be exact; a syntax error is left to the decoder.
func checkText(b []byte) error {
	if utf8.Valid(b) && !bytes.Contains(b, []byte(`\u`)) {
		return nil // the common case: nothing to look at
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // the decoder reports it
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				path := ""
				if top != nil {
					path = top.valuePath()
					top.advance()
				}
				stack = append(stack, &frame{path: path, object: t == '{', expectKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			raw := b[start:dec.InputOffset()]
			if i := bytes.IndexByte(raw, '"'); i >= 0 {
				raw = raw[i:]
			}
			if top != nil && top.object && top.expectKey {
				if problem := stringProblem(raw); problem != "" {
					return apperr.Invalid(orBody(top.path), "a key "+problem)
				}
				top.key = t
				top.expectKey = false
				continue
			}
			if problem := stringProblem(raw); problem != "" {
				path := ""
				if top != nil {
					path = top.valuePath()
				}
				return apperr.Invalid(orBody(path), problem)
			}
		}
		if top != nil {
			top.advance()
		}
	}
}

// frame is one open object or array while walking a JSON text.
type frame struct {
	path      string
	object    bool
	expectKey bool
	key       string
	index     int
}

// valuePath is the path of the value about to be read in f.
func (f *frame) valuePath() string {
	if f.object {
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	return f.path + "[" + strconv.Itoa(f.index) + "]"
}

// advance moves past a value read in f.
func (f *frame) advance() {
	if f.object {
		f.expectKey = true
	} else {
		f.index++
	}
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// stringProblem says what is wrong with a raw JSON string literal (quotes
// included), or "" if nothing is.
func stringProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		i++
		if raw[i] != 'u' {
			continue // \" \\ \/ \b \f \n \r \t: one character
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			continue // a syntax error: the decoder reports it
		}
		i += 4
		switch {
		case r == 0:
			return `holds a NUL character (\u0000)`
		case r >= 0xD800 && r < 0xDC00:
			// A high surrogate must be followed by a low one.
			if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw, i+3); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 6
					continue
				}
			}
			return "is not valid UTF-8 text (a lone surrogate escape)"
		case r >= 0xDC00 && r < 0xE000:
			return "is not valid UTF-8 text (a lone surrogate escape)"
		}
	}
	return ""
}

// hex4 reads the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
