package ddblean

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The hand-written answer decoder: DynamoDB's JSON straight into the SDK's
// output types, without reflection. A member or attribute type it does not
// know makes the caller decode the whole answer with the SDK's protocol
// instead (errUnknown).

var errUnknown = errors.New("ddblean: unknown member")

type dec struct {
	b []byte
	s string // b as a string: the strings decoded without escapes are its substrings (no allocation)
	i int
	// The S and N values decoded are taken from these, allocated a chunk
	// at a time rather than one by one.
	ss []types.AttributeValueMemberS
	ns []types.AttributeValueMemberN
}

// slabChunk is how many S (or N) values one allocation holds.
const slabChunk = 16

func (d *dec) newS(s string) *types.AttributeValueMemberS {
	if len(d.ss) == 0 {
		d.ss = make([]types.AttributeValueMemberS, slabChunk)
	}
	v := &d.ss[0]
	d.ss = d.ss[1:]
	v.Value = s
	return v
}

func (d *dec) newN(s string) *types.AttributeValueMemberN {
	if len(d.ns) == 0 {
		d.ns = make([]types.AttributeValueMemberN, slabChunk)
	}
	v := &d.ns[0]
	d.ns = d.ns[1:]
	v.Value = s
	return v
}

func (d *dec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *dec) syntax(what string) error {
	return fmt.Errorf("ddblean: invalid JSON at offset %d: expected %s", d.i, what)
}

// peek is the next non-space byte, 0 at the end.
func (d *dec) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *dec) expect(c byte) error {
	if d.peek() != c {
		return d.syntax(strconv.QuoteRune(rune(c)))
	}
	d.i++
	return nil
}

// null consumes a null literal if one is next.
func (d *dec) null() bool {
	if d.peek() == 'n' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// object calls member for each key of an object.
func (d *dec) object(member func(key string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := member(k); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("',' or '}'")
		}
	}
}

// array calls elem for each element of an array.
func (d *dec) array(elem func() error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("',' or ']'")
		}
	}
}

func (d *dec) str() (string, error) {
	if d.peek() != '"' {
		return "", d.syntax("string")
	}
	d.i++
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := d.s[start:d.i]
			d.i++
			return s, nil
		}
		if c == '\\' {
			return d.strSlow(start)
		}
		if c < 0x20 {
			return "", d.syntax("no control character in a string")
		}
		d.i++
	}
	return "", d.syntax("end of string")
}

// strSlow decodes a string with escapes, from start (after the quote).
func (d *dec) strSlow(start int) (string, error) {
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), nil
		case c < 0x20:
			return "", d.syntax("no control character in a string")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.b) {
			break
		}
		e := d.b[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.syntax("4 hex digits")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					var ok2 bool
					if r2, ok2 = d.hex4(); !ok2 {
						d.i = save
						r2 = -1
					}
				}
				if dr := utf16.DecodeRune(r, r2); dr != utf8.RuneError {
					r = dr
				} else {
					if r2 >= 0 {
						d.i -= 6 // not a pair: the second escape stands alone
					}
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", d.syntax("a valid escape")
		}
	}
	return "", d.syntax("end of string")
}

func (d *dec) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	d.i += 4
	return r, true
}

func (d *dec) boolean() (bool, error) {
	d.ws()
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, nil
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, d.syntax("true or false")
}

// int32 reads a JSON number that is a 32-bit integer.
func (d *dec) int32() (int32, error) {
	d.ws()
	start := d.i
	for d.i < len(d.b) && (d.b[d.i] == '-' || d.b[d.i] >= '0' && d.b[d.i] <= '9') {
		d.i++
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 32)
	if err != nil {
		return 0, errUnknown // a float or an exponent: the SDK's decoder decides
	}
	return int32(n), nil
}

func (d *dec) bytes() ([]byte, error) {
	s, err := d.str()
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

func (d *dec) strs() ([]string, error) {
	out := []string{}
	err := d.array(func() error {
		s, err := d.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// avMap reads an attribute map (an item or a key); null is nil.
func (d *dec) avMap() (map[string]types.AttributeValue, error) {
	if d.null() {
		return nil, nil
	}
	m := map[string]types.AttributeValue{}
	err := d.object(func(k string) error {
		v, err := d.av()
		m[k] = v
		return err
	})
	return m, err
}

func (d *dec) avMapList() ([]map[string]types.AttributeValue, error) {
	if d.null() {
		return nil, nil
	}
	out := []map[string]types.AttributeValue{}
	err := d.array(func() error {
		m, err := d.avMap()
		out = append(out, m)
		return err
	})
	return out, err
}

// av reads one AttributeValue: an object with one member named by its type.
func (d *dec) av() (types.AttributeValue, error) {
	var v types.AttributeValue
	err := d.object(func(tag string) error {
		if v != nil {
			return errUnknown
		}
		switch tag {
		case "S":
			s, err := d.str()
			v = d.newS(s)
			return err
		case "N":
			s, err := d.str()
			v = d.newN(s)
			return err
		case "BOOL":
			b, err := d.boolean()
			v = &types.AttributeValueMemberBOOL{Value: b}
			return err
		case "NULL":
			b, err := d.boolean()
			v = &types.AttributeValueMemberNULL{Value: b}
			return err
		case "B":
			b, err := d.bytes()
			v = &types.AttributeValueMemberB{Value: b}
			return err
		case "SS":
			ss, err := d.strs()
			v = &types.AttributeValueMemberSS{Value: ss}
			return err
		case "NS":
			ss, err := d.strs()
			v = &types.AttributeValueMemberNS{Value: ss}
			return err
		case "BS":
			bs := [][]byte{}
			err := d.array(func() error {
				b, err := d.bytes()
				bs = append(bs, b)
				return err
			})
			v = &types.AttributeValueMemberBS{Value: bs}
			return err
		case "L":
			l := []types.AttributeValue{}
			err := d.array(func() error {
				e, err := d.av()
				l = append(l, e)
				return err
			})
			v = &types.AttributeValueMemberL{Value: l}
			return err
		case "M":
			m, err := d.avMap()
			if m == nil && err == nil {
				return errUnknown
			}
			v = &types.AttributeValueMemberM{Value: m}
			return err
		}
		return errUnknown
	})
	if err == nil && v == nil {
		err = errUnknown
	}
	return v, err
}

// decodeTop reads an answer's top-level object, handing each member to
// member; a member it does not take (false), errUnknown anywhere or
// anything it cannot read means false: the SDK's protocol then decodes the
// answer instead (and gives its own error for a broken one).
//
// The strings decoded share body's memory (no copy of the answer): body is
// an answer read for this call alone, and nothing writes to it afterwards.
func decodeTop(body []byte, member func(d *dec, key string) (bool, error)) bool {
	d := &dec{b: body, s: unsafe.String(unsafe.SliceData(body), len(body))}
	if d.peek() == 0 {
		return true
	}
	err := d.object(func(k string) error {
		took, err := member(d, k)
		if err != nil {
			return err
		}
		if !took {
			return errUnknown
		}
		return nil
	})
	if err == nil && d.peek() != 0 {
		err = d.syntax("end of input")
	}
	return err == nil
}
