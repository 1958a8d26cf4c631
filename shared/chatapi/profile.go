package chatapi

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// ProfileBody is POST /instance{id}/me's body: the fields to set. An empty
// string (or no websites) leaves a field as it is, as the seed's own body
// sends "email": "" and "vertical": "".
type ProfileBody struct {
	About       string   `json:"about,omitempty"`
	Address     string   `json:"address,omitempty"`
	Description string   `json:"description,omitempty"`
	Email       string   `json:"email,omitempty"`
	Vertical    string   `json:"vertical,omitempty"`
	Websites    []string `json:"websites,omitempty"`
}

// ProfileSet is POST /instance{id}/me's answer: the profile afterwards.
type ProfileSet struct {
	Set     bool    `json:"set"`
	Profile Profile `json:"profile"`
}

// WhatsApp's business profile limits.
const (
	MaxAbout       = 139
	MaxAddress     = 256
	MaxDescription = 512
	MaxEmail       = 128
	MaxWebsites    = 2
	MaxWebsite     = 256
)

// Verticals are Meta's business verticals (WhatsAppBusinessVertical).
var Verticals = []string{"OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY",
	"GOVT", "HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "ALCOHOL",
	"ONLINE_GAMBLING", "PHYSICAL_GAMBLING", "OTC_DRUGS"}

// CheckProfile validates an update with WhatsApp's limits and returns it
// in canonical form (vertical in capitals, fields trimmed).
func CheckProfile(in ProfileBody) (Profile, error) {
	p := Profile{About: strings.TrimSpace(in.About), Address: strings.TrimSpace(in.Address),
		Description: strings.TrimSpace(in.Description), Email: strings.TrimSpace(in.Email),
		Vertical: strings.ToUpper(strings.TrimSpace(in.Vertical))}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"about", p.About, MaxAbout}, {"address", p.Address, MaxAddress}, {"description", p.Description, MaxDescription}, {"email", p.Email, MaxEmail}} {
		if n := utf8.RuneCountInString(f.v); n > f.max {
			return Profile{}, apperr.Invalidf(f.name, "must be at most %d characters, not %d", f.max, n)
		}
	}
	if p.Email != "" {
		a, err := mail.ParseAddress(p.Email)
		if err != nil || a.Address != p.Email || !strings.Contains(p.Email[strings.LastIndex(p.Email, "@"):], ".") {
			return Profile{}, apperr.Invalidf("email", "%q is not a valid email address", p.Email)
		}
	}
	if p.Vertical != "" && !slices.Contains(Verticals, p.Vertical) {
		return Profile{}, apperr.Invalidf("vertical", "must be one of %s, not %q", strings.Join(Verticals, ", "), in.Vertical)
	}
	if len(in.Websites) > MaxWebsites {
		return Profile{}, apperr.Invalidf("websites", "may hold at most %d URLs, not %d", MaxWebsites, len(in.Websites))
	}
	for i, raw := range in.Websites {
		f := fmt.Sprintf("websites[%d]", i)
		s := strings.TrimSpace(raw)
		if len(s) > MaxWebsite {
			return Profile{}, apperr.Invalidf(f, "must be at most %d characters", MaxWebsite)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Profile{}, apperr.Invalidf(f, "must be an http or https URL, not %q", raw)
		}
		p.Websites = append(p.Websites, s)
	}
	if p.About == "" && p.Address == "" && p.Description == "" && p.Email == "" && p.Vertical == "" && len(p.Websites) == 0 {
		return Profile{}, apperr.BadRequest("Request body must set at least one of about, address, description, email, vertical, websites (an empty string leaves a field as it is).")
	}
	return p, nil
}

func (a *API) meGet(w http.ResponseWriter, r *http.Request, c call) error {
	p, err := a.p.ChatProfiles().GetProfile(r.Context(), c.tenantID, c.channelID)
	if err != nil {
		return err
	}
	if p.Websites == nil {
		p.Websites = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) meSet(w http.ResponseWriter, r *http.Request, c call) error {
	var in ProfileBody
	if err := httpapi.DecodeJSON(r, &in, true); err != nil {
		return err
	}
	u, err := CheckProfile(in)
	if err != nil {
		return err
	}
	p, err := a.p.ChatProfiles().SetProfile(r.Context(), c.tenantID, c.channelID, u)
	if err != nil {
		return err
	}
	if p.Websites == nil {
		p.Websites = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, ProfileSet{Set: true, Profile: p})
	return nil
}
