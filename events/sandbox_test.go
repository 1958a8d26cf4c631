package events_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appevents "github.com/startmsg/chatbackend/events"
	"github.com/startmsg/chatbackend/infra/local/sandbox"
	"github.com/startmsg/chatbackend/shared/whatsapp"
)

// The messaging samples call the WhatsApp Cloud API: the provider sandbox
// answers them, a fresh one per test, behind one front URL that every
// function of this process (whose Cloud API client reads
// WHATSAPP_API_BASE_URL once) and every bootstrap under the emulator is
// pointed at.
var front struct {
	once sync.Once
	url  string
	cur  atomic.Pointer[sandbox.Sandbox]
}

// providerSandbox starts a fresh sandbox for t, with the sample channel's
// app secret, WABA id and approved template, behind the front URL, and returns it and the URL.
func providerSandbox(t *testing.T) (*sandbox.Sandbox, string) {
	t.Helper()
	front.once.Do(func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sb := front.cur.Load()
			if sb == nil {
				http.Error(w, "no provider sandbox", http.StatusServiceUnavailable)
				return
			}
			sb.ServeHTTP(w, r)
		}))
		front.url = srv.URL
		os.Setenv(whatsapp.EnvBaseURL, srv.URL)
	})
	sb, err := sandbox.New(sandbox.Options{AppSecret: appevents.SampleWAAppSecret, WABAID: appevents.SampleWAWABAID,
		StatusDelay: time.Millisecond, WebhookRetries: []time.Duration{},
		// The template the sends name is approved at the provider too.
		Templates: []sandbox.Template{{Name: appevents.SampleWATemplate, Language: "en", Category: "UTILITY",
			Components: []whatsapp.TemplateDefComponent{{Type: "BODY", Text: appevents.SampleWATemplateText}}}}})
	if err != nil {
		t.Fatal(err)
	}
	front.cur.Store(sb)
	t.Cleanup(func() {
		front.cur.CompareAndSwap(sb, nil)
		sb.Close()
	})
	return sb, front.url
}
