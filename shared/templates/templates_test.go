package templates

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
)

func body(text string) Component { return Component{Type: "BODY", Text: text} }

func input(name, lang, cat string, comps ...Component) Input {
	return Input{Name: &name, Language: &lang, Category: &cat, Components: &comps}
}

// TestValidation: each of Meta's rules refuses with a message that names
// the field and what is wrong.
func TestValidation(t *testing.T) {
	long := strings.Repeat("a", MaxName+1)
	cases := []struct {
		name string
		in   Input
		want string // the whole message
	}{
		{"name upper case", input("Order_update", "en", "UTILITY", body("Hi")), `name: may hold only lowercase letters, digits and underscores ("O" is not one).`},
		{"name with a space", input("order update", "en", "UTILITY", body("Hi")), `name: may hold only lowercase letters, digits and underscores (" " is not one).`},
		{"name with a hyphen", input("order-update", "en", "UTILITY", body("Hi")), `name: may hold only lowercase letters, digits and underscores ("-" is not one).`},
		{"name too long", input(long, "en", "UTILITY", body("Hi")), `name: must be at most 512 characters, not 513.`},
		{"name empty", input("", "en", "UTILITY", body("Hi")), `name: is required.`},
		{"language", input("a", "english", "UTILITY", body("Hi")), `language: must be a language code such as en, en_US or pt_BR, not "english".`},
		{"language region case", input("a", "en_us", "UTILITY", body("Hi")), `language: must be a language code such as en, en_US or pt_BR, not "en_us".`},
		{"category", input("a", "en", "PROMO", body("Hi")), `category: must be one of MARKETING, UTILITY, AUTHENTICATION, not "PROMO".`},
		{"no components", input("a", "en", "UTILITY"), `components: must hold a BODY (and optionally a HEADER, a FOOTER and BUTTONS).`},
		{"no body", input("a", "en", "UTILITY", Component{Type: "FOOTER", Text: "x"}), `components: must hold a BODY.`},
		{"two bodies", input("a", "en", "UTILITY", body("a"), body("b")), `components[1].type: a template has at most one BODY.`},
		{"unknown type", input("a", "en", "UTILITY", body("a"), Component{Type: "SIDEBAR"}), `components[1].type: must be one of HEADER, BODY, FOOTER, BUTTONS, not "SIDEBAR".`},
		{"empty body", input("a", "en", "UTILITY", body("  ")), `components[0].text: is required: the BODY's text.`},
		{"body too long", input("a", "en", "UTILITY", body(strings.Repeat("é", 1025))), `components[0].text: must be at most 1024 characters, not 1025.`},
		{"gap", input("a", "en", "UTILITY", body("Hi {{1}}, order {{3}}")), `components[0].text: parameters must be numbered from {{1}} without gaps: {{2}} is missing.`},
		{"from zero", input("a", "en", "UTILITY", body("Hi {{0}}")), `components[0].text: parameter {{0}} must be a number from 1, as {{1}}.`},
		{"named", input("a", "en", "UTILITY", body("Hi {{name}}")), `components[0].text: parameter {{name}} must be a number from 1, as {{1}}.`},
		{"starts at two", input("a", "en", "UTILITY", body("Hi {{2}}")), `components[0].text: parameters must be numbered from {{1}} without gaps: {{1}} is missing.`},
		{"unclosed", input("a", "en", "UTILITY", body("Hi {{1")), `components[0].text: has an unclosed parameter at "{{1".`},
		{"stray close", input("a", "en", "UTILITY", body("Hi 1}}")), `components[0].text: has a "}}" without its "{{".`},
		{"example count", input("a", "en", "UTILITY", Component{Type: "BODY", Text: "{{1}} {{2}}", Example: &Example{BodyText: [][]string{{"x"}}}}),
			`components[0].example.body_text: must be one list of 2 sample values, one per parameter.`},
		{"header format", input("a", "en", "UTILITY", Component{Type: "HEADER", Text: "x"}, body("b")), `components[0].format: is required: one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION.`},
		{"header two params", input("a", "en", "UTILITY", Component{Type: "HEADER", Format: "TEXT", Text: "{{1}} {{2}}"}, body("b")), `components[0].text: a header takes at most one parameter, {{1}}.`},
		{"header too long", input("a", "en", "UTILITY", Component{Type: "HEADER", Format: "TEXT", Text: strings.Repeat("h", 61)}, body("b")), `components[0].text: must be at most 60 characters, not 61.`},
		{"image header text", input("a", "en", "UTILITY", Component{Type: "HEADER", Format: "IMAGE", Text: "x"}, body("b")), `components[0].text: a header of format IMAGE has no text.`},
		{"footer param", input("a", "en", "UTILITY", body("b"), Component{Type: "FOOTER", Text: "bye {{1}}"}), `components[1].text: a footer takes no parameters.`},
		{"footer long", input("a", "en", "UTILITY", body("b"), Component{Type: "FOOTER", Text: strings.Repeat("f", 61)}), `components[1].text: must be at most 60 characters, not 61.`},
		{"footer format", input("a", "en", "UTILITY", body("b"), Component{Type: "FOOTER", Format: "TEXT", Text: "f"}), `components[1].format: is for a HEADER only.`},
		{"no buttons", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS"}), `components[1].buttons: must hold 1 to 10 buttons, not 0.`},
		{"button text", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "QUICK_REPLY", Text: strings.Repeat("b", 26)}}}),
			`components[1].buttons[0].text: must be at most 25 characters, not 26.`},
		{"button type", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "CALL", Text: "x"}}}),
			`components[1].buttons[0].type: must be one of QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, not "CALL".`},
		{"url scheme", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "URL", Text: "Go", URL: "ftp://x"}}}),
			`components[1].buttons[0].url: must be an http or https URL.`},
		{"url param mid", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "URL", Text: "Go", URL: "https://x/{{1}}/y", Example: []string{"https://x/a/y"}}}}),
			`components[1].buttons[0].url: may take one parameter, {{1}}, at its end only.`},
		{"three urls", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "URL", Text: "1", URL: "https://x"}, {Type: "URL", Text: "2", URL: "https://x"}, {Type: "URL", Text: "3", URL: "https://x"}}}),
			`components[1].buttons[2]: a template has at most 2 URL buttons.`},
		{"phone", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "PHONE_NUMBER", Text: "Call", PhoneNumber: "5550001234"}}}),
			`components[1].buttons[0].phone_number: must be a phone number with its country code, at most 20 characters, as +15550001234.`},
		{"otp outside auth", input("a", "en", "UTILITY", body("b"), Component{Type: "BUTTONS", Buttons: []Button{{Type: "OTP"}}}),
			`components[1].buttons[0].type: an OTP button is for AUTHENTICATION templates only.`},
		{"namespace", Input{Name: ptr("a"), Namespace: ptr("name space"), Language: ptr("en"), Category: ptr("UTILITY"), Components: &[]Component{body("b")}},
			`namespace: may hold only letters, digits, "_" and "-" (" " is not one).`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newService()
			_, err := s.Create(t.Context(), "ten_1", "ch_1", c.in)
			if err == nil {
				t.Fatalf("accepted")
			}
			if !apperr.Is(err, apperr.KindInvalid) || err.Error() != c.want {
				t.Fatalf("got %v (%s), want %q", err, apperr.KindOf(err), c.want)
			}
			if len(s.Store.(*memStore).items) != 0 {
				t.Fatal("a refused template was stored")
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestValidTemplates: Meta's own shapes pass, canonicalised, with their
// body's parameter count.
func TestValidTemplates(t *testing.T) {
	s := newService()
	in := input("order_update_2", "pt_BR", "utility",
		Component{Type: "header", Format: "text", Text: "Order {{1}}", Example: &Example{HeaderText: []string{"A-1"}}},
		Component{Type: "BODY", Text: "Hi {{1}}, {{2}} ships today. Thanks {{1}}!", Example: &Example{BodyText: [][]string{{"Ana", "A-1"}}}},
		Component{Type: "FOOTER", Text: "Acme"},
		Component{Type: "BUTTONS", Buttons: []Button{
			{Type: "quick_reply", Text: "Stop"},
			{Type: "URL", Text: "Track", URL: "https://acme.example/track/{{1}}", Example: []string{"https://acme.example/track/A-1"}},
			{Type: "PHONE_NUMBER", Text: "Call us", PhoneNumber: "+15550001234"},
		}})
	tpl, err := s.Create(t.Context(), "ten_1", "ch_1", in)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Category != "UTILITY" || tpl.Components[0].Type != "HEADER" || tpl.Components[0].Format != "TEXT" ||
		tpl.Components[3].Buttons[0].Type != "QUICK_REPLY" || tpl.Status != StatusPending {
		t.Fatalf("not canonical: %+v", tpl)
	}
	if tpl.ParamCount() != 2 || tpl.BodyParams != 2 {
		t.Fatalf("params %d/%d, want 2", tpl.ParamCount(), tpl.BodyParams)
	}
	seed, err := s.Create(t.Context(), "ten_1", "ch_1", Input{Name: ptr("template_name"), Namespace: ptr("namespace_of_template"),
		Language: ptr("en"), Category: ptr("MARKETING"), Components: &[]Component{body("Hello from Acme!")}})
	if err != nil || seed.ParamCount() != 0 {
		t.Fatalf("seed template: %v %d", err, seed.ParamCount())
	}
	if _, err := s.Create(t.Context(), "ten_1", "ch_1", Input{Name: ptr("template_name"), Language: ptr("en"),
		Category: ptr("MARKETING"), Components: &[]Component{body("again")}}); !apperr.Is(err, apperr.KindExists) ||
		err.Error() != `A template named "template_name" in language "en" already exists on this channel.` {
		t.Fatalf("same name and language: %v", err)
	}
	if _, err := s.Create(t.Context(), "ten_1", "ch_1", Input{Name: ptr("template_name"), Language: ptr("es"),
		Category: ptr("MARKETING"), Components: &[]Component{body("Hola")}}); err != nil {
		t.Fatalf("another language is another template: %v", err)
	}
}

// TestStatusAndLookup: a template is sendable once APPROVED, with its
// parameter count checked; each refusal says why.
func TestStatusAndLookup(t *testing.T) {
	ctx := t.Context()
	s := newService()
	if _, err := s.Create(ctx, "ten_1", "ch_1", Input{Name: ptr("welcome"), Namespace: ptr("ns1"), Language: ptr("en"),
		Category: ptr("MARKETING"), Components: &[]Component{body("Hi {{1}}")}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Lookup(ctx, "ten_1", "ch_1", "welcome", "ns1", "en")
	if !apperr.Is(err, apperr.KindRejected) || err.Error() != `template: template "welcome" (en) is PENDING, not APPROVED: only an approved template can be sent.` {
		t.Fatalf("pending: %v", err)
	}
	if err := s.SetStatus(ctx, "ten_1", "ch_1", "welcome", "en", StatusRejected, "INVALID_FORMAT"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Lookup(ctx, "ten_1", "ch_1", "welcome", "", "en")
	if err == nil || err.Error() != `template: template "welcome" (en) is REJECTED, not APPROVED: only an approved template can be sent (INVALID_FORMAT).` {
		t.Fatalf("rejected: %v", err)
	}
	if err := s.SetStatus(ctx, "ten_1", "ch_1", "welcome", "en", StatusApproved, "NONE"); err != nil {
		t.Fatal(err)
	}
	tpl, err := s.Lookup(ctx, "ten_1", "ch_1", "welcome", "ns1", "en")
	if err != nil || tpl.Reason != "" || tpl.Status != StatusApproved {
		t.Fatalf("approved: %+v %v", tpl, err)
	}
	if err := tpl.CheckParams("params", nil); err == nil || err.Error() != `params: template "welcome" (en) takes 1 body parameter, got 0.` {
		t.Fatalf("count: %v", err)
	}
	if err := tpl.CheckParams("params", []string{"Ana", "x"}); err == nil || err.Error() != `params: template "welcome" (en) takes 1 body parameter, got 2.` {
		t.Fatalf("count: %v", err)
	}
	if _, err := s.Resolve(ctx, "ten_1", "ch_1", "welcome", "", "en", []string{"Ana"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, ns, lang, want string }{
		{"nope", "", "en", `Template "nope" in language "en" not found on this channel.`},
		{"welcome", "", "es", `Template "welcome" in language "es" not found on this channel.`},
		{"welcome", "other", "en", `Template "welcome" in language "en" not found in namespace "other" on this channel (its namespace is "ns1").`},
	} {
		if _, err := s.Lookup(ctx, "ten_1", "ch_1", c.name, c.ns, c.lang); !apperr.Is(err, apperr.KindNotFound) || err.Error() != c.want {
			t.Errorf("%+v: %v", c, err)
		}
	}
	// Another channel's template is not this channel's.
	if _, err := s.Lookup(ctx, "ten_1", "ch_2", "welcome", "", "en"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("other channel: %v", err)
	}
	if err := s.SetStatus(ctx, "ten_1", "ch_1", "nope", "en", StatusApproved, ""); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown template status: %v", err)
	}
}

// TestEditRules: Meta's edit rules, and an edit goes back to PENDING.
func TestEditRules(t *testing.T) {
	ctx := t.Context()
	s := newService()
	clock := time.Unix(1_700_000_000, 0)
	s.Now = func() time.Time { return clock }
	tpl, err := s.Create(ctx, "ten_1", "ch_1", input("promo", "en", "MARKETING", body("Sale!")))
	if err != nil {
		t.Fatal(err)
	}
	edit := Input{Components: &[]Component{body("Sale today!")}}
	if _, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, edit); !apperr.Is(err, apperr.KindRejected) ||
		!strings.Contains(err.Error(), "PENDING review") {
		t.Fatalf("pending edit: %v", err)
	}
	_ = s.SetStatus(ctx, "ten_1", "ch_1", "promo", "en", StatusApproved, "")
	if _, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, Input{Category: ptr("UTILITY")}); !apperr.Is(err, apperr.KindRejected) ||
		err.Error() != "category: an APPROVED template keeps its category (MARKETING)." {
		t.Fatalf("category: %v", err)
	}
	if _, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, Input{Name: ptr("other")}); !apperr.Is(err, apperr.KindInvalid) ||
		err.Error() != `name: cannot change (it is "promo"): a template with another name is a new template.` {
		t.Fatalf("rename: %v", err)
	}
	got, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, edit)
	if err != nil || got.Status != StatusPending || got.Components[0].Text != "Sale today!" {
		t.Fatalf("edit: %+v %v", got, err)
	}
	_ = s.SetStatus(ctx, "ten_1", "ch_1", "promo", "en", StatusApproved, "")
	clock = clock.Add(23 * time.Hour)
	if _, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, edit); !apperr.Is(err, apperr.KindRejected) ||
		!strings.Contains(err.Error(), "once per 24 hours; the next edit is allowed at 2023-11-15T22:13:20Z") {
		t.Fatalf("second edit within 24 h: %v", err)
	}
	clock = clock.Add(time.Hour)
	if _, err := s.Update(ctx, "ten_1", "ch_1", tpl.ID, edit); err != nil {
		t.Fatalf("edit after 24 h: %v", err)
	}
	// A rejected template may change category and be edited at once.
	_ = s.SetStatus(ctx, "ten_1", "ch_1", "promo", "en", StatusRejected, "PROMOTIONAL")
	got, err = s.Update(ctx, "ten_1", "ch_1", tpl.ID, Input{Category: ptr("UTILITY")})
	if err != nil || got.Category != "UTILITY" || got.Reason != "" {
		t.Fatalf("rejected edit: %+v %v", got, err)
	}
	if err := s.Delete(ctx, "ten_1", "ch_1", tpl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "ten_1", "ch_1", tpl.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

// TestSubmitterRefusal: a template the provider refuses is not kept.
func TestSubmitterRefusal(t *testing.T) {
	s := newService()
	s.Submitter = refusing{}
	_, err := s.Create(t.Context(), "ten_1", "ch_1", input("a", "en", "UTILITY", body("b")))
	if !apperr.Is(err, apperr.KindRejected) {
		t.Fatalf("%v", err)
	}
	if n := len(s.Store.(*memStore).items); n != 0 {
		t.Fatalf("%d kept", n)
	}
}

type refusing struct{ LocalOnly }

func (refusing) Submit(context.Context, Template) (string, error) {
	return "", apperr.Rejected("components", "the provider refused the template")
}

func newService() *Service {
	n := 0
	return &Service{Store: &memStore{items: map[string]Template{}}, Submitter: LocalOnly{},
		NewID: func() string { n++; return "tpl_" + strings.Repeat("a", n) }, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}
}

// memStore is templates.Store in memory.
type memStore struct {
	mu    sync.Mutex
	items map[string]Template // by tenant/channel/language/name
}

func mkey(t, c, lang, name string) string { return t + "/" + c + "/" + lang + "/" + name }

func (m *memStore) CreateTemplate(_ context.Context, t Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := mkey(t.TenantID, t.ChannelID, t.Language, t.Name)
	if _, ok := m.items[k]; ok {
		return apperr.Exists("A template named %q in language %q already exists on this channel.", t.Name, t.Language)
	}
	m.items[k] = t
	return nil
}

func (m *memStore) GetTemplate(_ context.Context, tenantID, channelID, id string) (Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.items {
		if t.TenantID == tenantID && t.ChannelID == channelID && t.ID == id {
			return t, nil
		}
	}
	return Template{}, apperr.NotFound("Template", id)
}

func (m *memStore) FindTemplate(_ context.Context, tenantID, channelID, name, language string) (Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.items[mkey(tenantID, channelID, language, name)]
	if !ok {
		return Template{}, apperr.NotFound("Template", name)
	}
	return t, nil
}

func (m *memStore) ListTemplates(_ context.Context, tenantID, channelID string) ([]Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Template
	for _, t := range m.items {
		if t.TenantID == tenantID && t.ChannelID == channelID {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memStore) PutTemplate(_ context.Context, t Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := mkey(t.TenantID, t.ChannelID, t.Language, t.Name)
	old, ok := m.items[k]
	if !ok {
		return apperr.NotFound("Template", t.ID)
	}
	if old.Version != t.Version-1 {
		return apperr.Conflict("template")
	}
	m.items[k] = t
	return nil
}

func (m *memStore) DeleteTemplate(_ context.Context, t Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, mkey(t.TenantID, t.ChannelID, t.Language, t.Name))
	return nil
}
