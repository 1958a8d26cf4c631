package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's published test vector.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	got, err := Sign([]string{specSecret}, specID, time.Unix(specTimestamp, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("Sign = %q, want the specification's %q", got, specSignature)
	}
}

// independentSignature computes a v1 signature here, step by step, without
// the package's helpers.
func independentSignature(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignMatchesIndependentHMAC(t *testing.T) {
	if got := independentSignature(t, specSecret, specID, specTimestamp, specBody); got != specSignature {
		t.Fatalf("independent computation %q disagrees with the spec %q", got, specSignature)
	}
	a, b := NewSecret(), NewSecret()
	ts := time.Unix(1700000000, 999_000_000) // fractions are dropped
	body := `{"email":"a@b.c","first_name":"Zoë"}`
	got, err := Sign([]string{a, b}, "dlv_1", ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := independentSignature(t, a, "dlv_1", 1700000000, body) + " " + independentSignature(t, b, "dlv_1", 1700000000, body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSignErrors(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    error
	}{
		{"none", nil, ErrNoSecret},
		{"no prefix", []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, ErrInvalidSecret},
		{"not base64", []string{"whsec_!!!"}, ErrInvalidSecret},
		{"too short", []string{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))}, ErrInvalidSecret},
		{"too long", []string{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))}, ErrInvalidSecret},
		{"second bad", []string{specSecret, "whsec_"}, ErrInvalidSecret},
	}
	for _, tt := range tests {
		if _, err := Sign(tt.secrets, "id", time.Now(), nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: Sign error %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	s := NewSecret()
	key, err := decodeSecret(s)
	if err != nil || len(key) < 24 {
		t.Fatalf("NewSecret() = %q: %v (%d bytes)", s, err, len(key))
	}
	if s == NewSecret() {
		t.Fatal("NewSecret repeated itself")
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(specTimestamp, 0)
	ts := fmt.Sprint(specTimestamp)
	other := NewSecret()
	otherSig, _ := Sign([]string{other}, specID, now, []byte(specBody))
	tol := 5 * time.Minute
	tests := []struct {
		name, secret, id, ts, sig, body string
		now                             time.Time
		want                            error // nil: valid
	}{
		{"spec vector", specSecret, specID, ts, specSignature, specBody, now, nil},
		{"among others", specSecret, specID, ts, "v1a,xyz v2,abc " + otherSig + " " + specSignature, specBody, now, nil},
		{"rotated: old secret", other, specID, ts, specSignature + " " + otherSig, specBody, now, nil},
		{"within tolerance late", specSecret, specID, ts, specSignature, specBody, now.Add(tol), nil},
		{"within tolerance early", specSecret, specID, ts, specSignature, specBody, now.Add(-tol), nil},
		{"too old", specSecret, specID, ts, specSignature, specBody, now.Add(tol + time.Second), ErrTimestampOutside},
		{"too new", specSecret, specID, ts, specSignature, specBody, now.Add(-tol - time.Second), ErrTimestampOutside},
		{"body changed", specSecret, specID, ts, specSignature, `{"test": 2432232315}`, now, ErrNoMatch},
		{"id changed", specSecret, specID + "x", ts, specSignature, specBody, now, ErrNoMatch},
		{"timestamp changed", specSecret, specID, fmt.Sprint(specTimestamp + 1), specSignature, specBody, now, ErrNoMatch},
		{"wrong secret", other, specID, ts, specSignature, specBody, now, ErrNoMatch},
		{"wrong version", specSecret, specID, ts, "v2" + specSignature[2:], specBody, now, ErrNoMatch},
		{"garbage", specSecret, specID, ts, "v1,!!! v1", specBody, now, ErrNoMatch},
		{"no signature", specSecret, specID, ts, "", specBody, now, ErrMissingHeaderData},
		{"no id", specSecret, "", ts, specSignature, specBody, now, ErrMissingHeaderData},
		{"timestamp not a number", specSecret, specID, "soon", specSignature, specBody, now, ErrInvalidTimestamp},
		{"timestamp with sign", specSecret, specID, "+" + ts, specSignature, specBody, now, ErrInvalidTimestamp},
		{"bad secret", "whsec_x", specID, ts, specSignature, specBody, now, ErrInvalidSecret},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.id, tt.ts, tt.sig, []byte(tt.body), tt.now, tol)
		if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := Headers("dlv_1", time.Unix(1700000000, 5), "v1,abc")
	want := map[string]string{
		"webhook-id":        "dlv_1",
		"webhook-timestamp": "1700000000",
		"webhook-signature": "v1,abc",
		"Content-Type":      "application/json",
		"User-Agent":        "ChatBackend-Webhooks/1.0 (+https://github.com/startmsg/chatbackend)",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers %v, want exactly %d", h, len(want))
	}
}

// FuzzSignVerify checks that what Sign produces Verify accepts, and that a
// changed body or id is refused.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte("0123456789abcdef01234567"), "msg_1", int64(1614265330), []byte(specBody))
	f.Add(make([]byte, 64), "", int64(0), []byte{})
	f.Add([]byte("k"), "a.b", int64(-5), []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, key []byte, id string, ts int64, body []byte) {
		if len(key) < 24 || len(key) > 64 || id == "" || ts < -1e12 || ts > 1e12 {
			return
		}
		secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
		at := time.Unix(ts, 0)
		sig, err := Sign([]string{secret}, id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		tsh := fmt.Sprint(ts)
		if err := Verify(secret, id, tsh, sig, body, at, time.Minute); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if err := Verify(secret, id+"x", tsh, sig, body, at, time.Minute); err == nil {
			t.Fatal("changed id accepted")
		}
		if len(body) > 0 {
			changed := append([]byte(nil), body...)
			changed[len(changed)/2] ^= 1
			if err := Verify(secret, id, tsh, sig, changed, at, time.Minute); err == nil {
				t.Fatal("changed body accepted")
			}
		}
	})
}

// FuzzVerify feeds arbitrary headers: Verify must not panic and must accept
// only a signature made with the secret.
func FuzzVerify(f *testing.F) {
	f.Add(specID, fmt.Sprint(specTimestamp), specSignature, []byte(specBody))
	f.Add("", "", "v1,", []byte(nil))
	f.Add("x", "-1", "v1,==== v1,a v1", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := Verify(specSecret, id, ts, sig, body, time.Unix(specTimestamp, 0), 100*365*24*time.Hour)
		if err != nil {
			return
		}
		if !strings.Contains(sig, independentSignature(t, specSecret, id, mustInt(t, ts), string(body))[3:]) {
			t.Fatalf("Verify accepted %q for id %q ts %q", sig, id, ts)
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("accepted timestamp %q: %v", s, err)
	}
	return n
}
