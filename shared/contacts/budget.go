package contacts

import "github.com/startmsg/chatbackend/shared/apperr"

// MaxContactBytes is a contact's byte budget: its stored item and its
// search entries together, as DynamoDB counts item sizes (attribute names
// and values, in UTF-8 bytes). It is well under DynamoDB's 400 KB item
// limit, which the API's own per-value limits alone do not keep: 88 custom
// values of 1,024 four-byte characters are 360 KB before any tag. A write
// that would take a contact over it is refused before anything is written.
const MaxContactBytes = 256 << 10

// The sizes StoredBytes adds for what it does not spell out: DynamoDB
// counts a number as up to 21 bytes, a map or list as 3 bytes plus 1 per
// element; an index entry holds four keys of about its contact's key size.
const (
	numberBytes      = 21
	containerBytes   = 3
	indexKeyOverhead = 64  // "IDX#", separators, field key, attribute names
	maxIndexValue    = 200 // longer value keys are hashed in index keys (ddbstore)
)

// StoredBytes is an upper estimate of the bytes c takes in the store: the
// contact item (every attribute's name and value) and one search entry per
// search term.
func StoredBytes(c Contact) int {
	n := len("PK") + len("CONTACT#") + len(c.TenantID) + 1 + len(c.ID) + len("SK") + len("CONTACT")
	if c.ChannelID != "" {
		n += 1 + len(c.ChannelID) // a channel's contact: SK CONTACT#<channel>
	}
	n += len("id") + len(c.ID) + len("tenant_id") + len(c.TenantID) + len("channel_id") + len(c.ChannelID)
	n += len("fields") + mapBytes(c.Fields) + len("custom") + mapBytes(c.Custom)
	n += len("tags") + containerBytes
	for _, t := range c.Tags {
		n += len(t) + 1
	}
	n += len("opportunity") + 1 + len("created_at") + numberBytes + len("updated_at") + numberBytes + len("version") + numberBytes
	n += len("last_inbound") + containerBytes
	for k := range c.LastInbound {
		n += len(k) + numberBytes + 1
	}
	if e := c.LastEvent; e != nil {
		n += len("last_event") + containerBytes + len("kind") + len(e.Kind) + len("postback_id") + len(e.PostbackID) +
			len("webview_form_id") + len(e.WebviewFormID) + len("location") + len(e.Location) +
			len("at") + numberBytes + len("seq") + len(e.Seq)
	}
	for field, value := range SearchTerms(c) {
		v := min(len(value), maxIndexValue)
		pk := indexKeyOverhead + len(c.TenantID) + len(c.ChannelID) + len(field) + v
		sk := 11 + len(c.ID)
		n += 2*pk + 2*sk
	}
	return n
}

func mapBytes(m map[string]string) int {
	n := containerBytes
	for k, v := range m {
		n += len(k) + len(v) + 1
	}
	return n
}

// withinBudget refuses a contact over MaxContactBytes, naming the budget.
func withinBudget(c Contact) error {
	if n := StoredBytes(c); n > MaxContactBytes {
		return apperr.TooLarge("This change would make the contact %d bytes, over a contact's budget of %d bytes (256 KB: its fields, tags and search entries together); clear values or remove tags first.", n, MaxContactBytes)
	}
	return nil
}
