package sandbox

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
)

// The sandbox's own endpoints (not the Cloud API's):
//
//	GET  /                       the page: what was sent, webhook calls, faults
//	GET  /_sandbox/messages      the accepted sends, newest last (?to=<wa_id> filters)
//	POST /_sandbox/inbound       {"from","text","name","phone_number_id"}: the contact writes (opens its window, posts the webhook)
//	POST /_sandbox/window        {"wa_id","open"}: open (default) or close a contact's 24-hour window without a webhook
//	POST /_sandbox/undeliverable {"wa_id","on"}: sends to it are accepted, then fail with 131026
//	GET  /_sandbox/faults        the fault settings; PUT replaces them
//	GET  /_sandbox/webhooks      the webhook calls made (last 1,000)
//	GET  /_sandbox/templates     every template
//	GET  /_sandbox/stats         the counters
//	POST /_sandbox/reset         forget messages, windows, calls and counters
//	GET  /_sandbox/twilio        the accepted Twilio SMS and calls, oldest first (?to=<E.164> filters)
//	POST /_sandbox/twilio/landline {"number","on"}: SMS to that E.164 number are refused with 21614
//	(undeliverable with wa_id: the number's digits makes its SMS undelivered, its calls busy)
func (s *Sandbox) serveControl(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /":
		s.page(w)
	case "GET /_sandbox/twilio":
		recs := s.TwilioRecords()
		if to := r.URL.Query().Get("to"); to != "" {
			recs = slices.DeleteFunc(recs, func(m TwilioRecord) bool { return m.To != to })
		}
		writeJSON(w, 200, map[string]any{"count": len(recs), "records": recs})
	case "POST /_sandbox/twilio/landline":
		in := struct {
			Number string `json:"number"`
			On     *bool  `json:"on"`
		}{}
		if !readJSON(w, r, &in) {
			return
		}
		if !e164(in.Number) {
			controlError(w, 400, "want number (E.164)")
			return
		}
		s.TwilioLandline(in.Number, in.On == nil || *in.On)
		writeJSON(w, 200, map[string]any{"number": in.Number, "landline": in.On == nil || *in.On})
	case "GET /_sandbox/messages":
		msgs := s.Messages()
		if to := r.URL.Query().Get("to"); to != "" {
			msgs = slices.DeleteFunc(msgs, func(m Record) bool { return m.To != to })
		}
		st := s.Stats()
		writeJSON(w, 200, map[string]any{"count": len(msgs), "duplicates": st.Duplicates, "messages": msgs})
	case "POST /_sandbox/inbound":
		var in struct {
			From          string `json:"from"`
			Text          string `json:"text"`
			Name          string `json:"name"`
			PhoneNumberID string `json:"phone_number_id"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if !waIDRE.MatchString(in.From) || in.Text == "" || !idRE.MatchString(in.PhoneNumberID) {
			controlError(w, 400, "want from (5 to 15 digits), text and phone_number_id (digits)")
			return
		}
		if in.Name == "" {
			in.Name = "Sandbox contact"
		}
		id, status := s.Inbound(in.PhoneNumberID, in.From, in.Name, in.Text)
		writeJSON(w, 200, map[string]any{"id": id, "webhook_status": status})
	case "POST /_sandbox/window":
		in := struct {
			WaID string `json:"wa_id"`
			Open *bool  `json:"open"`
		}{}
		if !readJSON(w, r, &in) {
			return
		}
		if !waIDRE.MatchString(in.WaID) {
			controlError(w, 400, "want wa_id: 5 to 15 digits")
			return
		}
		if in.Open == nil || *in.Open {
			s.OpenWindow(in.WaID, s.opt.Now())
		} else {
			s.CloseWindow(in.WaID)
		}
		writeJSON(w, 200, map[string]any{"wa_id": in.WaID, "open": in.Open == nil || *in.Open})
	case "POST /_sandbox/undeliverable":
		in := struct {
			WaID string `json:"wa_id"`
			On   *bool  `json:"on"`
		}{}
		if !readJSON(w, r, &in) {
			return
		}
		if !waIDRE.MatchString(in.WaID) {
			controlError(w, 400, "want wa_id: 5 to 15 digits")
			return
		}
		s.SetUndeliverable(in.WaID, in.On == nil || *in.On)
		writeJSON(w, 200, map[string]any{"wa_id": in.WaID, "undeliverable": in.On == nil || *in.On})
	case "GET /_sandbox/faults":
		writeJSON(w, 200, s.CurrentFaults())
	case "PUT /_sandbox/faults", "POST /_sandbox/faults":
		var f Faults
		if !readJSON(w, r, &f) {
			return
		}
		if err := s.SetFaults(f); err != nil {
			controlError(w, 400, err.Error())
			return
		}
		writeJSON(w, 200, s.CurrentFaults())
	case "GET /_sandbox/webhooks":
		writeJSON(w, 200, map[string]any{"calls": s.Calls()})
	case "GET /_sandbox/templates":
		s.mu.Lock()
		ts := append([]Template{}, s.templates...)
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"templates": ts})
	case "GET /_sandbox/stats":
		writeJSON(w, 200, s.Stats())
	case "POST /_sandbox/reset":
		s.Reset()
		writeJSON(w, 200, map[string]bool{"reset": true})
	default:
		controlError(w, 404, "no such sandbox endpoint: "+route)
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, 400, "body: "+err.Error())
		return false
	}
	return true
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": "error", "message": msg, "data": []any{}})
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"itoa": strconv.Itoa}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WhatsApp provider sandbox</title>
<meta http-equiv="refresh" content="5">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}code{font-size:12px}</style></head>
<body><h1>WhatsApp provider sandbox</h1>
<p>Cloud API paths: <code>POST /{version}/{phone_number_id}/messages</code>, <code>/whatsapp_business_profile</code>,
<code>/{waba_id}/message_templates</code>. Webhooks to <code>{{.WebhookURL}}</code>. JSON: <a href="/_sandbox/messages">/_sandbox/messages</a>,
<a href="/_sandbox/webhooks">/_sandbox/webhooks</a>, <a href="/_sandbox/stats">/_sandbox/stats</a>, <a href="/_sandbox/faults">/_sandbox/faults</a>.</p>
<p>Faults: 429 {{.Faults.Fail429Pct}} %, 500 {{.Faults.Fail500Pct}} %, hang {{.Faults.HangPct}} % ({{.Faults.HangMS}} ms), rate limit {{.Faults.RatePerSecond}}/s (0: off), statuses out of order {{.Faults.OutOfOrderStatuses}}, webhooks twice {{.Faults.DuplicateWebhooks}}.
Accepted {{.Stats.Accepted}}, duplicates {{.Stats.Duplicates}}, webhooks ok {{.Stats.WebhooksOK}}, failed attempts {{.Stats.WebhooksFailed}}.</p>
<h2>Sent ({{len .Messages}} newest of {{.Stats.Accepted}})</h2>
<table><tr><th>at</th><th>from (phone number id)</th><th>to</th><th>type</th><th>content</th><th>status</th><th>wamid</th><th>our id</th></tr>
{{range .Messages}}<tr><td>{{.At.Format "15:04:05.000"}}</td><td>{{.PhoneNumberID}}</td><td>{{.To}}</td><td>{{.Type}}</td><td>{{.Summary}}</td><td>{{.Status}}</td><td><code>{{.WAMID}}</code></td><td><code>{{.Opaque}}</code></td></tr>
{{end}}</table>
<h2>Webhook calls (newest first)</h2>
<table><tr><th>at</th><th>kind</th><th>ref</th><th>attempt</th><th>HTTP</th><th>error</th></tr>
{{range .Calls}}<tr><td>{{.At.Format "15:04:05.000"}}</td><td>{{.Kind}}</td><td><code>{{.Ref}}</code></td><td>{{.Attempt}}</td><td>{{.Status}}</td><td>{{.Error}}</td></tr>
{{end}}</table>
</body></html>`))

func (s *Sandbox) page(w http.ResponseWriter) {
	msgs := s.Messages()
	slices.Reverse(msgs)
	if len(msgs) > 200 {
		msgs = msgs[:200]
	}
	calls := s.Calls()
	slices.Reverse(calls)
	if len(calls) > 200 {
		calls = calls[:200]
	}
	hook := s.opt.WebhookURL
	if hook == "" {
		hook = "(none)"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, map[string]any{"Messages": msgs, "Calls": calls, "Stats": s.Stats(), "Faults": s.CurrentFaults(), "WebhookURL": hook})
}
