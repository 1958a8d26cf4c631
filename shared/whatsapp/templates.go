package whatsapp

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/lazyre"
)

// TemplateDef is a message template as submitted for review
// (POST /{waba_id}/message_templates) and as listed.
type TemplateDef struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Category string `json:"category"`
	// Components: HEADER, BODY (required), FOOTER, BUTTONS.
	Components []TemplateDefComponent `json:"components"`
}

// TemplateDefComponent is one part of a template. Body and header text
// hold {{1}}, {{2}}, ... placeholders, filled at send time.
type TemplateDefComponent struct {
	Type    string           `json:"type"`
	Format  string           `json:"format,omitempty"` // HEADER: TEXT, IMAGE, DOCUMENT, VIDEO, LOCATION
	Text    string           `json:"text,omitempty"`
	Example *TemplateExample `json:"example,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty"`
}

// TemplateExample holds sample values of the placeholders, which Meta's
// review asks for.
type TemplateExample struct {
	HeaderText []string   `json:"header_text,omitempty"`
	BodyText   [][]string `json:"body_text,omitempty"`
}

// TemplateButton is one button of a BUTTONS component.
type TemplateButton struct {
	Type        string `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER
	Text        string `json:"text"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// Template categories.
var Categories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}

var (
	templateNameRE = &lazyre.Regexp{Expr: `^[a-z0-9_]+$`} // and at most 512 bytes, checked apart
	languageRE     = &lazyre.Regexp{Expr: `^[a-z]{2,3}(_[A-Za-z]{2,4})?$`}
	placeholderRE  = &lazyre.Regexp{Expr: `\{\{\s*([0-9]+)\s*\}\}`}
)

// Limits of a template's parts, in characters.
const (
	MaxTemplateBody   = 1024
	MaxTemplateHeader = 60
	MaxTemplateFooter = 60
)

// BodyParams is how many distinct {{n}} a template's BODY holds: the
// number of parameters a send must give.
func (t TemplateDef) BodyParams() int {
	for _, c := range t.Components {
		if c.Type == "BODY" || c.Type == "body" {
			return CountParams(c.Text)
		}
	}
	return 0
}

// CountParams counts the distinct {{n}} placeholders of a text.
func CountParams(text string) int { return len(paramNumbers(text)) }

func paramNumbers(text string) map[int]bool {
	seen := map[int]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n] = true
	}
	return seen
}

// Validate checks a template before it is submitted: its name (lower-case
// letters, digits, underscores), language, category and one BODY.
func (t TemplateDef) Validate() error {
	switch {
	case len(t.Name) > 512 || !templateNameRE.MatchString(t.Name):
		return &FieldError{"name", "must be 1 to 512 lower-case letters, digits and underscores"}
	case !languageRE.MatchString(t.Language):
		return &FieldError{"language", fmt.Sprintf("%q is not a language code such as en or en_US", t.Language)}
	case !slices.Contains(Categories, t.Category):
		return &FieldError{"category", "must be MARKETING, UTILITY or AUTHENTICATION"}
	}
	bodies := 0
	for i, c := range t.Components {
		field := fmt.Sprintf("components[%d]", i)
		n := utf8.RuneCountInString(c.Text)
		switch c.Type {
		case "BODY":
			bodies++
			if n == 0 || n > MaxTemplateBody {
				return &FieldError{field + ".text", fmt.Sprintf("a body must be 1 to %d characters", MaxTemplateBody)}
			}
			// {{1}} .. {{k}} with none missing.
			nums := paramNumbers(c.Text)
			for j := 1; j <= len(nums); j++ {
				if !nums[j] {
					return &FieldError{field + ".text", fmt.Sprintf("placeholders must be {{1}} to {{%d}} with none missing", len(nums))}
				}
			}
		case "HEADER":
			if c.Format == "TEXT" && (n == 0 || n > MaxTemplateHeader) {
				return &FieldError{field + ".text", fmt.Sprintf("a text header must be 1 to %d characters", MaxTemplateHeader)}
			}
		case "FOOTER":
			if n == 0 || n > MaxTemplateFooter {
				return &FieldError{field + ".text", fmt.Sprintf("a footer must be 1 to %d characters", MaxTemplateFooter)}
			}
		case "BUTTONS":
			if len(c.Buttons) == 0 {
				return &FieldError{field + ".buttons", "a BUTTONS component needs a button"}
			}
		default:
			return &FieldError{field + ".type", fmt.Sprintf("must be HEADER, BODY, FOOTER or BUTTONS, not %q", c.Type)}
		}
	}
	if bodies != 1 {
		return &FieldError{"components", "a template has exactly one BODY"}
	}
	return nil
}

// TemplateCreated is the answer to a template's submission.
type TemplateCreated struct {
	ID       string `json:"id"`
	Status   string `json:"status"` // PENDING, APPROVED, REJECTED
	Category string `json:"category"`
}

// CreateTemplate submits a template for review under the credentials'
// WhatsApp Business Account.
func (c *Client) CreateTemplate(ctx context.Context, cr Credentials, t TemplateDef) (TemplateCreated, error) {
	if err := t.Validate(); err != nil {
		return TemplateCreated{}, err
	}
	if err := checkID("waba_id", cr.WABAID); err != nil {
		return TemplateCreated{}, err
	}
	var out TemplateCreated
	if err := c.call(ctx, cr, "POST", "/"+cr.WABAID+"/message_templates", nil, t, &out); err != nil {
		return TemplateCreated{}, err
	}
	if out.ID == "" {
		return out, &Error{HTTPStatus: 200, Message: "the answer to a template's submission holds no id"}
	}
	return out, nil
}

// TemplateInfo is a template as listed.
type TemplateInfo struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Language   string                 `json:"language"`
	Status     string                 `json:"status"`
	Category   string                 `json:"category"`
	Components []TemplateDefComponent `json:"components,omitempty"`
}

// TemplatePage is one page of a template listing; After, when not empty,
// asks for the next.
type TemplatePage struct {
	Templates []TemplateInfo
	After     string
}

// ListTemplates lists the account's templates, those named name only when
// name is not empty; after continues a listing.
func (c *Client) ListTemplates(ctx context.Context, cr Credentials, name, after string, limit int) (TemplatePage, error) {
	if err := checkID("waba_id", cr.WABAID); err != nil {
		return TemplatePage{}, err
	}
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Data   []TemplateInfo `json:"data"`
		Paging struct {
			Cursors struct {
				After string `json:"after"`
			} `json:"cursors"`
			Next string `json:"next"`
		} `json:"paging"`
	}
	if err := c.call(ctx, cr, "GET", "/"+cr.WABAID+"/message_templates", q, nil, &out); err != nil {
		return TemplatePage{}, err
	}
	p := TemplatePage{Templates: out.Data}
	if out.Paging.Next != "" {
		p.After = out.Paging.Cursors.After
	}
	return p, nil
}
