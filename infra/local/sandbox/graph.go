package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// graphErr is an error answer in the Graph API's shape.
type graphErr struct {
	status  int
	code    int
	subcode int
	typ     string
	message string
	details string
}

func (s *Sandbox) writeGraphError(w http.ResponseWriter, e graphErr) {
	if e.typ == "" {
		e.typ = "OAuthException"
	}
	obj := map[string]any{"message": e.message, "type": e.typ, "code": e.code, "fbtrace_id": fbtrace()}
	if e.subcode != 0 {
		obj["error_subcode"] = e.subcode
	}
	if e.details != "" {
		obj["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": e.details}
	}
	s.mu.Lock()
	s.stats.Refused[strconv.Itoa(e.code)]++
	s.mu.Unlock()
	writeJSON(w, e.status, map[string]any{"error": obj})
}

func fbtrace() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:22]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("facebook-api-version", "v23.0")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// The errors the sandbox gives, as the Cloud API words them.
func errInvalidParam(details string) graphErr {
	return graphErr{status: 400, code: 100, message: "(#100) Invalid parameter", details: details}
}

var (
	errRateLimit = graphErr{status: 429, code: 130429, message: "(#130429) Rate limit hit",
		details: "Cloud API message throughput has been reached."}
	errSomethingWrong = graphErr{status: 500, code: 131000, message: "(#131000) Something went wrong",
		details: "Message failed to send due to an unknown error."}
	errReengagement = graphErr{status: 400, code: 131047, message: "(#131047) Re-engagement message",
		details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	errBadToken = graphErr{status: 401, code: 190, message: "Invalid OAuth access token - Cannot parse access token"}
	errNoToken  = graphErr{status: 400, code: 2500, message: "An active access token must be used to query information about the current user."}
)

var (
	versionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)
	idRE      = regexp.MustCompile(`^[0-9]{1,32}$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9._~+/=-]{8,1000}$`)
	waIDRE    = regexp.MustCompile(`^[0-9]{5,15}$`)
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// ServeHTTP routes the Graph API paths and the sandbox's own.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.serveControl(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/"+TwilioAPIVersion+"/") {
		s.serveTwilio(w, r)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 3 || !versionRE.MatchString(parts[0]) || !idRE.MatchString(parts[1]) {
		s.writeGraphError(w, graphErr{status: 400, code: 100, subcode: 33, typ: "GraphMethodException",
			message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.Method, strings.Join(parts, "/"))})
		return
	}
	if e, ok := s.authorize(r); !ok {
		s.writeGraphError(w, e)
		return
	}
	id := parts[1]
	switch {
	case parts[2] == "messages" && r.Method == http.MethodPost:
		s.send(w, r, id)
	case parts[2] == "whatsapp_business_profile" && r.Method == http.MethodGet:
		s.getProfile(w, id)
	case parts[2] == "whatsapp_business_profile" && r.Method == http.MethodPost:
		s.updateProfile(w, r, id)
	case parts[2] == "message_templates" && r.Method == http.MethodGet:
		s.listTemplates(w, r, id)
	case parts[2] == "message_templates" && r.Method == http.MethodPost:
		s.createTemplate(w, r, id)
	default:
		s.writeGraphError(w, graphErr{status: 400, code: 100, subcode: 33, typ: "GraphMethodException",
			message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.Method, id)})
	}
}

// authorize checks the bearer token (or access_token parameter).
func (s *Sandbox) authorize(r *http.Request) (graphErr, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		return errNoToken, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) > 0 {
		if !s.tokens[tok] {
			return errBadToken, false
		}
	} else if !tokenRE.MatchString(tok) {
		return errBadToken, false
	}
	return graphErr{}, true
}

// fault draws the injected fault of a send: "", "429", "500" or "hang".
func (s *Sandbox) fault(phoneNumberID string) (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	f := s.faults
	x := s.rng.Float64() * 100
	switch {
	case x < f.Fail429Pct:
		s.stats.Faults429++
		return "429", 0
	case x < f.Fail429Pct+f.Fail500Pct:
		s.stats.Faults500++
		return "500", 0
	case x < f.Fail429Pct+f.Fail500Pct+f.HangPct:
		s.stats.Hangs++
		return "hang", f.HangFor
	}
	if f.RatePerSecond > 0 {
		sec := s.opt.Now().Unix()
		rc := s.rateWindow[phoneNumberID]
		if rc.second != sec {
			rc = rateCount{second: sec}
		}
		rc.n++
		s.rateWindow[phoneNumberID] = rc
		if rc.n > f.RatePerSecond {
			s.stats.RateLimited++
			return "rate", 0
		}
	}
	return "", 0
}

// sendBody is what the sandbox reads of a send; an unknown key is refused
// as the Cloud API refuses it.
type sendBody struct {
	MessagingProduct      string `json:"messaging_product"`
	RecipientType         string `json:"recipient_type"`
	To                    string `json:"to"`
	Type                  string `json:"type"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	Context               *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text     *whatsapp.TextObject `json:"text"`
	Template *struct {
		Name     string `json:"name"`
		Language *struct {
			Policy string `json:"policy"`
			Code   string `json:"code"`
		} `json:"language"`
		Components []sendComponent `json:"components"`
	} `json:"template"`
	Image    *whatsapp.MediaObject `json:"image"`
	Document *whatsapp.MediaObject `json:"document"`
	Audio    *whatsapp.MediaObject `json:"audio"`
	Video    *whatsapp.MediaObject `json:"video"`
}

func (s *Sandbox) send(w http.ResponseWriter, r *http.Request, phoneNumberID string) {
	switch f, hang := s.fault(phoneNumberID); f {
	case "429":
		w.Header().Set("Retry-After", "1")
		s.writeGraphError(w, errRateLimit)
		return
	case "500":
		s.writeGraphError(w, errSomethingWrong)
		return
	case "hang":
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
		case <-time.After(hang):
		}
		s.writeGraphError(w, graphErr{status: 503, code: 2, message: "(#2) Service temporarily unavailable"})
		return
	case "rate":
		s.writeGraphError(w, errRateLimit)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		s.writeGraphError(w, errInvalidParam("the request body could not be read or is over 1 MB"))
		return
	}
	var b sendBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		s.writeGraphError(w, errInvalidParam("the request body is not a valid message: "+err.Error()))
		return
	}
	rec, tpl, e, ok := s.checkSend(b)
	if !ok {
		s.writeGraphError(w, e)
		return
	}
	rec.PhoneNumberID, rec.Request = phoneNumberID, raw
	now := s.opt.Now()
	s.mu.Lock()
	last, wrote := s.windows[rec.To]
	inWindow := wrote && now.Sub(last) < s.opt.Window
	undeliverable := s.undeliver[rec.To]
	s.mu.Unlock()
	var failure *whatsapp.StatusError
	if !tpl && !inWindow {
		if !s.opt.AsyncWindowErrors {
			s.writeGraphError(w, errReengagement)
			return
		}
		failure = statusError(errReengagement, "Re-engagement message")
	}
	if undeliverable {
		failure = statusError(graphErr{code: 131026, message: "Message undeliverable",
			details: "Message Undeliverable."}, "Message undeliverable")
	}
	rec.WAMID, rec.At, rec.Status = newWAMID(), now, "accepted"
	s.mu.Lock()
	s.stats.Accepted++
	s.record(rec)
	s.mu.Unlock()
	msg := map[string]any{"id": rec.WAMID}
	if tpl {
		msg["message_status"] = "accepted"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": b.To, "wa_id": rec.To}},
		"messages":          []map[string]any{msg},
	})
	s.postStatuses(rec, failure)
}

func statusError(e graphErr, title string) *whatsapp.StatusError {
	se := &whatsapp.StatusError{Code: e.code, Title: title, Message: title,
		Href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
	se.ErrorData = &struct {
		Details string `json:"details"`
	}{e.details}
	return se
}

// checkSend validates a send as the Cloud API does and reports whether it
// is a template message.
func (s *Sandbox) checkSend(b sendBody) (Record, bool, graphErr, bool) {
	var rec Record
	if b.MessagingProduct != "whatsapp" {
		return rec, false, errInvalidParam("messaging_product must be \"whatsapp\""), false
	}
	if b.RecipientType != "" && b.RecipientType != "individual" {
		return rec, false, errInvalidParam("recipient_type must be \"individual\""), false
	}
	to := strings.TrimPrefix(b.To, "+")
	if !waIDRE.MatchString(to) {
		return rec, false, errInvalidParam(fmt.Sprintf("to: %q is not a phone number", b.To)), false
	}
	if utf8.RuneCountInString(b.BizOpaqueCallbackData) > 512 {
		return rec, false, errInvalidParam("biz_opaque_callback_data is over 512 characters"), false
	}
	rec.To, rec.Type, rec.Opaque = to, b.Type, b.BizOpaqueCallbackData
	present := map[string]bool{"text": b.Text != nil, "template": b.Template != nil, "image": b.Image != nil,
		"document": b.Document != nil, "audio": b.Audio != nil, "video": b.Video != nil}
	if _, known := present[b.Type]; !known {
		return rec, false, errInvalidParam(fmt.Sprintf("type: %q is not one of text, template, image, document, audio, video", b.Type)), false
	}
	for k, on := range present {
		if on && k != b.Type {
			return rec, false, errInvalidParam(fmt.Sprintf("%s is given but type is %q", k, b.Type)), false
		}
	}
	if !present[b.Type] {
		return rec, false, graphErr{status: 400, code: 131008, message: "(#131008) Required parameter is missing",
			details: fmt.Sprintf("Parameter '%s' is required for a message of type %s.", b.Type, b.Type)}, false
	}
	switch b.Type {
	case "text":
		n := utf8.RuneCountInString(b.Text.Body)
		if strings.TrimSpace(b.Text.Body) == "" || n > 4096 {
			return rec, false, errInvalidParam(fmt.Sprintf("text.body must be 1 to 4096 characters, not %d", n)), false
		}
		rec.Summary = b.Text.Body
	case "template":
		t := b.Template
		if t.Name == "" || t.Language == nil || t.Language.Code == "" {
			return rec, false, graphErr{status: 400, code: 131008, message: "(#131008) Required parameter is missing",
				details: "template.name and template.language.code are required."}, false
		}
		if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
			return rec, false, errInvalidParam("template.language.policy must be \"deterministic\""), false
		}
		known, ok := s.approved(t.Name, t.Language.Code)
		if !ok {
			return rec, true, graphErr{status: 404, code: 132001, message: "(#132001) Template name does not exist in the translation",
				details: fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language.Code)}, false
		}
		params, e, ok := checkComponents(known, t.Components)
		if !ok {
			return rec, true, e, false
		}
		rec.Summary = fmt.Sprintf("%s/%s %s", t.Name, t.Language.Code, strings.Join(params, " | "))
	default:
		m := map[string]*whatsapp.MediaObject{"image": b.Image, "document": b.Document, "audio": b.Audio, "video": b.Video}[b.Type]
		if (m.Link == "") == (m.ID == "") {
			return rec, false, errInvalidParam(b.Type + ": exactly one of id and link is required"), false
		}
		if m.Link != "" && !strings.HasPrefix(m.Link, "https://") && !strings.HasPrefix(m.Link, "http://") {
			return rec, false, errInvalidParam(b.Type + ".link must be an http(s) URL"), false
		}
		if b.Type == "audio" && m.Caption != "" {
			return rec, false, errInvalidParam("audio takes no caption"), false
		}
		if b.Type != "document" && m.Filename != "" {
			return rec, false, errInvalidParam(b.Type + " takes no filename"), false
		}
		if utf8.RuneCountInString(m.Caption) > 1024 {
			return rec, false, errInvalidParam(b.Type + ".caption is over 1024 characters"), false
		}
		rec.Summary = strings.TrimSpace(m.Link + m.ID + " " + m.Caption)
	}
	return rec, b.Type == "template", graphErr{}, true
}

// approved finds an approved template by name and language.
func (s *Sandbox) approved(name, lang string) (Template, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.templates {
		if t.Name == name && t.Language == lang && t.Status == "APPROVED" {
			return t, true
		}
	}
	return Template{}, false
}

// addTemplate registers a template, approved; announce posts its status
// webhook.
func (s *Sandbox) addTemplate(t Template, announce bool) (Template, error) {
	def := whatsapp.TemplateDef{Name: t.Name, Language: t.Language, Category: t.Category, Components: t.Components}
	if def.Category == "" {
		def.Category = "UTILITY"
	}
	if err := def.Validate(); err != nil {
		return t, err
	}
	s.mu.Lock()
	for _, o := range s.templates {
		if o.Name == t.Name && o.Language == t.Language {
			s.mu.Unlock()
			return t, fmt.Errorf("a template %s in %s exists", t.Name, t.Language)
		}
	}
	t.Category, t.Status = def.Category, "APPROVED"
	if t.WABAID == "" {
		t.WABAID = s.opt.WABAID
	}
	t.ID = strconv.FormatInt(s.nextTplID, 10)
	s.nextTplID++
	s.templates = append(s.templates, t)
	s.mu.Unlock()
	if announce && s.opt.WebhookURL != "" {
		id, _ := strconv.ParseInt(t.ID, 10, 64)
		v := whatsapp.TemplateStatusValue{Event: "APPROVED", MessageTemplateID: id, MessageTemplateName: t.Name,
			MessageTemplateLanguage: t.Language, Reason: "NONE", MessageTemplateCategory: t.Category}
		p := s.payload("message_template_status_update", v)
		p.Entry[0].ID = t.WABAID
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.opt.StatusDelay):
			}
			s.deliver("template", t.ID, p)
		}()
	}
	return t, nil
}

func (s *Sandbox) createTemplate(w http.ResponseWriter, r *http.Request, wabaID string) {
	var def whatsapp.TemplateDef
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&def); err != nil {
		s.writeGraphError(w, errInvalidParam("the request body is not a template: "+err.Error()))
		return
	}
	if err := def.Validate(); err != nil {
		s.writeGraphError(w, errInvalidParam(err.Error()))
		return
	}
	t, err := s.addTemplate(Template{Name: def.Name, Language: def.Language, Category: def.Category, Components: def.Components, WABAID: wabaID}, true)
	if err != nil {
		s.writeGraphError(w, graphErr{status: 400, code: 100, subcode: 2388024, message: "Invalid parameter",
			details: "Content in this language already exists: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": t.ID, "status": t.Status, "category": t.Category})
}

func (s *Sandbox) listTemplates(w http.ResponseWriter, r *http.Request, wabaID string) {
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.writeGraphError(w, errInvalidParam("limit must be 1 to 1000"))
			return
		}
		limit = n
	}
	start := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			s.writeGraphError(w, errInvalidParam("after is not a cursor of this listing"))
			return
		}
		start = n
	}
	s.mu.Lock()
	var all []whatsapp.TemplateInfo
	for _, t := range s.templates {
		if t.WABAID == wabaID && (q.Get("name") == "" || q.Get("name") == t.Name) {
			all = append(all, whatsapp.TemplateInfo{ID: t.ID, Name: t.Name, Language: t.Language, Status: t.Status, Category: t.Category, Components: t.Components})
		}
	}
	s.mu.Unlock()
	page := []whatsapp.TemplateInfo{}
	if start < len(all) {
		page = all[start:min(start+limit, len(all))]
	}
	out := map[string]any{"data": page}
	if len(all) > 0 {
		cur := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
		paging := map[string]any{"cursors": map[string]string{"before": cur(start), "after": cur(start + len(page))}}
		if start+len(page) < len(all) {
			paging["next"] = fmt.Sprintf("https://graph.facebook.com/v23.0/%s/message_templates?limit=%d&after=%s", wabaID, limit, cur(start+len(page)))
		}
		out["paging"] = paging
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) getProfile(w http.ResponseWriter, phoneNumberID string) {
	s.mu.Lock()
	p := s.profiles[phoneNumberID]
	s.mu.Unlock()
	// The flat form Meta's reference page shows and the API answers.
	out := map[string]any{"messaging_product": "whatsapp"}
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &out)
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{out}})
}

func (s *Sandbox) updateProfile(w http.ResponseWriter, r *http.Request, phoneNumberID string) {
	var in struct {
		MessagingProduct     string   `json:"messaging_product"`
		About                string   `json:"about"`
		Address              string   `json:"address"`
		Description          string   `json:"description"`
		Email                string   `json:"email"`
		Vertical             string   `json:"vertical"`
		Websites             []string `json:"websites"`
		ProfilePictureHandle string   `json:"profile_picture_handle"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.writeGraphError(w, errInvalidParam("the request body is not a profile update: "+err.Error()))
		return
	}
	if in.MessagingProduct != "whatsapp" {
		s.writeGraphError(w, errInvalidParam("messaging_product must be \"whatsapp\""))
		return
	}
	up := whatsapp.Profile{About: in.About, Address: in.Address, Description: in.Description, Email: in.Email, Vertical: in.Vertical, Websites: in.Websites}
	if err := up.Validate(); err != nil {
		s.writeGraphError(w, errInvalidParam(err.Error()))
		return
	}
	s.mu.Lock()
	p := s.profiles[phoneNumberID]
	for _, f := range []struct {
		dst *string
		v   string
	}{{&p.About, up.About}, {&p.Address, up.Address}, {&p.Description, up.Description}, {&p.Email, up.Email}, {&p.Vertical, up.Vertical}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if in.Websites != nil {
		p.Websites = in.Websites
	}
	if in.ProfilePictureHandle != "" {
		p.ProfilePictureURL = "https://pps.whatsapp.net/v/sandbox/" + phoneNumberID + ".jpg"
	}
	s.profiles[phoneNumberID] = p
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}
