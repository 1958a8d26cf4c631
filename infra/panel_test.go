package main

import "testing"

// TestPanelRoutes: the panel is served from the API's own stage, the page
// at GET /dashboard and its files at GET /dashboard/{asset}, public (it
// signs in with a channel token it sends to the API), each by its function.
func TestPanelRoutes(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		want := map[string]string{"/dashboard": "dashboard", "/dashboard/{asset}": "dashboard-asset"}
		for _, m := range f.methods() {
			fn, ok := want[m.path]
			if !ok || m.verb != "GET" {
				continue
			}
			delete(want, m.path)
			integ, _ := m.props["Integration"].(map[string]any)
			if m.props["AuthorizationType"] != "NONE" || integ["Type"] != "AWS_PROXY" || !refersTo(integ["Uri"], f.functionID(t, fn)) {
				t.Errorf("GET %s: %v, want a public proxy to %s", m.path, m.props, fn)
			}
		}
		for p := range want {
			t.Errorf("no GET %s", p)
		}
	})
}
