package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

func get(h http.Handler, path string, params map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	ctx := httpapi.WithPublicURL(r.Context(), &url.URL{Scheme: "https", Host: "api.example.com", Path: "/dev" + path})
	ctx = httpapi.WithPathParams(ctx, params)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r.WithContext(ctx))
	return w
}

func checkSecurity(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || strings.Contains(got, "unsafe") {
		t.Errorf("CSP %q", got)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", w.Header())
	}
}

// The page: no-cache HTML with the security headers; /dashboard (no
// slash) redirects to dashboard/ so that the page's relative URLs resolve
// under the stage.
func TestIndex(t *testing.T) {
	h := Dashboard(nil)
	w := get(h, "/dashboard/", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if !strings.Contains(w.Body.String(), "<html") {
		t.Fatalf("body %q", w.Body)
	}
	checkSecurity(t, w)
	w = get(h, "/dashboard", nil)
	if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != "dashboard/" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

// Assets: the built files by name, immutable, with their types; anything
// else is the API's 404 envelope.
func TestAsset(t *testing.T) {
	a := DashboardAsset(nil)
	files := Files()
	if files == nil {
		// A checkout without the web build: every asset is a 404 and the
		// page is the placeholder.
		w := get(a, "/dashboard/index.js", map[string]string{"asset": "index.js"})
		if w.Code != 404 || !strings.Contains(w.Body.String(), `"status":"error"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := get(Dashboard(nil), "/dashboard/", nil); !strings.Contains(w.Body.String(), "make build") {
			t.Fatalf("placeholder: %s", w.Body)
		}
		return
	}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if name == "index.html" {
			continue
		}
		w := get(a, "/dashboard/"+name, map[string]string{"asset": name})
		if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("%s: %d %v", name, w.Code, w.Header())
		}
		checkSecurity(t, w)
		seen[w.Header().Get("Content-Type")] = true
	}
	if !seen["text/javascript; charset=utf-8"] || !seen["text/css; charset=utf-8"] {
		t.Errorf("content types %v", seen)
	}
	page := get(Dashboard(nil), "/dashboard/", nil).Body.String()
	if strings.Contains(page, "make build") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the built page names another origin or is the placeholder: %s", page)
	}
	for _, name := range []string{"index.html", "nope.js", "..", ".hidden", "a/b"} {
		w := get(a, "/dashboard/"+name, map[string]string{"asset": name})
		if w.Code != 404 || !strings.Contains(w.Body.String(), `"status":"error"`) {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}
