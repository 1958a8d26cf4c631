package automations

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/messages"
)

// Limits of an automation's shape (beyond MaxNodes).
const (
	MaxName        = 128                   // characters of an automation's name
	MaxNodeID      = 32                    // bytes of a node's ID: [A-Za-z0-9_-]
	MaxWaitSeconds = 30 * 24 * 60 * 60     // a wait's longest duration: 30 days
	MaxTriggers    = 20                    // triggers of one automation
	MaxTextChars   = messages.MaxTextChars // a send_message node's text (4,096)
	MaxTagChars    = contacts.MaxTagLength // a tag, as the Contacts API takes it
	MaxValueChars  = contacts.MaxValueLength
	MaxIDBytes     = 64 // a channel's or connection's ID after its prefix
)

// Validate checks an automation's shape and fills its defaults in place:
// the name trimmed (1 to MaxName characters), nil Nodes and Triggers made
// empty, a node without an ID named "n<position from 1>", tags trimmed. It
// reads nothing: whether the channels, templates, connections and custom
// fields the nodes name exist is CheckRefs'.
//
// An automation may have no node (a draft: it is stored, but enrolling a
// contact in it is refused). Every node has its type's fields and no
// other's (Node's doc says which), IDs are unique, and a condition's Then
// and Else name nodes of the automation. Triggers name one of the
// connector's trigger fields (connections.Triggers) and optionally a
// channel, each (field, channel) once.
//
// The error is an apperr.KindInvalid (400) whose message names the node
// and its field: "nodes[2] (n3): template.name is required.".
func Validate(a *Automation) error {
	a.Name = strings.TrimSpace(a.Name)
	switch n := utf8.RuneCountInString(a.Name); {
	case n == 0:
		return apperr.Invalid("name", "is required")
	case n > MaxName:
		return apperr.Invalidf("name", "is %d characters long; at most %d", n, MaxName)
	case !utf8.ValidString(a.Name):
		return apperr.Invalid("name", "is not valid UTF-8")
	}
	if a.Nodes == nil {
		a.Nodes = []Node{}
	}
	if a.Triggers == nil {
		a.Triggers = []Trigger{}
	}
	if len(a.Nodes) > MaxNodes {
		return apperr.Invalidf("nodes", "has %d nodes; an automation has at most %d", len(a.Nodes), MaxNodes)
	}
	seen := make(map[string]int, len(a.Nodes))
	for i := range a.Nodes {
		n := &a.Nodes[i]
		if n.ID == "" {
			n.ID = "n" + strconv.Itoa(i+1)
		}
		if !ValidNodeID(n.ID) {
			return &apperr.Error{Kind: apperr.KindInvalid, Field: fmt.Sprintf("nodes[%d].id", i), Problem: "bad ID",
				Message: fmt.Sprintf("nodes[%d]: id %q must be 1 to %d letters, digits, '_' and '-'.", i, clip(n.ID), MaxNodeID)}
		}
		if j, dup := seen[n.ID]; dup {
			return nodeErr(i, *n, "id", fmt.Sprintf("is also nodes[%d]'s ID: node IDs are unique (a node without one is named n<position>)", j))
		}
		seen[n.ID] = i
	}
	for i := range a.Nodes {
		if err := validateNode(a, i); err != nil {
			return err
		}
	}
	if len(a.Triggers) > MaxTriggers {
		return apperr.Invalidf("triggers", "has %d triggers; at most %d", len(a.Triggers), MaxTriggers)
	}
	type trig struct{ field, channel string }
	seenTrig := map[trig]int{}
	for i, t := range a.Triggers {
		f := fmt.Sprintf("triggers[%d]", i)
		switch {
		case t.Field == "":
			return apperr.Invalidf(f+".field", "is required: one of %s", triggerNames())
		case !slices.Contains(connections.Triggers, connections.Trigger(t.Field)):
			return apperr.Invalidf(f+".field", "must be one of %s, not %q", triggerNames(), clip(t.Field))
		case t.ChannelID != "" && !ValidPrefixedID("ch_", t.ChannelID):
			return apperr.Invalidf(f+".channel_id", "%q is not a channel ID (ch_ and 1 to %d lower-case letters and digits)", clip(t.ChannelID), MaxIDBytes)
		}
		k := trig{t.Field, t.ChannelID}
		if j, dup := seenTrig[k]; dup {
			return apperr.Invalidf(f, "is the same as triggers[%d]", j)
		}
		seenTrig[k] = i
	}
	return nil
}

// validateNode checks node i of a (its ID already checked).
func validateNode(a *Automation, i int) error {
	n := &a.Nodes[i]
	// used lists the fields the node's type takes; any other that is set
	// is refused.
	var used []string
	switch n.Type {
	case NodeSendMessage:
		used = []string{"channel_id", "text", "template"}
		if err := checkChannelRef(i, *n); err != nil {
			return err
		}
		switch {
		case n.Text == "" && n.Template == nil:
			return nodeErr(i, *n, "text", "or template is required (a send_message node sends one of them)")
		case n.Text != "" && n.Template != nil:
			return nodeErr(i, *n, "text", "and template are both set: give one of them")
		case n.Template != nil:
			if err := checkTemplate(i, *n); err != nil {
				return err
			}
		default:
			if strings.TrimSpace(n.Text) == "" {
				return nodeErr(i, *n, "text", "is blank")
			}
			if c := utf8.RuneCountInString(n.Text); c > MaxTextChars {
				return nodeErr(i, *n, "text", fmt.Sprintf("is %d characters long; at most %d", c, MaxTextChars))
			}
		}
	case NodeWait:
		used = []string{"seconds", "until"}
		switch {
		case n.Seconds == 0 && n.Until == "":
			return nodeErr(i, *n, "seconds", "or until is required (a duration, or a time of day \"HH:MM\")")
		case n.Seconds != 0 && n.Until != "":
			return nodeErr(i, *n, "seconds", "and until are both set: give one of them")
		case n.Until != "":
			if !validClock(n.Until) {
				return nodeErr(i, *n, "until", fmt.Sprintf("%q is not a time of day as HH:MM (00:00 to 23:59)", clip(n.Until)))
			}
		case n.Seconds < 1 || n.Seconds > MaxWaitSeconds:
			return nodeErr(i, *n, "seconds", fmt.Sprintf("must be 1 to %d (30 days), not %d", MaxWaitSeconds, n.Seconds))
		}
	case NodeAddTag, NodeRemoveTag:
		used = []string{"tag"}
		n.Tag = strings.TrimSpace(n.Tag)
		if c := utf8.RuneCountInString(n.Tag); c == 0 || c > MaxTagChars {
			return nodeErr(i, *n, "tag", fmt.Sprintf("must be 1 to %d characters", MaxTagChars))
		}
	case NodeSetField:
		used = []string{"field", "value"}
		if err := checkFieldRef(i, *n, true); err != nil {
			return err
		}
		if c := utf8.RuneCountInString(n.Value); c > MaxValueChars {
			return nodeErr(i, *n, "value", fmt.Sprintf("is %d characters long; at most %d", c, MaxValueChars))
		}
	case NodeCallConnection:
		used = []string{"connection_id"}
		switch {
		case n.ConnectionID == "":
			return nodeErr(i, *n, "connection_id", "is required")
		case !ValidPrefixedID("conn_", n.ConnectionID):
			return nodeErr(i, *n, "connection_id", fmt.Sprintf("%q is not a connection ID (conn_ and 1 to %d lower-case letters and digits)", clip(n.ConnectionID), MaxIDBytes))
		}
	case NodeCondition:
		used = []string{"field", "op", "value", "then", "else"}
		if err := checkFieldRef(i, *n, false); err != nil {
			return err
		}
		switch n.Op {
		case "":
			return nodeErr(i, *n, "op", "is required: one of "+strings.Join(Ops, ", "))
		case OpEquals, OpNotEquals, OpContains:
			if n.Value == "" {
				return nodeErr(i, *n, "value", "is required for op "+n.Op)
			}
		case OpIsSet, OpIsNotSet:
			if n.Value != "" {
				return nodeErr(i, *n, "value", "is not used by op "+n.Op+": leave it out")
			}
		default:
			return nodeErr(i, *n, "op", fmt.Sprintf("must be one of %s, not %q", strings.Join(Ops, ", "), clip(n.Op)))
		}
		if c := utf8.RuneCountInString(n.Value); c > MaxValueChars {
			return nodeErr(i, *n, "value", fmt.Sprintf("is %d characters long; at most %d", c, MaxValueChars))
		}
		for _, b := range []struct{ name, to string }{{"then", n.Then}, {"else", n.Else}} {
			if b.to == "" {
				continue
			}
			if _, ok := a.Node(b.to); !ok {
				return nodeErr(i, *n, b.name, fmt.Sprintf("names node %q, which this automation does not have", clip(b.to)))
			}
		}
	case "":
		return nodeErr(i, *n, "type", "is required: one of "+nodeTypeNames())
	default:
		return nodeErr(i, *n, "type", fmt.Sprintf("must be one of %s, not %q", nodeTypeNames(), clip(string(n.Type))))
	}
	for _, f := range setFields(*n) {
		if !slices.Contains(used, f) {
			return nodeErr(i, *n, f, fmt.Sprintf("is not a field of a %s node (it takes %s)", n.Type, strings.Join(used, ", ")))
		}
	}
	return nil
}

// setFields lists the type-specific fields of n that are set.
func setFields(n Node) []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("channel_id", n.ChannelID != "")
	add("text", n.Text != "")
	add("template", n.Template != nil)
	add("seconds", n.Seconds != 0)
	add("until", n.Until != "")
	add("tag", n.Tag != "")
	add("field", n.Field != "")
	add("value", n.Value != "")
	add("connection_id", n.ConnectionID != "")
	add("op", n.Op != "")
	add("then", n.Then != "")
	add("else", n.Else != "")
	return out
}

func checkChannelRef(i int, n Node) error {
	switch {
	case n.ChannelID == "":
		return nodeErr(i, n, "channel_id", "is required (the channel the message is sent on)")
	case !ValidPrefixedID("ch_", n.ChannelID):
		return nodeErr(i, n, "channel_id", fmt.Sprintf("%q is not a channel ID (ch_ and 1 to %d lower-case letters and digits)", clip(n.ChannelID), MaxIDBytes))
	}
	return nil
}

// checkTemplate checks a template reference's shape as POST /v1/messages
// checks a template message's (messages.SendRequest.Validate).
func checkTemplate(i int, n Node) error {
	t := n.Template
	switch {
	case t.Name == "":
		return nodeErr(i, n, "template.name", "is required")
	case t.Language == "":
		return nodeErr(i, n, "template.language", "is required (a language code such as en or en_US)")
	}
	req := messages.SendRequest{To: "x", Type: messages.TypeTemplate,
		Template: &messages.TemplateInput{Name: t.Name, Language: t.Language, Params: t.Params}}
	if err := req.Validate(); err != nil {
		if e, ok := apperr.As(err); ok && e.Field != "" {
			return nodeErr(i, n, e.Field, e.Problem)
		}
		return nodeErr(i, n, "template", err.Error())
	}
	return nil
}

// checkFieldRef checks a set_field's or condition's field: a standard
// field's name (set_field: one the API may write) or a custom field's ID.
func checkFieldRef(i int, n Node, write bool) error {
	if n.Field == "" {
		return nodeErr(i, n, "field", "is required: a standard field's name or a custom field's ID")
	}
	if IsCustomFieldID(n.Field) {
		return nil
	}
	std, ok := contacts.StandardByName(n.Field)
	if !ok {
		return nodeErr(i, n, "field", fmt.Sprintf("%q is neither a standard field (%s) nor a custom field's ID (digits)", clip(n.Field), standardNames(false)))
	}
	if write && !std.Writable {
		return nodeErr(i, n, "field", fmt.Sprintf("%s is set by the messaging platform; set_field sets %s or a custom field", std.Name, standardNames(true)))
	}
	return nil
}

// IsCustomFieldID reports whether s has the shape of a custom field's ID
// (1 to 10 digits).
func IsCustomFieldID(s string) bool {
	return len(s) >= 1 && len(s) <= 10 && strings.Trim(s, "0123456789") == ""
}

// ValidNodeID reports whether id may name a node: 1 to MaxNodeID letters,
// digits, '_' and '-'.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > MaxNodeID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidPrefixedID reports whether id is prefix and 1 to MaxIDBytes
// lower-case letters and digits: the shape of the project's IDs (ch_,
// conn_, aut_...).
func ValidPrefixedID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(rest) > MaxIDBytes {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validClock reports whether s is "HH:MM", 00:00 to 23:59.
func validClock(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	return err1 == nil && err2 == nil && s[0] != '+' && s[3] != '+' && h >= 0 && h <= 23 && m >= 0 && m <= 59
}

// nodeErr is an apperr.KindInvalid about field of node i:
// "nodes[2] (n3): template.name is required.".
func nodeErr(i int, n Node, field, problem string) *apperr.Error {
	return nodeError(apperr.KindInvalid, i, n, field, problem)
}

func nodeError(k apperr.Kind, i int, n Node, field, problem string) *apperr.Error {
	p := strings.TrimSuffix(strings.TrimSpace(problem), ".")
	return &apperr.Error{Kind: k, Field: fmt.Sprintf("nodes[%d].%s", i, field), Problem: p,
		Message: fmt.Sprintf("nodes[%d] (%s): %s %s.", i, n.ID, field, p)}
}

func nodeTypeNames() string {
	names := make([]string, len(NodeTypes))
	for i, t := range NodeTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func triggerNames() string {
	names := make([]string, len(connections.Triggers))
	for i, t := range connections.Triggers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func standardNames(writable bool) string {
	var names []string
	for _, f := range contacts.Standard {
		if !writable || f.Writable {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
