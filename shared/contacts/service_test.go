package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

var bg = context.Background()

// search is Service.Search with the tenant's fields read first, as the
// handlers do.
func search(s *Service, sc Scope, name, value string, page int) (Page, error) {
	fields, err := s.Store.ListFields(bg, sc.TenantID)
	if err != nil {
		return Page{}, err
	}
	return s.Search(bg, sc, fields, name, value, page)
}

func in(kv ...string) []Input {
	var out []Input
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Input{Name: kv[i], Value: json.RawMessage(kv[i+1])})
	}
	return out
}

// wantValidation asserts err is a *apperr.Error on field.
func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	var ve *apperr.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a *apperr.Error on %q", err, err, field)
	}
	if ve.Field != field {
		t.Fatalf("error %q names %q, want %q", err, ve.Field, field)
	}
}

func mustCreate(t *testing.T, s *Service, sc Scope, inputs []Input) Contact {
	t.Helper()
	c, err := s.Create(bg, sc, inputs, false)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

var acct = Scope{TenantID: "t1", DefaultCountry: "PK"}

func TestCreate(t *testing.T) {
	s, st := newTestService()
	plan := mustField(t, s, "t1", "Plan", Text)
	vip := mustField(t, s, "t1", "VIP", Boolean)
	tier := mustField(t, s, "t1", "Tier", List, "Gold", "Silver")

	sc := Scope{TenantID: "t1", ChannelID: "ch1", DefaultCountry: "PK"}
	c, err := s.Create(bg, sc, in(
		"phone", `"03244077087"`,
		"FIRSTNAME", `" Muhammad Mahin "`, // standard names ignore case
		"lastName", `"Dar"`,
		"Email", `"Ana@Example.COM"`,
		"plan", `"gold plan"`, // custom by name, any case
		vip.ID, `true`, // custom by ID
		"TIER", `"silver"`,
		"language", `""`, // a clear on create stores nothing
	), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 15 || c.Version != 1 || c.TenantID != "t1" || c.ChannelID != "ch1" || !c.Opportunity {
		t.Fatalf("created %+v", c)
	}
	if c.CreatedAt == 0 || c.UpdatedAt != c.CreatedAt {
		t.Fatalf("times %d %d", c.CreatedAt, c.UpdatedAt)
	}
	if c.Tags == nil || len(c.Tags) != 0 {
		t.Fatalf("tags %#v, want []", c.Tags)
	}
	wantFields := map[string]string{"phone": "+923244077087", "firstName": "Muhammad Mahin", "lastName": "Dar", "email": "Ana@example.com"}
	wantCustom := map[string]string{plan.ID: "gold plan", vip.ID: "TRUE", tier.ID: "Silver"}
	if !equalMaps(c.Fields, wantFields) || !equalMaps(c.Custom, wantCustom) {
		t.Fatalf("fields %v custom %v", c.Fields, c.Custom)
	}
	got, ok := st.stored("t1", c.ID)
	if !ok || !same(got, c) || got.Version != 1 || got.ChannelID != "ch1" {
		t.Fatalf("stored %+v, returned %+v", got, c)
	}

	// The account scope makes a contact without a channel.
	c2 := mustCreate(t, s, acct, in("firstName", `"Ana"`))
	if c2.ChannelID != "" || c2.ID == c.ID {
		t.Fatalf("second contact %+v", c2)
	}
	// No fields at all is a contact too.
	if _, err := s.Create(bg, acct, nil, false); err != nil {
		t.Fatal(err)
	}
}

func TestCreateRefuses(t *testing.T) {
	s, st := newTestService()
	plan := mustField(t, s, "t1", "Plan", Text)
	mustField(t, s, "t1", "VIP", Boolean)
	many := make([]string, 0, 2*(MaxFieldsPerWrite+1))
	for i := range MaxFieldsPerWrite + 1 {
		many = append(many, fmt.Sprintf("f%d", i), `"x"`)
	}
	cases := []struct {
		name  string
		in    []Input
		field string // the invalid field
		says  string // part of the message
	}{
		{"unknown field", in("Nickname", `"x"`), "Nickname", "is not a contact field"},
		{"unknown ID", in("999", `"x"`), "999", "is not a contact field"},
		{"gender is read-only", in("gender", `"male"`), "gender", "messaging platform"},
		{"locale is read-only", in("locale", `"en_US"`), "locale", "messaging platform"},
		{"timezone is read-only any case", in("Timezone", `"2"`), "Timezone", "messaging platform"},
		{"standard field twice", in("phone", `"+14155550123"`, "PHONE", `"+14155550124"`), "PHONE", "more than once"},
		{"custom field by name and ID", in("Plan", `"a"`, plan.ID, `"b"`), plan.ID, "more than once"},
		{"custom field twice by name", in("plan", `"a"`, "PLAN", `"b"`), "PLAN", "more than once"},
		{"too many inputs", in(many...), "custom_fields", "at most 30"},
		{"empty name", in("firstName", `"a"`, " ", `"b"`), "custom_fields[1].name", "required"},
		{"bad boolean", in("firstName", `"a"`, "VIP", `"maybe"`), "VIP", "TRUE or FALSE"},
		{"bad email", in("email", `"Ana <a@b.co>"`), "email", "email address"},
		{"bad phone", in("phone", `"call me"`), "phone", "phone number"},
		{"object value", in("firstName", `{"a":1}`), "firstName", "object or array"},
		{"error after good inputs", in("firstName", `"Ana"`, "lastName", `"Diaz"`, "email", `"nope"`), "email", "email address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Create(bg, acct, c.in, false)
			wantValidation(t, err, c.field)
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
			if got.ID != "" {
				t.Fatalf("returned a contact %+v", got)
			}
			if n := st.count("CreateContact"); n != 0 || st.numContacts() != 0 {
				t.Fatalf("stored something: %d calls, %d contacts", n, st.numContacts())
			}
		})
	}
	// 30 inputs are fine.
	var thirty []Input
	for i := range MaxFieldsPerWrite {
		name := fmt.Sprintf("Field %d", i)
		mustField(t, s, "t1", name, Text)
		thirty = append(thirty, Input{Name: name, Value: json.RawMessage(`"x"`)})
	}
	if c, err := s.Create(bg, acct, thirty, false); err != nil || len(c.Custom) != MaxFieldsPerWrite {
		t.Fatalf("30 inputs: %v %v", c.Custom, err)
	}
}

func TestCreateRetriesTakenIDs(t *testing.T) {
	s, st := newTestService()
	st.createExists = 2
	c, err := s.Create(bg, acct, in("firstName", `"Ana"`), false)
	if err != nil || st.count("CreateContact") != 3 {
		t.Fatalf("after two taken IDs: %v, %d calls", err, st.count("CreateContact"))
	}
	if _, ok := st.stored("t1", c.ID); !ok {
		t.Fatal("not stored under the returned ID")
	}
	s, st = newTestService()
	st.createExists = 3
	if _, err := s.Create(bg, acct, in("firstName", `"Ana"`), false); !apperr.Is(err, apperr.KindExists) || st.count("CreateContact") != 3 {
		t.Fatalf("three taken IDs: %v, %d calls", err, st.count("CreateContact"))
	}
	s, st = newTestService()
	st.failList = errors.New("boom")
	if _, err := s.Create(bg, acct, in("firstName", `"Ana"`), false); err == nil || st.count("CreateContact") != 0 {
		t.Fatalf("ListFields failure: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	s, st := newTestService()
	vip := mustField(t, s, "t1", "VIP", Boolean)
	c := mustCreate(t, s, acct, in("phone", `"03244077087"`, "firstName", `"Ana"`, "VIP", `"yes"`))
	yes, no := true, false

	noops := []struct {
		name string
		in   []Input
		opp  *bool
	}{
		{"same values", in("firstName", `"Ana"`), nil},
		{"same value padded", in("firstName", `"  Ana "`), nil},
		{"phone in another spelling", in("phone", `"+92 324 4077087"`), nil},
		{"boolean in another spelling", in(vip.ID, `1`), nil},
		{"clearing an absent field", in("lastName", `null`, "email", `""`), nil},
		{"same opportunity", nil, &no},
		{"nothing", nil, nil},
	}
	for _, n := range noops {
		t.Run("no-op/"+n.name, func(t *testing.T) {
			before := st.count("UpdateContact")
			got, err := s.Update(bg, acct, c.ID, n.in, n.opp)
			if err != nil {
				t.Fatal(err)
			}
			if st.count("UpdateContact") != before {
				t.Fatal("a write that changes nothing was made")
			}
			if got.Version != 1 || got.UpdatedAt != c.UpdatedAt || got.ID != c.ID {
				t.Fatalf("got %+v", got)
			}
		})
	}

	t.Run("a change is written with the next version", func(t *testing.T) {
		got, err := s.Update(bg, acct, c.ID, in("firstName", `"Anna"`, "phone", `null`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.UpdatedAt <= c.UpdatedAt || got.CreatedAt != c.CreatedAt {
			t.Fatalf("got version %d updated %d (was %d)", got.Version, got.UpdatedAt, c.UpdatedAt)
		}
		if _, has := got.Fields["phone"]; has || got.Fields["firstName"] != "Anna" {
			t.Fatalf("fields %v: a null must remove the value", got.Fields)
		}
		stored, _ := st.stored("t1", c.ID)
		if !same(stored, got) || stored.Version != 2 {
			t.Fatalf("stored %+v", stored)
		}
	})
	t.Run("opportunity alone is a change", func(t *testing.T) {
		got, err := s.Update(bg, acct, c.ID, nil, &yes)
		if err != nil || !got.Opportunity || got.Version != 3 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("a refused input changes nothing", func(t *testing.T) {
		before, _ := st.stored("t1", c.ID)
		_, err := s.Update(bg, acct, c.ID, in("firstName", `"Zed"`, "VIP", `"maybe"`), &no)
		wantValidation(t, err, "VIP")
		after, _ := st.stored("t1", c.ID)
		if !same(before, after) || after.Version != before.Version {
			t.Fatalf("changed: %+v", after)
		}
	})
	t.Run("unknown contact", func(t *testing.T) {
		_, err := s.Update(bg, acct, "123456789012345", in("firstName", `"Zed"`), nil)
		if !apperr.Is(err, apperr.KindNotFound) || !strings.Contains(err.Error(), `"123456789012345"`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestUpdateRetriesConflicts(t *testing.T) {
	s, st := newTestService()
	c := mustCreate(t, s, acct, in("firstName", `"Ana"`))

	// A concurrent writer gets in before the first write: the update is made
	// again on top of the other write, which it keeps.
	st.beforeUpdate = func(n int) bool {
		if n == 1 {
			cur, _ := st.stored("t1", c.ID)
			next := deepCopy(cur)
			next.Tags = append(next.Tags, "from-elsewhere")
			next.Version++
			if err := st.UpdateContact(bg, cur, next); err != nil {
				t.Errorf("concurrent write: %v", err)
			}
		}
		return false
	}
	got, err := s.Update(bg, acct, c.ID, in("lastName", `"Diaz"`), nil)
	if err != nil {
		t.Fatal(err)
	}
	// calls: ours (conflict), the concurrent one, ours again.
	if n := st.count("UpdateContact"); n != 3 {
		t.Fatalf("%d UpdateContact calls, want 3", n)
	}
	if got.Version != 3 || got.Fields["lastName"] != "Diaz" || !slices.Equal(got.Tags, []string{"from-elsewhere"}) {
		t.Fatalf("got %+v", got)
	}

	// A store that always conflicts: the service gives up after its retries.
	s, st = newTestService()
	c = mustCreate(t, s, acct, in("firstName", `"Ana"`))
	st.beforeUpdate = func(int) bool { return true }
	_, err = s.Update(bg, acct, c.ID, in("firstName", `"Bea"`), nil)
	if !apperr.Is(err, apperr.KindConflict) {
		t.Fatalf("got %v, want a conflict", err)
	}
	if n := st.count("UpdateContact"); n < 2 || n > 10 {
		t.Fatalf("%d attempts", n)
	}
	t.Logf("gave up after %d attempts", st.count("UpdateContact"))
	if stored, _ := st.stored("t1", c.ID); stored.Version != 1 {
		t.Fatal("stored changed")
	}
}

func TestScopes(t *testing.T) {
	s, _ := newTestService()
	ch1 := Scope{TenantID: "t1", ChannelID: "ch1"}
	ch2 := Scope{TenantID: "t1", ChannelID: "ch2"}
	other := Scope{TenantID: "t2"}
	c := mustCreate(t, s, ch1, in("firstName", `"Ana"`))

	if _, err := s.Get(bg, ch1, c.ID); err != nil {
		t.Fatalf("own channel: %v", err)
	}
	if _, err := s.Get(bg, Scope{TenantID: "t1"}, c.ID); err != nil {
		t.Fatalf("the account sees every channel: %v", err)
	}
	for name, sc := range map[string]Scope{"another channel": ch2, "another tenant": other} {
		if _, err := s.Get(bg, sc, c.ID); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("%s Get: %v", name, err)
		}
		if _, err := s.Update(bg, sc, c.ID, in("firstName", `"Zed"`), nil); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("%s Update: %v", name, err)
		}
		if _, err := s.AddTags(bg, sc, c.ID, []string{"x"}); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("%s AddTags: %v", name, err)
		}
		if err := s.Delete(bg, sc, c.ID); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("%s Delete: %v", name, err)
		}
		if p, err := search(s, sc, "firstName", "ana", 1); err != nil || p.Total != 0 {
			t.Errorf("%s Search: %v %v", name, p, err)
		}
		if found, err := s.FindByName(bg, sc, "Ana", "", 10); err != nil || len(found) != 0 {
			t.Errorf("%s FindByName: %v %v", name, found, err)
		}
	}
	if got, err := s.Update(bg, Scope{TenantID: "t1"}, c.ID, in("firstName", `"Zed"`), nil); err != nil || got.ChannelID != "ch1" {
		t.Fatalf("account update: %+v %v", got, err)
	}
	if p, err := search(s, Scope{TenantID: "t1"}, "firstName", "zed", 1); err != nil || p.Total != 1 {
		t.Fatalf("account search: %v %v", p, err)
	}
	// IDs that cannot be ours or a channel's are not found without asking
	// the store.
	for _, id := range []string{"", "a#b", "bad\x00id", "x\x7f", strings.Repeat("1", 129), "\xff"} {
		if _, err := s.Get(bg, ch1, id); !apperr.Is(err, apperr.KindNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
	}
	if err := s.Delete(bg, ch1, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(bg, ch1, c.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(bg, ch1, c.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestCustomValueLimit(t *testing.T) {
	s, st := newTestService()
	var ids []string
	for i := range MaxCustomValues + 1 {
		ids = append(ids, mustField(t, s, "t1", fmt.Sprintf("F%d", i), Text).ID)
	}
	c := mustCreate(t, s, acct, nil)
	for start := 0; start < MaxCustomValues; start += MaxFieldsPerWrite {
		var batch []Input
		for _, id := range ids[start:min(start+MaxFieldsPerWrite, MaxCustomValues)] {
			batch = append(batch, Input{Name: id, Value: json.RawMessage(`"v"`)})
		}
		if _, err := s.Update(bg, acct, c.ID, batch, nil); err != nil {
			t.Fatalf("batch at %d: %v", start, err)
		}
	}
	full, _ := st.stored("t1", c.ID)
	if len(full.Custom) != MaxCustomValues {
		t.Fatalf("%d values", len(full.Custom))
	}
	_, err := s.Update(bg, acct, c.ID, in(ids[MaxCustomValues], `"v"`), nil)
	wantValidation(t, err, "custom_fields")
	if after, _ := st.stored("t1", c.ID); after.Version != full.Version {
		t.Fatal("stored a value over the limit")
	}
	// Clearing one in the same request makes room.
	if _, err := s.Update(bg, acct, c.ID, in(ids[0], `null`, ids[MaxCustomValues], `"v"`), nil); err != nil {
		t.Fatalf("swap: %v", err)
	}
	// Standard fields do not count.
	if _, err := s.Update(bg, acct, c.ID, in("firstName", `"Ana"`, "email", `"a@b.co"`), nil); err != nil {
		t.Fatalf("standard fields: %v", err)
	}

	// Values of a deleted field are dropped by the next write, so a full
	// contact can take a value again once a field is deleted.
	if err := s.DeleteField(bg, "t1", ids[1]); err != nil {
		t.Fatal(err)
	}
	repl := mustField(t, s, "t1", "Replacement", Text)
	if _, err := s.Update(bg, acct, c.ID, in(repl.ID, `"v"`), nil); err != nil {
		t.Fatalf("new value after a field was deleted: %v", err)
	}
	if after, _ := st.stored("t1", c.ID); after.Custom[ids[1]] != "" || len(after.Custom) != MaxCustomValues {
		t.Fatalf("the deleted field's value must be gone: %d values", len(after.Custom))
	}
}

func TestTags(t *testing.T) {
	s, st := newTestService()
	c := mustCreate(t, s, acct, nil)
	tags := func() []string { got, _ := st.stored("t1", c.ID); return got.Tags }

	got, err := s.AddTags(bg, acct, c.ID, []string{"vip", "new", "vip", " lead "})
	if err != nil || !slices.Equal(got.Tags, []string{"vip", "new", "lead"}) || got.Version != 2 {
		t.Fatalf("add: %v %v", got.Tags, err)
	}
	if got, err = s.AddTags(bg, acct, c.ID, []string{"new", "x", "VIP"}); err != nil || !slices.Equal(got.Tags, []string{"vip", "new", "lead", "x", "VIP"}) {
		t.Fatalf("add again: %v %v", got.Tags, err)
	}
	writes := st.count("UpdateContact")
	if _, err = s.AddTags(bg, acct, c.ID, []string{"x", "new"}); err != nil || st.count("UpdateContact") != writes {
		t.Fatalf("adding present tags wrote: %v", err)
	}
	if got, err = s.RemoveTags(bg, acct, c.ID, []string{"new", "absent", " x "}); err != nil || !slices.Equal(got.Tags, []string{"vip", "lead", "VIP"}) {
		t.Fatalf("remove: %v %v", got.Tags, err)
	}
	writes = st.count("UpdateContact")
	if _, err = s.RemoveTags(bg, acct, c.ID, []string{"absent"}); err != nil || st.count("UpdateContact") != writes {
		t.Fatalf("removing absent tags wrote: %v", err)
	}

	ten := make([]string, MaxTagsPerCall)
	for i := range ten {
		ten[i] = fmt.Sprintf("t%d", i)
	}
	refusals := []struct {
		name  string
		tags  []string
		field string
	}{
		{"none", nil, "tags"},
		{"empty list", []string{}, "tags"},
		{"eleven", append(slices.Clone(ten), "t10"), "tags"},
		{"eleven with a repeat", append(slices.Clone(ten), "t0"), "tags"},
		{"empty tag", []string{"a", ""}, "tags[1]"},
		{"blank tag", []string{"  "}, "tags[0]"},
		{"too long", []string{strings.Repeat("é", MaxTagLength+1)}, "tags[0]"},
	}
	for _, r := range refusals {
		for op, f := range map[string]func(context.Context, Scope, string, []string) (Contact, error){"add": s.AddTags, "remove": s.RemoveTags} {
			before := tags()
			_, err := f(bg, acct, c.ID, r.tags)
			if err == nil {
				t.Errorf("%s %s: no error", op, r.name)
				continue
			}
			var ve *apperr.Error
			if !errors.As(err, &ve) || ve.Field != r.field {
				t.Errorf("%s %s: %v, want an invalid-input error on %s", op, r.name, err, r.field)
			}
			if !slices.Equal(before, tags()) {
				t.Errorf("%s %s changed the tags", op, r.name)
			}
		}
	}
	if got, err = s.AddTags(bg, acct, c.ID, ten); err != nil || len(got.Tags) != 13 {
		t.Fatalf("ten tags: %v %v", got.Tags, err)
	}
	if _, err = s.AddTags(bg, acct, c.ID, []string{strings.Repeat("é", MaxTagLength)}); err != nil {
		t.Fatalf("a %d-character tag: %v", MaxTagLength, err)
	}

	// At most MaxTags in all.
	d := mustCreate(t, s, acct, nil)
	for i := 0; i < MaxTags-1; i += MaxTagsPerCall {
		var batch []string
		for j := i; j < i+MaxTagsPerCall && j < MaxTags-1; j++ {
			batch = append(batch, "tag"+strconv.Itoa(j))
		}
		if _, err := s.AddTags(bg, acct, d.ID, batch); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.AddTags(bg, acct, d.ID, []string{"one", "two"})
	wantValidation(t, err, "tags")
	if got, _ := st.stored("t1", d.ID); len(got.Tags) != MaxTags-1 {
		t.Fatalf("%d tags after a refused add", len(got.Tags))
	}
	if got, err := s.AddTags(bg, acct, d.ID, []string{"one", "tag0"}); err != nil || len(got.Tags) != MaxTags {
		t.Fatalf("the 200th tag: %d %v", len(got.Tags), err)
	}
}

func TestSearch(t *testing.T) {
	s, _ := newTestService()
	vip := mustField(t, s, "t1", "VIP", Boolean)
	tier := mustField(t, s, "t1", "Tier", List, "Gold", "Silver")
	score := mustField(t, s, "t1", "Score", Number)
	var anas []string
	for i := range 25 {
		c := mustCreate(t, s, acct, in("firstName", `"Ana"`, "lastName", strconv.Quote(fmt.Sprint("L", i))))
		anas = append(anas, c.ID)
	}
	yes := mustCreate(t, s, acct, in("VIP", `"yes"`, "phone", `"03244077087"`, "Tier", `"gold"`, "Score", `"1e3"`))
	mustCreate(t, s, acct, in("VIP", `false`))

	pages := []struct {
		page, n int
	}{{1, 10}, {2, 10}, {3, 5}, {4, 0}, {1000, 0}}
	for _, p := range pages {
		got, err := search(s, acct, "firstName", "ANA", p.page)
		if err != nil || got.Total != 25 || len(got.Contacts) != p.n {
			t.Fatalf("page %d: %d contacts of %d, %v", p.page, len(got.Contacts), got.Total, err)
		}
		for i, c := range got.Contacts {
			if want := anas[(p.page-1)*PerPage+i]; c.ID != want {
				t.Fatalf("page %d item %d is %s, want %s (oldest first)", p.page, i, c.ID, want)
			}
		}
	}

	finds := []struct {
		name, field, value string
		want               string // contact ID, "" for none
	}{
		{"boolean true", "VIP", "true", yes.ID},
		{"boolean TRUE", "vip", "TRUE", yes.ID},
		{"boolean 1 by ID", vip.ID, "1", yes.ID},
		{"boolean yes", "VIP", "yes", yes.ID},
		{"phone E.164", "phone", "+923244077087", yes.ID},
		{"phone spaced", "phone", "+92 324 4077087", yes.ID},
		{"phone local", "Phone", "03244077087", yes.ID},
		{"list any case", "Tier", "GOLD", yes.ID},
		{"list by ID", tier.ID, "gold", yes.ID},
		{"number other spelling", "Score", "1000.0", yes.ID},
		{"number by ID", score.ID, "1e3", yes.ID},
		{"list other option", "Tier", "silver", ""},
		{"text no match", "lastName", "nobody", ""},
	}
	for _, f := range finds {
		got, err := search(s, acct, f.field, f.value, 1)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if f.want == "" {
			if got.Total != 0 {
				t.Errorf("%s: found %d", f.name, got.Total)
			}
			continue
		}
		if got.Total != 1 || len(got.Contacts) != 1 || got.Contacts[0].ID != f.want {
			t.Errorf("%s: %+v", f.name, got)
		}
	}
	if got, err := search(s, acct, "VIP", "FALSE", 1); err != nil || got.Total != 1 || got.Contacts[0].ID == yes.ID {
		t.Errorf("boolean FALSE: %+v %v", got, err)
	}

	refusals := []struct {
		name, field, value string
		page               int
		errField           string
	}{
		{"page 0", "firstName", "Ana", 0, "page"},
		{"page 1001", "firstName", "Ana", 1001, "page"},
		{"negative page", "firstName", "Ana", -1, "page"},
		{"no name", "", "Ana", 1, "name"},
		{"blank name", "  ", "Ana", 1, "name"},
		{"unknown field", "Nickname", "Ana", 1, "Nickname"},
		{"no value", "firstName", "", 1, "value"},
		{"blank value", "firstName", "   ", 1, "value"},
		{"boolean maybe", "VIP", "maybe", 1, "value"},
		{"not a phone", "phone", "call me", 1, "value"},
		{"not an option", "Tier", "Bronze", 1, "value"},
		{"not a number", "Score", "0x10", 1, "value"},
	}
	for _, r := range refusals {
		_, err := search(s, acct, r.field, r.value, r.page)
		var ve *apperr.Error
		if !errors.As(err, &ve) || ve.Field != r.errField {
			t.Errorf("%s: %v, want an invalid-input error on %s", r.name, err, r.errField)
		}
	}
	// Read-only standard fields can be searched.
	if _, err := search(s, acct, "gender", "female", 1); err != nil {
		t.Errorf("search by gender: %v", err)
	}
}

func TestFindByName(t *testing.T) {
	s, _ := newTestService()
	mk := func(first, last string) Contact {
		return mustCreate(t, s, acct, in("firstName", strconv.Quote(first), "lastName", strconv.Quote(last)))
	}
	jp := mk("Juan", "Pedro")
	jz := mk("Juan", "Perez")
	mp := mk("Maria", "Pedro")
	j := mustCreate(t, s, acct, in("firstName", `"juan"`))

	ids := func(cs []Contact) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.ID
		}
		return out
	}
	cases := []struct {
		name, first, last string
		limit             int
		want              []string
	}{
		{"first only", "JUAN", "", 100, []string{jp.ID, jz.ID, j.ID}},
		{"first only, limited", "juan", "", 2, []string{jp.ID, jz.ID}},
		{"last only", "", "pedro", 100, []string{jp.ID, mp.ID}},
		{"both", "juan", "PEDRO", 100, []string{jp.ID}},
		{"both padded", " Juan ", " pedro ", 100, []string{jp.ID}},
		{"first padded, last blank", " Maria", "  ", 100, []string{mp.ID}},
		{"no match", "Pedro", "", 100, nil},
		{"both, no match", "Maria", "Perez", 100, nil},
	}
	for _, c := range cases {
		got, err := s.FindByName(bg, acct, c.first, c.last, c.limit)
		if err != nil || !slices.Equal(ids(got), c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, ids(got), err, c.want)
		}
	}
	for _, blank := range [][2]string{{"", ""}, {"  ", "\t"}} {
		_, err := s.FindByName(bg, acct, blank[0], blank[1], 100)
		wantValidation(t, err, "Fname")
	}

	// The match that passes the last-name filter is found past the store's
	// first page.
	for i := range 150 {
		mk("Juan", fmt.Sprint("Other", i))
	}
	late := mk("Juan", "Late")
	got, err := s.FindByName(bg, acct, "juan", "late", 100)
	if err != nil || !slices.Equal(ids(got), []string{late.ID}) {
		t.Fatalf("late match: %v %v", ids(got), err)
	}
	got, err = s.FindByName(bg, acct, "juan", "", 100)
	if err != nil || len(got) != 100 || got[0].ID != jp.ID {
		t.Fatalf("first 100: %d %v", len(got), err)
	}
}

// TestWriteFromARead: AddTagsFrom, RemoveTagsFrom and UpdateFrom start
// from the contact the caller has just read, without reading it again; a
// contact that changed since is read again and the change made on top of
// the stored one; one that is not the scope's is read.
func TestWriteFromARead(t *testing.T) {
	s, st := newTestService()
	c := mustCreate(t, s, acct, in("firstName", `"Ana"`))
	reads := func() int { return st.count("GetContact") + st.count("ContactsByID") }
	before := reads()
	c, err := s.AddTagsFrom(bg, acct, c, []string{"vip"})
	if err != nil || !slices.Equal(c.Tags, []string{"vip"}) || c.Version != 2 {
		t.Fatalf("AddTagsFrom: %+v %v", c, err)
	}
	c, err = s.UpdateFrom(bg, acct, c, in("lastName", `"Diaz"`), nil)
	if err != nil || c.Fields["lastName"] != "Diaz" || c.Version != 3 {
		t.Fatalf("UpdateFrom: %+v %v", c, err)
	}
	c, err = s.RemoveTagsFrom(bg, acct, c, []string{"vip"})
	if err != nil || len(c.Tags) != 0 || c.Version != 4 {
		t.Fatalf("RemoveTagsFrom: %+v %v", c, err)
	}
	if n := reads() - before; n != 0 {
		t.Errorf("%d reads, want none", n)
	}
	// A stale read (the contact was written since): read again, the
	// other write kept.
	stale := c
	if _, err := s.AddTags(bg, acct, c.ID, []string{"elsewhere"}); err != nil {
		t.Fatal(err)
	}
	before = reads()
	got, err := s.UpdateFrom(bg, acct, stale, in("lastName", `"Ruiz"`), nil)
	if err != nil || got.Fields["lastName"] != "Ruiz" || !slices.Equal(got.Tags, []string{"elsewhere"}) || got.Version != 6 {
		t.Fatalf("from a stale read: %+v %v", got, err)
	}
	if n := reads() - before; n != 1 {
		t.Errorf("%d reads after the conflict, want 1", n)
	}
	if stored, _ := st.stored("t1", c.ID); stored.Version != 6 || stored.Fields["lastName"] != "Ruiz" {
		t.Errorf("stored %+v", stored)
	}
	// Another tenant's contact given in this scope: read in the scope,
	// which has no such contact.
	if _, err := s.AddTagsFrom(bg, Scope{TenantID: "t2"}, got, []string{"x"}); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("a contact not of the scope: %v, want not found", err)
	}
}
