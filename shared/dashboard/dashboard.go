// Package dashboard serves the panel (web/, built by make into site/app)
// from the API's own stage: GET /dashboard (function dashboard: the page)
// and GET /dashboard/{asset} (function dashboard-asset: its scripts and
// styles), so the panel is same-origin with the API it calls, in AWS and
// under make run alike. The files are embedded; a binary built before the
// web build (a fresh clone's go build or go vet) serves site/placeholder.html,
// which says to run make build.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/startmsg/chatbackend/shared/httpapi"
)

//go:embed all:site
var site embed.FS

// Ports: the panel's files need no store.
type Ports interface{}

// CSP is the panel's Content-Security-Policy: everything from this origin
// only (Pico's form icons are data: images in its CSS), no inline script or
// style element, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Files is the built panel: site/app when make built it, else nil.
func Files() fs.FS {
	sub, err := fs.Sub(site, "site/app")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}

// Dashboard builds the handler of function dashboard: the panel's page.
func Dashboard(Ports) http.Handler {
	page, err := fs.ReadFile(site, "site/app/index.html")
	if err != nil {
		page, _ = fs.ReadFile(site, "site/placeholder.html")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page's URLs are relative (the stage prefixes them in AWS):
		// /dashboard must be /dashboard/ for them to resolve there.
		if !strings.HasSuffix(httpapi.PublicURL(r).Path, "/") {
			securityHeaders(w.Header())
			w.Header().Set("Location", "dashboard/")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		securityHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

// DashboardAsset builds the handler of function dashboard-asset: one built file by
// name (hashed by the build: cached for a year).
func DashboardAsset(Ports) http.Handler {
	files := Files()
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		name := httpapi.PathParam(r, "asset")
		if files == nil || !validName(name) || name == "index.html" {
			return httpapi.ErrNotFound
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return httpapi.ErrNotFound
		}
		securityHeaders(w.Header())
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, err = w.Write(b)
		return err
	})
}

// contentTypes are the types of what the build writes (a table of our own:
// package mime would read the system's files at the first call).
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
}

// validName is one file name of the build: letters, digits, "-", "_" and
// ".", not starting with a dot.
func validName(s string) bool {
	if s == "" || len(s) > 100 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}
