package messages

import (
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

func TestValidate(t *testing.T) {
	tpl := &TemplateInput{Name: "order_update", Language: "en_US", Params: []string{"Ana"}}
	ok := []SendRequest{
		{To: "+923244077087", Type: TypeText, Text: &TextInput{Body: strings.Repeat("é", MaxTextChars)}},
		{ContactID: "123456789012345", Type: TypeTemplate, Template: tpl},
		{To: "03244077087", Type: TypeMedia, Media: &MediaInput{Kind: MediaDocument, Link: "https://example.com/a.pdf", Caption: "Invoice", Filename: "a.pdf"}},
		{To: "03244077087", Type: TypeMedia, Media: &MediaInput{Kind: MediaAudio, Link: "http://example.com/a.ogg"}},
	}
	for _, r := range ok {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []struct {
		r     SendRequest
		field string
	}{
		{SendRequest{Type: TypeText, Text: &TextInput{Body: "hi"}}, "to"},
		{SendRequest{To: "1", ContactID: "2", Type: TypeText, Text: &TextInput{Body: "hi"}}, "to"},
		{SendRequest{ContactID: "a#b", Type: TypeTemplate, Template: tpl}, "contact_id"},
		{SendRequest{To: "1", Text: &TextInput{Body: "hi"}}, "type"},
		{SendRequest{To: "1", Type: "sticker"}, "type"},
		{SendRequest{To: "1", Type: TypeText, Template: tpl}, "text"},
		{SendRequest{To: "1", Type: TypeText, Text: &TextInput{Body: "hi"}, Template: tpl}, "type"},
		{SendRequest{To: "1", Type: TypeText, Text: &TextInput{Body: " \n"}}, "text.body"},
		{SendRequest{To: "1", Type: TypeText, Text: &TextInput{Body: strings.Repeat("a", MaxTextChars+1)}}, "text.body"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Language: "en"}}, "template.name"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Name: "Order", Language: "en"}}, "template.name"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Name: "order"}}, "template.language"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Name: "order", Language: "en-US"}}, "template.language"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Name: "order", Language: "en", Params: make([]string, MaxTemplateParams+1)}}, "template.params"},
		{SendRequest{To: "1", Type: TypeTemplate, Template: &TemplateInput{Name: "order", Language: "en", Params: []string{""}}}, "template.params[0]"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Link: "https://example.com/a.png"}}, "media.kind"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Kind: MediaImage}}, "media.link"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Kind: MediaImage, Link: "javascript:alert(1)"}}, "media.link"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Kind: MediaAudio, Link: "https://example.com/a.ogg", Caption: "x"}}, "media.caption"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Kind: MediaImage, Link: "https://example.com/a.png", Caption: strings.Repeat("a", MaxCaptionChars+1)}}, "media.caption"},
		{SendRequest{To: "1", Type: TypeMedia, Media: &MediaInput{Kind: MediaImage, Link: "https://example.com/a.png", Filename: "a.png"}}, "media.filename"},
	}
	for _, c := range bad {
		err := c.r.Validate()
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Field != c.field {
			t.Errorf("%+v: %v, want an invalid %s", c.r, err, c.field)
		}
	}
}

func TestAdvancesTable(t *testing.T) {
	order := []Status{StatusQueued, StatusSent, StatusDelivered, StatusRead, StatusFailed}
	for i, from := range order {
		for j, to := range order {
			if got := Advances(from, to); got != (j > i) {
				t.Errorf("Advances(%s, %s) = %v", from, to, got)
			}
		}
		if Advances(from, StatusReceived) || Advances(StatusReceived, from) {
			t.Errorf("received is not on the outbound ladder")
		}
	}
}
