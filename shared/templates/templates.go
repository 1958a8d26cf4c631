// Package templates is the WhatsApp message template registry: a channel's
// pre-approved templates (the only messages a business may start a
// conversation with, outside the 24-hour customer service window), their
// validation as Meta defines them, their review status and the lookup the
// senders use before a template message is accepted.
//
// A template is identified on its channel by name and language, as Meta
// identifies it in a WhatsApp Business Account. It is submitted to the
// provider when it is created or edited (a Submitter) and starts PENDING;
// the provider's template status webhook (message_template_status_update)
// moves it to APPROVED or REJECTED (with Meta's reason) through SetStatus.
// Only an APPROVED template can be sent.
package templates

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// Status is a template's review status, as Meta names it.
type Status string

const (
	StatusPending  Status = "PENDING"  // submitted, waiting for review
	StatusApproved Status = "APPROVED" // may be sent
	StatusRejected Status = "REJECTED" // refused by review; Reason says why
	StatusPaused   Status = "PAUSED"   // paused by Meta for low quality
	StatusDisabled Status = "DISABLED" // disabled by Meta
)

// Statuses lists every status.
var Statuses = []Status{StatusPending, StatusApproved, StatusRejected, StatusPaused, StatusDisabled}

// ParseStatus accepts a status name in any case.
func ParseStatus(field, s string) (Status, error) {
	st := Status(strings.ToUpper(strings.TrimSpace(s)))
	for _, x := range Statuses {
		if st == x {
			return st, nil
		}
	}
	return "", apperr.Invalidf(field, "must be one of %s, not %q", statusNames(), s)
}

func statusNames() string {
	names := make([]string, len(Statuses))
	for i, s := range Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Categories are Meta's template categories.
var Categories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}

// Template is one message template of a channel.
type Template struct {
	ID        string `json:"id" dynamodbav:"id"`
	TenantID  string `json:"-" dynamodbav:"tenant_id"`
	ChannelID string `json:"channel_id" dynamodbav:"channel_id"`
	Name      string `json:"name" dynamodbav:"name"`
	// Namespace is the WhatsApp Business Account's template namespace (the
	// On-Premises API and chat-api clients name it; the Cloud API does not
	// need it): "" when the template was made without one.
	Namespace  string      `json:"namespace" dynamodbav:"namespace"`
	Language   string      `json:"language" dynamodbav:"language"`
	Category   string      `json:"category" dynamodbav:"category"`
	Components []Component `json:"components" dynamodbav:"components"`
	Status     Status      `json:"status" dynamodbav:"status"`
	// Reason is why review refused (REJECTED) or Meta paused or disabled
	// the template, as its status webhook said; "" otherwise.
	Reason string `json:"reason,omitempty" dynamodbav:"reason,omitempty"`
	// ProviderID is the provider's ID of the template, once submitted.
	ProviderID string `json:"provider_id,omitempty" dynamodbav:"provider_id,omitempty"`
	// BodyParams is how many {{n}} parameters the body takes.
	BodyParams int   `json:"body_params" dynamodbav:"body_params"`
	CreatedAt  int64 `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt  int64 `json:"updated_at" dynamodbav:"updated_at"`
	// EditedAt is when an APPROVED template was last edited (unix seconds;
	// Meta allows one such edit per 24 hours).
	EditedAt int64 `json:"-" dynamodbav:"edited_at,omitempty"`
	// Version increases with every write (optimistic concurrency).
	Version int64 `json:"-" dynamodbav:"version"`
}

// Component is one part of a template, in Meta's shape: a HEADER (text or
// media), the BODY, a FOOTER, or BUTTONS.
type Component struct {
	Type    string   `json:"type" dynamodbav:"type"`
	Format  string   `json:"format,omitempty" dynamodbav:"format,omitempty"`
	Text    string   `json:"text,omitempty" dynamodbav:"text,omitempty"`
	Buttons []Button `json:"buttons,omitempty" dynamodbav:"buttons,omitempty"`
	Example *Example `json:"example,omitempty" dynamodbav:"example,omitempty"`
}

// Example holds the sample values review needs for a component's
// parameters.
type Example struct {
	HeaderText   []string   `json:"header_text,omitempty" dynamodbav:"header_text,omitempty"`
	HeaderHandle []string   `json:"header_handle,omitempty" dynamodbav:"header_handle,omitempty"`
	BodyText     [][]string `json:"body_text,omitempty" dynamodbav:"body_text,omitempty"`
}

// Button is one button of a BUTTONS component.
type Button struct {
	Type        string   `json:"type" dynamodbav:"type"`
	Text        string   `json:"text,omitempty" dynamodbav:"text,omitempty"`
	URL         string   `json:"url,omitempty" dynamodbav:"url,omitempty"`
	PhoneNumber string   `json:"phone_number,omitempty" dynamodbav:"phone_number,omitempty"`
	Example     []string `json:"example,omitempty" dynamodbav:"example,omitempty"`
}

// Meta's limits.
const (
	MaxName          = 512
	MaxNamespace     = 128
	MaxBodyChars     = 1024
	MaxHeaderChars   = 60
	MaxFooterChars   = 60
	MaxButtons       = 10
	MaxButtonText    = 25
	MaxURLButtons    = 2
	MaxPhoneButtons  = 1
	MaxButtonURL     = 2000
	MaxButtonPhone   = 20
	MaxComponentsSet = 4
	// EditInterval is how often an APPROVED template may be edited.
	EditInterval = 24 * time.Hour
)

// ParamCount is how many parameters the template's body takes.
func (t Template) ParamCount() int {
	for _, c := range t.Components {
		if c.Type == "BODY" {
			n, _ := params(c.Text)
			return n
		}
	}
	return 0
}

// CheckParams refuses a send of the template with these body parameters
// and no other component (seed 002's sendTemplate): CheckSend, its fields
// named from field ("params").
func (t Template) CheckParams(field string, got []string) error {
	return t.CheckSend(strings.TrimSuffix(field, "params"), got, nil)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// params reads the {{n}} parameters of a text: how many there are (the
// highest n), or an error naming the first malformed one or the first gap.
// A parameter may appear more than once.
func params(text string) (int, error) {
	seen := map[int]bool{}
	high := 0
	rest := text
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return 0, fmt.Errorf("has an unclosed parameter at %q", clip(rest[i:]))
		}
		inner := rest[i+2 : i+j]
		n := 0
		if inner == "" || len(inner) > 3 || inner[0] == '0' {
			return 0, fmt.Errorf("parameter {{%s}} must be a number from 1, as {{1}}", inner)
		}
		for k := 0; k < len(inner); k++ {
			c := inner[k]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("parameter {{%s}} must be a number from 1, as {{1}}", inner)
			}
			n = n*10 + int(c-'0')
		}
		seen[n] = true
		high = max(high, n)
		rest = rest[i+j+2:]
	}
	if strings.Contains(rest, "}}") {
		return 0, fmt.Errorf("has a \"}}\" without its \"{{\"")
	}
	for n := 1; n <= high; n++ {
		if !seen[n] {
			return 0, fmt.Errorf("parameters must be numbered from {{1}} without gaps: {{%d}} is missing", n)
		}
	}
	return high, nil
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// Input creates a template (every key but namespace required) or edits one
// (PUT: the given keys; name and language cannot change).
type Input struct {
	Name       *string      `json:"name"`
	Namespace  *string      `json:"namespace"`
	Language   *string      `json:"language"`
	Category   *string      `json:"category"`
	Components *[]Component `json:"components"`
}

// CheckName checks a template name: lowercase letters, digits and
// underscores, at most 512 characters.
func CheckName(field, name string) error {
	if name == "" {
		return apperr.Invalid(field, "is required")
	}
	if len(name) > MaxName {
		return apperr.Invalidf(field, "must be at most %d characters, not %d", MaxName, len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return apperr.Invalidf(field, "may hold only lowercase letters, digits and underscores (%q is not one)", firstRune(name[i:]))
		}
	}
	return nil
}

func firstRune(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return string(r)
}

// CheckLanguage checks a language code as Meta writes them: two or three
// lowercase letters, optionally "_" and a region in capitals (en, en_US,
// pt_BR, fil).
func CheckLanguage(field, code string) error {
	if code == "" {
		return apperr.Invalid(field, "is required (a language code such as en or en_US)")
	}
	lang, region, hasRegion := strings.Cut(code, "_")
	ok := len(lang) >= 2 && len(lang) <= 3 && allIn(lang, 'a', 'z')
	if hasRegion {
		ok = ok && len(region) == 2 && allIn(region, 'A', 'Z')
	}
	if !ok {
		return apperr.Invalidf(field, "must be a language code such as en, en_US or pt_BR, not %q", code)
	}
	return nil
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

// CheckNamespace checks a template namespace: letters, digits, "_" and
// "-", at most 128 characters ("" is none).
func CheckNamespace(field, ns string) error {
	if len(ns) > MaxNamespace {
		return apperr.Invalidf(field, "must be at most %d characters", MaxNamespace)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return apperr.Invalidf(field, "may hold only letters, digits, \"_\" and \"-\" (%q is not one)", firstRune(ns[i:]))
		}
	}
	return nil
}

func parseCategory(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	for _, x := range Categories {
		if c == x {
			return c, nil
		}
	}
	return "", apperr.Invalidf("category", "must be one of %s, not %q", strings.Join(Categories, ", "), s)
}

// checkComponents validates components as Meta does and returns them in
// canonical form (types and formats in capitals) with the body's
// parameter count.
func checkComponents(in []Component, category string) ([]Component, int, error) {
	if len(in) == 0 {
		return nil, 0, apperr.Invalid("components", "must hold a BODY (and optionally a HEADER, a FOOTER and BUTTONS)")
	}
	if len(in) > MaxComponentsSet {
		return nil, 0, apperr.Invalidf("components", "may hold at most one each of HEADER, BODY, FOOTER and BUTTONS, not %d components", len(in))
	}
	out := make([]Component, len(in))
	seen := map[string]bool{}
	bodyParams := -1
	for i, c := range in {
		f := fmt.Sprintf("components[%d]", i)
		c.Type = strings.ToUpper(strings.TrimSpace(c.Type))
		c.Format = strings.ToUpper(strings.TrimSpace(c.Format))
		if seen[c.Type] {
			return nil, 0, apperr.Invalidf(f+".type", "a template has at most one %s", c.Type)
		}
		seen[c.Type] = true
		var err error
		switch c.Type {
		case "BODY":
			bodyParams, err = checkBody(f, c)
		case "HEADER":
			err = checkHeader(f, &c)
		case "FOOTER":
			err = checkFooter(f, c)
		case "BUTTONS":
			err = checkButtons(f, &c, category)
		default:
			err = apperr.Invalidf(f+".type", "must be one of HEADER, BODY, FOOTER, BUTTONS, not %q", c.Type)
		}
		if err != nil {
			return nil, 0, err
		}
		out[i] = c
	}
	if bodyParams < 0 {
		return nil, 0, apperr.Invalid("components", "must hold a BODY")
	}
	return out, bodyParams, nil
}

func noExtras(f string, c Component, format, buttons, example bool) error {
	switch {
	case !format && c.Format != "":
		return apperr.Invalidf(f+".format", "is for a HEADER only")
	case !buttons && len(c.Buttons) > 0:
		return apperr.Invalidf(f+".buttons", "is for a BUTTONS component only")
	case !example && c.Example != nil:
		return apperr.Invalidf(f+".example", "is for a HEADER or BODY with parameters only")
	}
	return nil
}

func checkBody(f string, c Component) (int, error) {
	if err := noExtras(f, c, false, false, true); err != nil {
		return 0, err
	}
	if strings.TrimSpace(c.Text) == "" {
		return 0, apperr.Invalid(f+".text", "is required: the BODY's text")
	}
	if n := utf8.RuneCountInString(c.Text); n > MaxBodyChars {
		return 0, apperr.Invalidf(f+".text", "must be at most %d characters, not %d", MaxBodyChars, n)
	}
	n, err := params(c.Text)
	if err != nil {
		return 0, apperr.Invalid(f+".text", err.Error())
	}
	if c.Example != nil {
		if len(c.Example.HeaderText) > 0 || len(c.Example.HeaderHandle) > 0 {
			return 0, apperr.Invalid(f+".example", "a BODY's example takes body_text only")
		}
		if n == 0 && len(c.Example.BodyText) > 0 {
			return 0, apperr.Invalid(f+".example.body_text", "the text has no parameters to give examples of")
		}
		if n > 0 && (len(c.Example.BodyText) != 1 || len(c.Example.BodyText[0]) != n) {
			return 0, apperr.Invalidf(f+".example.body_text", "must be one list of %d sample value%s, one per parameter", n, plural(n))
		}
	}
	return n, nil
}

var headerFormats = []string{"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}

func checkHeader(f string, c *Component) error {
	if err := noExtras(f, *c, true, false, true); err != nil {
		return err
	}
	if c.Format == "" {
		return apperr.Invalid(f+".format", "is required: one of "+strings.Join(headerFormats, ", "))
	}
	switch c.Format {
	case "TEXT":
		if strings.TrimSpace(c.Text) == "" {
			return apperr.Invalid(f+".text", "is required for a TEXT header")
		}
		if n := utf8.RuneCountInString(c.Text); n > MaxHeaderChars {
			return apperr.Invalidf(f+".text", "must be at most %d characters, not %d", MaxHeaderChars, n)
		}
		n, err := params(c.Text)
		if err != nil {
			return apperr.Invalid(f+".text", err.Error())
		}
		if n > 1 {
			return apperr.Invalid(f+".text", "a header takes at most one parameter, {{1}}")
		}
		if c.Example != nil && (len(c.Example.BodyText) > 0 || len(c.Example.HeaderHandle) > 0 || len(c.Example.HeaderText) != n) {
			return apperr.Invalidf(f+".example", "a TEXT header's example is header_text with %d sample value%s", n, plural(n))
		}
	case "IMAGE", "VIDEO", "DOCUMENT", "LOCATION":
		if c.Text != "" {
			return apperr.Invalidf(f+".text", "a header of format %s has no text", c.Format)
		}
		if c.Example != nil && (len(c.Example.BodyText) > 0 || len(c.Example.HeaderText) > 0) {
			return apperr.Invalidf(f+".example", "a header of format %s takes header_handle examples only", c.Format)
		}
	default:
		return apperr.Invalidf(f+".format", "must be one of %s, not %q", strings.Join(headerFormats, ", "), c.Format)
	}
	return nil
}

func checkFooter(f string, c Component) error {
	if err := noExtras(f, c, false, false, false); err != nil {
		return err
	}
	if strings.TrimSpace(c.Text) == "" {
		return apperr.Invalid(f+".text", "is required: the FOOTER's text")
	}
	if n := utf8.RuneCountInString(c.Text); n > MaxFooterChars {
		return apperr.Invalidf(f+".text", "must be at most %d characters, not %d", MaxFooterChars, n)
	}
	if strings.Contains(c.Text, "{{") {
		return apperr.Invalid(f+".text", "a footer takes no parameters")
	}
	return nil
}

var buttonTypes = []string{"QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP"}

func checkButtons(f string, c *Component, category string) error {
	if err := noExtras(f, *c, false, true, false); err != nil {
		return err
	}
	if c.Text != "" {
		return apperr.Invalid(f+".text", "BUTTONS have no text of their own (each button has one)")
	}
	if len(c.Buttons) == 0 || len(c.Buttons) > MaxButtons {
		return apperr.Invalidf(f+".buttons", "must hold 1 to %d buttons, not %d", MaxButtons, len(c.Buttons))
	}
	urls, phones := 0, 0
	bs := make([]Button, len(c.Buttons))
	for i, b := range c.Buttons {
		bf := fmt.Sprintf("%s.buttons[%d]", f, i)
		b.Type = strings.ToUpper(strings.TrimSpace(b.Type))
		textual := b.Type != "COPY_CODE" && b.Type != "OTP"
		if textual {
			if strings.TrimSpace(b.Text) == "" {
				return apperr.Invalid(bf+".text", "is required")
			}
			if n := utf8.RuneCountInString(b.Text); n > MaxButtonText {
				return apperr.Invalidf(bf+".text", "must be at most %d characters, not %d", MaxButtonText, n)
			}
		}
		if b.Type != "URL" && b.URL != "" {
			return apperr.Invalid(bf+".url", "is for a URL button only")
		}
		if b.Type != "PHONE_NUMBER" && b.PhoneNumber != "" {
			return apperr.Invalid(bf+".phone_number", "is for a PHONE_NUMBER button only")
		}
		switch b.Type {
		case "QUICK_REPLY":
		case "URL":
			if urls++; urls > MaxURLButtons {
				return apperr.Invalidf(bf, "a template has at most %d URL buttons", MaxURLButtons)
			}
			if err := checkButtonURL(bf, b); err != nil {
				return err
			}
		case "PHONE_NUMBER":
			if phones++; phones > MaxPhoneButtons {
				return apperr.Invalidf(bf, "a template has at most %d PHONE_NUMBER button", MaxPhoneButtons)
			}
			if !validButtonPhone(b.PhoneNumber) {
				return apperr.Invalidf(bf+".phone_number", "must be a phone number with its country code, at most %d characters, as +15550001234", MaxButtonPhone)
			}
		case "COPY_CODE":
			if len(b.Example) != 1 || b.Example[0] == "" {
				return apperr.Invalid(bf+".example", "a COPY_CODE button needs one sample code")
			}
		case "OTP":
			if category != "AUTHENTICATION" {
				return apperr.Invalid(bf+".type", "an OTP button is for AUTHENTICATION templates only")
			}
		default:
			return apperr.Invalidf(bf+".type", "must be one of %s, not %q", strings.Join(buttonTypes, ", "), b.Type)
		}
		bs[i] = b
	}
	c.Buttons = bs
	return nil
}

func checkButtonURL(bf string, b Button) error {
	u := b.URL
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return apperr.Invalid(bf+".url", "must be an http or https URL")
	}
	if len(u) > MaxButtonURL {
		return apperr.Invalidf(bf+".url", "must be at most %d characters", MaxButtonURL)
	}
	n, err := params(u)
	if err != nil {
		return apperr.Invalid(bf+".url", err.Error())
	}
	if n > 1 || (n == 1 && !strings.HasSuffix(u, "{{1}}")) {
		return apperr.Invalid(bf+".url", "may take one parameter, {{1}}, at its end only")
	}
	if n == 1 && len(b.Example) != 1 {
		return apperr.Invalid(bf+".example", "a URL with {{1}} needs one sample URL")
	}
	if n == 0 && len(b.Example) > 0 {
		return apperr.Invalid(bf+".example", "the URL has no parameter to give an example of")
	}
	return nil
}

func validButtonPhone(p string) bool {
	if len(p) < 8 || len(p) > MaxButtonPhone || p[0] != '+' {
		return false
	}
	return allIn(p[1:], '0', '9')
}
