package whatsapp

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Profile is a business phone number's WhatsApp business profile (Meta's
// WhatsAppBusinessProfile). On update an empty string leaves a field as
// it is, and so do nil Websites.
type Profile struct {
	About             string   `json:"about,omitempty"`
	Address           string   `json:"address,omitempty"`
	Description       string   `json:"description,omitempty"`
	Email             string   `json:"email,omitempty"`
	Vertical          string   `json:"vertical,omitempty"`
	Websites          []string `json:"websites,omitempty"`
	ProfilePictureURL string   `json:"profile_picture_url,omitempty"` // read only
}

// WhatsApp's limits on a profile, in characters.
const (
	MaxAbout       = 139
	MaxAddress     = 256
	MaxDescription = 512 // Meta's reference page; its OpenAPI description says 256
	MaxEmail       = 128
	MaxWebsites    = 2
	MaxWebsite     = 256
)

// Verticals are the industries a profile may name (Meta's
// WhatsAppBusinessVertical).
var Verticals = []string{
	"OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY", "GOVT", "HOTEL",
	"HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "ALCOHOL", "ONLINE_GAMBLING",
	"PHYSICAL_GAMBLING", "OTC_DRUGS",
}

// FieldError names the profile or template field that breaks a rule.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Unwrap makes a FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks p against WhatsApp's limits, naming the first field
// that breaks one (a *FieldError, which wraps ErrInvalid).
func (p Profile) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"about", p.About, MaxAbout}, {"address", p.Address, MaxAddress}, {"description", p.Description, MaxDescription}, {"email", p.Email, MaxEmail}} {
		if !utf8.ValidString(f.v) {
			return &FieldError{f.name, "is not valid UTF-8"}
		}
		if n := utf8.RuneCountInString(f.v); n > f.max {
			return &FieldError{f.name, fmt.Sprintf("is %d characters, over WhatsApp's %d", n, f.max)}
		}
	}
	if p.Email != "" {
		a, err := mail.ParseAddress(p.Email)
		if err != nil || a.Address != p.Email || a.Name != "" || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
			return &FieldError{"email", fmt.Sprintf("%q is not an email address", p.Email)}
		}
	}
	if p.Vertical != "" && !slices.Contains(Verticals, p.Vertical) {
		return &FieldError{"vertical", fmt.Sprintf("%q is not one of WhatsApp's verticals (%s)", p.Vertical, strings.Join(Verticals, ", "))}
	}
	if len(p.Websites) > MaxWebsites {
		return &FieldError{"websites", fmt.Sprintf("%d websites, over WhatsApp's %d", len(p.Websites), MaxWebsites)}
	}
	for i, w := range p.Websites {
		u, err := url.Parse(w)
		field := fmt.Sprintf("websites[%d]", i)
		switch {
		case utf8.RuneCountInString(w) > MaxWebsite:
			return &FieldError{field, fmt.Sprintf("is over WhatsApp's %d characters", MaxWebsite)}
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return &FieldError{field, fmt.Sprintf("%q is not an http:// or https:// URL", w)}
		}
	}
	return nil
}

// ProfileFields are the fields GetProfile asks for.
const ProfileFields = "about,address,description,email,profile_picture_url,websites,vertical"

// profileAnswer reads both forms of the GET answer: the flat one Meta's
// reference page shows and the API gives ({"data":[{"about":...}]}), and
// the one its OpenAPI description declares ({"data":[{"business_profile":
// {...}}]}).
type profileAnswer struct {
	Data []struct {
		Profile
		BusinessProfile *Profile `json:"business_profile"`
	} `json:"data"`
}

// GetProfile reads the business profile of the credentials' phone number.
func (c *Client) GetProfile(ctx context.Context, cr Credentials) (Profile, error) {
	if err := checkID("phone_number_id", cr.PhoneNumberID); err != nil {
		return Profile{}, err
	}
	var out profileAnswer
	q := url.Values{"fields": {ProfileFields}}
	if err := c.call(ctx, cr, "GET", "/"+cr.PhoneNumberID+"/whatsapp_business_profile", q, nil, &out); err != nil {
		return Profile{}, err
	}
	if len(out.Data) == 0 {
		return Profile{}, nil
	}
	if bp := out.Data[0].BusinessProfile; bp != nil {
		return *bp, nil
	}
	return out.Data[0].Profile, nil
}

// ProfileUpdate is the body of a profile update (Meta's
// WhatsAppBusinessProfileUpdateRequest).
type ProfileUpdate struct {
	MessagingProduct string `json:"messaging_product"`
	Profile
}

// UpdateProfile sets the fields of p that are not empty, after checking
// them against WhatsApp's limits (a *FieldError, sent nowhere).
func (c *Client) UpdateProfile(ctx context.Context, cr Credentials, p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := checkID("phone_number_id", cr.PhoneNumberID); err != nil {
		return err
	}
	p.ProfilePictureURL = "" // read only
	var out struct {
		Success bool `json:"success"`
	}
	if err := c.call(ctx, cr, "POST", "/"+cr.PhoneNumberID+"/whatsapp_business_profile", nil, ProfileUpdate{"whatsapp", p}, &out); err != nil {
		return err
	}
	if !out.Success {
		return &Error{HTTPStatus: 200, Message: "the profile update answered success false"}
	}
	return nil
}
