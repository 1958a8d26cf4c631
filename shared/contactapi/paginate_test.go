package contactapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestPaginate(t *testing.T) {
	base, _ := url.Parse("https://api.example.com/prod/v1/contact/by_custom_field")
	rows := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"id": strconv.Itoa(i)}
		}
		return out
	}
	cases := []struct {
		name                 string
		page, total, n       int
		last                 int
		prev, next, from, to any // page numbers of links; nil for null
	}{
		{"empty", 1, 0, 0, 1, nil, nil, nil, nil},
		{"one short page", 1, 3, 3, 1, nil, nil, 1, 3},
		{"exactly one page", 1, 10, 10, 1, nil, nil, 1, 10},
		{"first of three", 1, 25, 10, 3, nil, 2, 1, 10},
		{"middle", 2, 25, 10, 3, 1, 3, 11, 20},
		{"last, partial", 3, 25, 5, 3, 2, nil, 21, 25},
		{"past the end", 5, 25, 0, 3, nil, nil, nil, nil},
	}
	name, value := "firstName", "Ana María & Co+1=2"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := paginate(*base, name, value, c.page, c.total, rows(c.n))
			b, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Data  []any                      `json:"data"`
				Links map[string]*string         `json:"links"`
				Meta  map[string]json.RawMessage `json:"meta"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Data == nil || len(got.Data) != c.n {
				t.Fatalf("data %v", got.Data)
			}
			meta := func(k string) string { return string(got.Meta[k]) }
			num := func(v any) string {
				if v == nil {
					return "null"
				}
				return fmt.Sprint(v)
			}
			if meta("current_page") != strconv.Itoa(c.page) || meta("last_page") != strconv.Itoa(c.last) ||
				meta("per_page") != "10" || meta("total") != strconv.Itoa(c.total) ||
				meta("from") != num(c.from) || meta("to") != num(c.to) || meta("path") != strconv.Quote(base.String()) {
				t.Fatalf("meta %s", b)
			}
			if len(got.Meta) != 7 || len(got.Links) != 4 {
				t.Fatalf("keys: %s", b)
			}
			checkLink := func(k string, want any) {
				l := got.Links[k]
				if want == nil {
					if l != nil {
						t.Errorf("%s = %q, want null", k, *l)
					}
					return
				}
				if l == nil {
					t.Errorf("%s is null, want page %v", k, want)
					return
				}
				checkPageLink(t, *l, base, name, value, fmt.Sprint(want))
			}
			checkLink("first", 1)
			checkLink("last", c.last)
			checkLink("prev", c.prev)
			checkLink("next", c.next)
		})
	}
}

// checkPageLink asserts that link is base with the search's name and value
// and page last.
func checkPageLink(t testing.TB, link string, base *url.URL, name, value, page string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host || u.Path != base.Path {
		t.Fatalf("link %q is not on %s", link, base)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || q.Get("name") != name || q.Get("value") != value || q.Get("page") != page || len(q) != 3 {
		t.Fatalf("link %q: query %v, want name=%q value=%q page=%s", link, q, name, value, page)
	}
	if !strings.HasSuffix(u.RawQuery, "&page="+page) || !strings.HasPrefix(u.RawQuery, "name=") {
		t.Fatalf("link %q: page must come last, after name and value", link)
	}
}

func FuzzPaginate(f *testing.F) {
	f.Add("firstName", "Ana María & Co", 1, 25)
	f.Add("12", "a=b?c#d%", 3, 21)
	f.Add("", "", 1, 0)
	f.Add("phone", "+92 324 4077087", 1000, 100000)
	base, _ := url.Parse("https://api.example.com/v1/contact/by_custom_field")
	f.Fuzz(func(t *testing.T, name, value string, page, total int) {
		if page < 1 || page > 1000 || total < 0 || total > 1<<30 {
			return
		}
		n := min(max(total-(page-1)*10, 0), 10)
		env := paginate(*base, name, value, page, total, make([]map[string]any, n))
		last := env.Meta.LastPage
		if last < 1 || (total > 0 && (last-1)*10 >= total) || last*10 < total {
			t.Fatalf("last_page %d for %d", last, total)
		}
		links := map[string]any{}
		for k, l := range map[string]*string{"first": env.Links.First, "last": env.Links.Last, "prev": env.Links.Prev, "next": env.Links.Next} {
			if l != nil {
				links[k] = *l
			}
		}
		if _, err := json.Marshal(env); err != nil {
			t.Fatal(err)
		}
		if !utf8Valid(name) || !utf8Valid(value) {
			return
		}
		for k, p := range map[string]int{"first": 1, "last": last, "prev": page - 1, "next": page + 1} {
			l, _ := links[k].(string)
			if p < 1 || p > last {
				if links[k] != nil {
					t.Fatalf("%s = %v, want null", k, links[k])
				}
				continue
			}
			checkPageLink(t, l, base, name, value, strconv.Itoa(p))
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
