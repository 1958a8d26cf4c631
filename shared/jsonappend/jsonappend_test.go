package jsonappend

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// std is v as encoding/json writes it without HTML escaping.
func std(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// tricky strings: every escape, invalid UTF-8, U+2028/2029, HTML.
var tricky = []string{
	"", "plain", `"quoted" \ back`, "<a href='x'>&amp;</a>", "\x00\x01\x07\b\f\n\r\t\x1f\x7f",
	"é 😀 \u2028\u2029 \ufffd", "\xff\xfe bad \xc3", "\xed\xa0\x80 surrogate", "a\u2028", "\xe2\x80",
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return tricky[r.IntN(len(tricky))]
	}
	var sb strings.Builder
	for range r.IntN(12) {
		switch r.IntN(4) {
		case 0:
			sb.WriteByte(byte(r.IntN(256)))
		case 1:
			sb.WriteRune(rune(r.IntN(0x3000)))
		default:
			sb.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return sb.String()
}

func TestStringLikeEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := append([]string{}, tricky...)
	for range 2000 {
		cases = append(cases, randString(r))
	}
	for _, s := range cases {
		if got, want := String(nil, s), std(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json %s", s, got, want)
		}
	}
}

func TestCompositesLikeEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(name string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s = %s, encoding/json %s", name, got, want)
		}
	}
	check("nil Strings", Strings(nil, nil), std(t, []string(nil)))
	check("empty Strings", Strings(nil, []string{}), std(t, []string{}))
	check("nil StringMap", StringMap(nil, nil), std(t, map[string]string(nil)))
	check("empty StringMap", StringMap(nil, map[string]string{}), std(t, map[string]string{}))
	check("nil StringsMap", StringsMap(nil, nil), std(t, map[string][]string(nil)))
	for range 500 {
		n := r.IntN(40) // past the 16 keys sorted on the stack
		ss := make([]string, n)
		m := map[string]string{}
		mm := map[string][]string{}
		for i := range n {
			ss[i] = randString(r)
			m[randString(r)] = randString(r)
			var vs []string
			if r.IntN(4) > 0 {
				vs = []string{}
				for range r.IntN(3) {
					vs = append(vs, randString(r))
				}
			}
			mm[randString(r)] = vs
		}
		check("Strings", Strings(nil, ss), std(t, ss))
		check("StringMap", StringMap(nil, m), std(t, m))
		check("StringsMap", StringsMap(nil, mm), std(t, mm))
	}
	for _, n := range []int64{0, -1, 42, 1 << 62, -1 << 63} {
		check("Int", Int(nil, n), std(t, n))
	}
	check("Bool", Bool(Bool(nil, true), false), []byte("truefalse"))
}

func FuzzString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(nil, s), std(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}
