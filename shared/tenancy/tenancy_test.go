package tenancy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/startmsg/chatbackend/shared/apperr"
)

var idRE = regexp.MustCompile(`^([a-z]+)_([a-z2-7]{16})$`)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewID("tok")
		m := idRE.FindStringSubmatch(id)
		if m == nil || m[1] != "tok" {
			t.Fatalf("NewID = %q, want tok_ + 16 base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q after %d", id, i)
		}
		seen[id] = true
	}
	for _, p := range []string{"ten", "ch", "x"} {
		if id := NewID(p); !strings.HasPrefix(id, p+"_") || len(id) != len(p)+17 {
			t.Fatalf("NewID(%q) = %q", p, id)
		}
	}
}

var secretRE = regexp.MustCompile(`^(ct_|sk_)[a-z2-7]{52}$`)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{TokenPrefix, SecretPrefix} {
		for i := 0; i < 1000; i++ {
			s, h := NewSecret(prefix)
			if !strings.HasPrefix(s, prefix) || !secretRE.MatchString(s) {
				t.Fatalf("NewSecret(%q) = %q", prefix, s)
			}
			if h != Hash(s) || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
				t.Fatalf("hash %q of %q", h, s)
			}
			if strings.Contains(h, s) || strings.Contains(s, h) {
				t.Fatal("hash contains the secret")
			}
			if !LooksLikeSecret(s) || !Matches(s, h) {
				t.Fatalf("fresh secret %q does not pass its own checks", s)
			}
			if seen[s] {
				t.Fatalf("duplicate secret %q", s)
			}
			seen[s] = true
		}
	}
}

func TestHash(t *testing.T) {
	// SHA-256 of "abc".
	if got := Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash(abc) = %s", got)
	}
}

func TestMatches(t *testing.T) {
	s, h := NewSecret(TokenPrefix)
	other, otherHash := NewSecret(TokenPrefix)
	cases := []struct {
		name   string
		secret string
		hash   string
		want   bool
	}{
		{"same", s, h, true},
		{"other secret", other, h, false},
		{"other hash", s, otherHash, false},
		{"upper-case hash", s, strings.ToUpper(h), false},
		{"truncated hash", s, h[:63], false},
		{"empty hash", s, "", false},
		{"secret with a trailing space", s + " ", h, false},
		{"empty secret, its hash", "", Hash(""), true},
	}
	for _, c := range cases {
		if got := Matches(c.secret, c.hash); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "••••••••"},
		{"ct_abc", "••••••••"},
		{"ct_12345678", "••••••••"}, // 11 characters
		{"ct_123456789", "ct_…6789"},
		{"sk_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqr", "sk_…opqr"},
		{"noprefixsecretvalue", "…alue"},
	}
	for _, c := range cases {
		if got := Mask(c.in); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for i := 0; i < 1000; i++ {
		for _, p := range []string{TokenPrefix, SecretPrefix} {
			s, _ := NewSecret(p)
			m := Mask(s)
			if m != p+"…"+s[len(s)-4:] {
				t.Fatalf("Mask(%q) = %q", s, m)
			}
			// Nothing of the secret's body but its last four characters.
			body := s[len(p) : len(s)-4]
			if strings.Contains(m, body[len(body)-1:]+s[len(s)-4:]) {
				t.Fatalf("Mask(%q) = %q shows more than four characters", s, m)
			}
		}
	}
}

// FuzzMask: for a secret in the generated shape (a known prefix and a body
// without "_"), the mask shows the prefix and at most the last four
// characters, and never the whole secret.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefghijkl", "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, token bool) {
		if strings.Contains(body, "_") {
			return
		}
		prefix := SecretPrefix
		if token {
			prefix = TokenPrefix
		}
		s := prefix + body
		m := Mask(s)
		if len(s) < 12 {
			if m != "••••••••" {
				t.Fatalf("Mask(%q) = %q", s, m)
			}
			return
		}
		if m != prefix+"…"+s[len(s)-4:] {
			t.Fatalf("Mask(%q) = %q, want prefix … last four", s, m)
		}
		if len(body) > 4 && strings.Contains(m, body) {
			t.Fatalf("Mask(%q) = %q reveals the body", s, m)
		}
	})
}

func TestLooksLikeSecret(t *testing.T) {
	cases := []struct {
		s    string
		want bool
	}{
		{"", false},
		{strings.Repeat("a", 19), false},
		{strings.Repeat("a", 20), true},
		{strings.Repeat("a", 200), true},
		{strings.Repeat("a", 201), false},
		{"ct_" + strings.Repeat("a", 17), true},
		{strings.Repeat("a", 19) + " ", false},
		{" " + strings.Repeat("a", 19), false},
		{strings.Repeat("a", 19) + "\t", false},
		{strings.Repeat("a", 19) + "\x00", false},
		{strings.Repeat("a", 19) + "\x7f", false},
		{strings.Repeat("a", 19) + "~", true},
		{strings.Repeat("a", 19) + "!", true},
		{strings.Repeat("a", 18) + "é", false},
		{strings.Repeat("a", 19) + "\xff", false},
	}
	for _, c := range cases {
		if got := LooksLikeSecret(c.s); got != c.want {
			t.Errorf("LooksLikeSecret(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func FuzzLooksLikeSecret(f *testing.F) {
	f.Add("ct_abcdefghijklmnopqrstuvwxyz")
	f.Add("short")
	f.Add(strings.Repeat("x", 19) + " ")
	f.Fuzz(func(t *testing.T, s string) {
		if !LooksLikeSecret(s) {
			return
		}
		if len(s) < 20 || len(s) > 200 {
			t.Fatalf("%q (%d bytes) accepted", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] > '~' {
				t.Fatalf("%q accepted with byte %#x", s, s[i])
			}
		}
		if strings.TrimSpace(s) != s {
			t.Fatalf("%q accepted with surrounding space", s)
		}
	})
}

func TestParseChannelKind(t *testing.T) {
	for _, k := range ChannelKinds {
		got, err := ParseChannelKind(string(k))
		if err != nil || got != k {
			t.Fatalf("ParseChannelKind(%q) = %q, %v", k, got, err)
		}
	}
	if len(ChannelKinds) != 5 {
		t.Fatalf("ChannelKinds = %v", ChannelKinds)
	}
	for _, s := range []string{"", "SMS", "Viber", " sms", "sms ", "telegram", "whats app"} {
		got, err := ParseChannelKind(s)
		if err == nil || got != "" {
			t.Fatalf("ParseChannelKind(%q) = %q, %v", s, got, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) || !strings.Contains(err.Error(), "messenger, whatsapp, viber, sms, voice") {
			t.Fatalf("error %q does not name the kinds and the input", err)
		}
	}
}

// memStore is an in-memory Store that records what it was given.
type memStore struct {
	tenants  map[string]Tenant
	channels map[string]Channel // by tenant/channel
	tokens   map[string]Token   // by hash
	creds    map[string]Credential

	createdTenantCred Credential
	rotated           struct {
		tenantID, oldHash, mask string
		cred                    Credential
	}
	createdToken     Token
	createdTokenCred Credential
	failWith         error
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{tenants: map[string]Tenant{}, channels: map[string]Channel{}, tokens: map[string]Token{}, creds: map[string]Credential{}}
}

func (m *memStore) CreateTenant(_ context.Context, t Tenant, secret Credential) error {
	if m.failWith != nil {
		return m.failWith
	}
	if _, ok := m.tenants[t.ID]; ok {
		return apperr.Exists("exists")
	}
	m.tenants[t.ID] = t
	m.creds[secret.Hash] = secret
	m.createdTenantCred = secret
	return nil
}

func (m *memStore) GetTenant(_ context.Context, id string) (Tenant, error) {
	t, ok := m.tenants[id]
	if !ok {
		return Tenant{}, apperr.NotFound("Tenant", id)
	}
	return t, nil
}

func (m *memStore) RotateSecret(_ context.Context, tenantID, oldHash string, secret Credential, mask string) error {
	if m.failWith != nil {
		return m.failWith
	}
	t, ok := m.tenants[tenantID]
	if !ok || t.SecretHash != oldHash {
		return apperr.NotFound("Item", "")
	}
	delete(m.creds, oldHash)
	m.creds[secret.Hash] = secret
	t.SecretHash, t.SecretMask = secret.Hash, mask
	m.tenants[tenantID] = t
	m.rotated.tenantID, m.rotated.oldHash, m.rotated.mask, m.rotated.cred = tenantID, oldHash, mask, secret
	return nil
}

func (m *memStore) CreateChannel(_ context.Context, c Channel) error {
	if m.failWith != nil {
		return m.failWith
	}
	if _, ok := m.tenants[c.TenantID]; !ok {
		return apperr.NotFound("Item", "")
	}
	m.channels[c.TenantID+"/"+c.ID] = c
	return nil
}

func (m *memStore) GetChannel(_ context.Context, tenantID, channelID string) (Channel, error) {
	c, ok := m.channels[tenantID+"/"+channelID]
	if !ok {
		return Channel{}, apperr.NotFound("Channel", channelID)
	}
	return c, nil
}

func (m *memStore) ListChannels(_ context.Context, tenantID string) ([]Channel, error) {
	out := []Channel{}
	for _, c := range m.channels {
		if c.TenantID == tenantID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) CreateToken(_ context.Context, t Token, cred Credential) error {
	if m.failWith != nil {
		return m.failWith
	}
	m.tokens[t.Hash] = t
	m.creds[cred.Hash] = cred
	m.createdToken, m.createdTokenCred = t, cred
	return nil
}

func (m *memStore) ListTokens(_ context.Context, tenantID, channelID string) ([]Token, error) {
	out := []Token{}
	for _, t := range m.tokens {
		if t.TenantID == tenantID && t.ChannelID == channelID {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memStore) RevokeToken(_ context.Context, tenantID, channelID, tokenID string) error {
	for h, t := range m.tokens {
		if t.TenantID == tenantID && t.ChannelID == channelID && t.ID == tokenID {
			delete(m.tokens, h)
			delete(m.creds, h)
			return nil
		}
	}
	return apperr.NotFound("Item", "")
}

func (m *memStore) LookupCredential(_ context.Context, hash string) (Credential, error) {
	c, ok := m.creds[hash]
	if !ok {
		return Credential{}, apperr.NotFound("Credential", "")
	}
	return c, nil
}

var serviceNow = time.Unix(1_700_000_000, 0)

func newService() (*Service, *memStore) {
	st := newMemStore()
	return &Service{Store: st, Now: func() time.Time { return serviceNow }}, st
}

func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	ve, ok := apperr.As(err)
	if !ok || ve.Kind != apperr.KindInvalid || ve.Field != field || ve.Problem == "" {
		t.Fatalf("err = %v, want an invalid %q", err, field)
	}
	if !strings.HasPrefix(ve.Message, field+": ") {
		t.Fatalf("Error() = %q", ve.Error())
	}
}

func TestCreateTenant(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"", "   ", "\t\n", strings.Repeat("n", 201)} {
		s, st := newService()
		_, err := s.CreateTenant(ctx, name)
		wantValidation(t, err, "name")
		if len(st.tenants) != 0 {
			t.Fatalf("name %q: tenant stored despite the validation error", name)
		}
	}

	s, st := newService()
	nt, err := s.CreateTenant(ctx, "  Acme Ltd  ")
	if err != nil {
		t.Fatal(err)
	}
	tn := nt.Tenant
	if !strings.HasPrefix(tn.ID, "ten_") || tn.Name != "Acme Ltd" || tn.CreatedAt != serviceNow.Unix() {
		t.Fatalf("tenant %+v", tn)
	}
	if !strings.HasPrefix(nt.AccountSecret, SecretPrefix) || tn.SecretHash != Hash(nt.AccountSecret) || tn.SecretMask != Mask(nt.AccountSecret) {
		t.Fatalf("secret %q, hash %q, mask %q", nt.AccountSecret, tn.SecretHash, tn.SecretMask)
	}
	cred := st.createdTenantCred
	if cred.Hash != Hash(nt.AccountSecret) || cred.Kind != AccountSecret || cred.TenantID != tn.ID || cred.ChannelID != "" || !strings.HasPrefix(cred.ID, "sec_") {
		t.Fatalf("credential %+v", cred)
	}
	if strings.Contains(cred.ID, nt.AccountSecret) || strings.Contains(tn.SecretMask, nt.AccountSecret[3:len(nt.AccountSecret)-4]) {
		t.Fatal("the secret is stored in the clear")
	}
	if got := st.tenants[tn.ID]; got != tn {
		t.Fatalf("stored %+v, returned %+v", got, tn)
	}

	if _, err := s.CreateTenant(ctx, strings.Repeat("n", 200)); err != nil {
		t.Fatalf("200-character name: %v", err)
	}

	s, st = newService()
	st.failWith = errors.New("throttled")
	if _, err := s.CreateTenant(ctx, "Acme"); err == nil || err.Error() != "throttled" {
		t.Fatalf("store error not returned: %v", err)
	}
}

func TestCreateChannel(t *testing.T) {
	ctx := context.Background()
	s, st := newService()
	nt, err := s.CreateTenant(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	tid := nt.Tenant.ID

	bad := []struct {
		name  string
		in    ChannelInput
		field string
	}{
		{"no kind", ChannelInput{Name: "n"}, "kind"},
		{"unknown kind", ChannelInput{Kind: "telegram", Name: "n"}, "kind"},
		{"upper-case kind", ChannelInput{Kind: "SMS", Name: "n"}, "kind"},
		{"no name", ChannelInput{Kind: "sms"}, "name"},
		{"blank name", ChannelInput{Kind: "sms", Name: "  "}, "name"},
		{"long name", ChannelInput{Kind: "sms", Name: strings.Repeat("n", 201)}, "name"},
		{"three-letter country", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "USA"}, "default_country"},
		{"digit country", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "U1"}, "default_country"},
		{"one-letter country", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "U"}, "default_country"},
		{"non-ASCII country", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "ÜS"}, "default_country"},
		{"no country", ChannelInput{Kind: "voice", Name: "n"}, "default_country"},
		{"blank country", ChannelInput{Kind: "messenger", Name: "n", DefaultCountry: "  "}, "default_country"},
		{"unknown region ZZ", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "ZZ"}, "default_country"},
		{"UK is not a region code", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "uk"}, "default_country"},
		{"non-geographic 001", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "001"}, "default_country"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.CreateChannel(ctx, tid, c.in)
			wantValidation(t, err, c.field)
			if len(st.channels) != 0 {
				t.Fatal("channel stored despite the validation error")
			}
		})
	}
	t.Run("kind error names the kinds", func(t *testing.T) {
		_, err := s.CreateChannel(ctx, tid, ChannelInput{Kind: "fax", Name: "n"})
		if err == nil || err.Error() != `kind: must be one of messenger, whatsapp, viber, sms, voice, not "fax".` {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("unknown tenant", func(t *testing.T) {
		_, err := s.CreateChannel(ctx, "ten_missing", ChannelInput{Kind: "sms", Name: "n", DefaultCountry: "US"})
		if !apperr.Is(err, apperr.KindNotFound) {
			t.Fatalf("err = %v, want a not-found error", err)
		}
	})

	good := []struct {
		in          ChannelInput
		wantCountry string
	}{
		{ChannelInput{Kind: "viber", Name: " Main ", DefaultCountry: " us "}, "US"},
		{ChannelInput{Kind: "whatsapp", Name: "Main", DefaultCountry: "gB"}, "GB"},
		{ChannelInput{Kind: "sms", Name: "Main", DefaultCountry: "DE"}, "DE"},
		{ChannelInput{Kind: "voice", Name: "Main", DefaultCountry: "pk"}, "PK"},
		{ChannelInput{Kind: "messenger", Name: strings.Repeat("n", 200), DefaultCountry: " IL"}, "IL"},
	}
	for _, c := range good {
		t.Run("ok "+c.in.Kind, func(t *testing.T) {
			ch, err := s.CreateChannel(ctx, tid, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ch.ID, "ch_") || ch.TenantID != tid || string(ch.Kind) != c.in.Kind || ch.Name != strings.TrimSpace(c.in.Name) ||
				ch.DefaultCountry != c.wantCountry || ch.CreatedAt != serviceNow.Unix() {
				t.Fatalf("channel %+v", ch)
			}
			if st.channels[tid+"/"+ch.ID] != ch {
				t.Fatalf("stored %+v", st.channels[tid+"/"+ch.ID])
			}
		})
	}
}

func TestCreateToken(t *testing.T) {
	ctx := context.Background()
	s, st := newService()
	nt, _ := s.CreateTenant(ctx, "Acme")
	tid := nt.Tenant.ID
	ch, err := s.CreateChannel(ctx, tid, ChannelInput{Kind: "whatsapp", Name: "Main", DefaultCountry: "gb"})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.CreateToken(ctx, tid, "ch_missing", "zapier"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
	if _, err := s.CreateToken(ctx, "ten_other", ch.ID, "zapier"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("channel of another tenant: %v", err)
	}
	_, err = s.CreateToken(ctx, tid, ch.ID, strings.Repeat("n", 201))
	wantValidation(t, err, "name")
	if len(st.tokens) != 0 {
		t.Fatal("token stored on a failure")
	}

	tok, err := s.CreateToken(ctx, tid, ch.ID, "  zapier ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Secret, TokenPrefix) || !LooksLikeSecret(tok.Secret) {
		t.Fatalf("secret %q", tok.Secret)
	}
	if st.createdToken.Hash != Hash(tok.Secret) || st.createdTokenCred.Hash != Hash(tok.Secret) {
		t.Fatalf("store received hashes %q / %q, want Hash(secret) %q", st.createdToken.Hash, st.createdTokenCred.Hash, Hash(tok.Secret))
	}
	if st.createdToken.Mask != Mask(tok.Secret) || tok.Mask != Mask(tok.Secret) {
		t.Fatalf("mask %q", st.createdToken.Mask)
	}
	if tok.Name != "zapier" || tok.TenantID != tid || tok.ChannelID != ch.ID || !strings.HasPrefix(tok.ID, "tok_") || tok.CreatedAt != serviceNow.Unix() {
		t.Fatalf("token %+v", tok.Token)
	}
	cred := st.createdTokenCred
	want := Credential{Hash: Hash(tok.Secret), Kind: ChannelToken, ID: tok.ID, TenantID: tid, ChannelID: ch.ID, ChannelKind: WhatsApp, DefaultCountry: "GB"}
	if cred != want {
		t.Fatalf("credential %+v, want %+v", cred, want)
	}
	// The stored credential resolves the secret, as the authorizer does.
	if got, err := st.LookupCredential(ctx, Hash(tok.Secret)); err != nil || !Matches(tok.Secret, got.Hash) {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := s.CreateToken(ctx, tid, ch.ID, ""); err != nil {
		t.Fatalf("unnamed token: %v", err)
	}
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()
	s, st := newService()
	if _, err := s.RotateSecret(ctx, "ten_missing"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	nt, _ := s.CreateTenant(ctx, "Acme")
	oldSecret, oldHash := nt.AccountSecret, nt.Tenant.SecretHash

	rot, err := s.RotateSecret(ctx, nt.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.AccountSecret == oldSecret || !strings.HasPrefix(rot.AccountSecret, SecretPrefix) {
		t.Fatalf("new secret %q (old %q)", rot.AccountSecret, oldSecret)
	}
	if st.rotated.tenantID != nt.Tenant.ID || st.rotated.oldHash != oldHash {
		t.Fatalf("store got tenant %q old hash %q, want %q %q", st.rotated.tenantID, st.rotated.oldHash, nt.Tenant.ID, oldHash)
	}
	newHash := Hash(rot.AccountSecret)
	if st.rotated.cred != (Credential{Hash: newHash, Kind: AccountSecret, ID: "sec_" + newHash[:16], TenantID: nt.Tenant.ID}) {
		t.Fatalf("credential %+v", st.rotated.cred)
	}
	if st.rotated.mask != Mask(rot.AccountSecret) || rot.Tenant.SecretMask != Mask(rot.AccountSecret) || rot.Tenant.SecretHash != newHash {
		t.Fatalf("mask %q, tenant %+v", st.rotated.mask, rot.Tenant)
	}
	if rot.Tenant.ID != nt.Tenant.ID || rot.Tenant.Name != "Acme" || rot.Tenant.CreatedAt != nt.Tenant.CreatedAt {
		t.Fatalf("tenant changed: %+v", rot.Tenant)
	}
	if _, err := st.LookupCredential(ctx, oldHash); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatal("old secret still resolves")
	}

	// A second rotation passes the first rotation's hash.
	rot2, err := s.RotateSecret(ctx, nt.Tenant.ID)
	if err != nil || st.rotated.oldHash != newHash || rot2.AccountSecret == rot.AccountSecret {
		t.Fatalf("second rotation: %v, old hash %q", err, st.rotated.oldHash)
	}

	st.failWith = errors.New("condition failed")
	if _, err := s.RotateSecret(ctx, nt.Tenant.ID); err == nil {
		t.Fatal("store error swallowed")
	}
}

func TestCreateTenantMultiByteName(t *testing.T) {
	// A 100-character, 200-byte name is at the limit and kept whole.
	s, _ := newService()
	name := strings.Repeat("é", 100) // 200 bytes
	nt, err := s.CreateTenant(context.Background(), name)
	if err != nil || nt.Tenant.Name != name || !utf8.ValidString(nt.Tenant.Name) {
		t.Fatalf("%v %q", err, nt.Tenant.Name)
	}
}
