package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

func TestSelectFunctions(t *testing.T) {
	root := t.TempDir()
	all := routes.Functions()
	missing := all[len(all)-1]
	for _, fn := range all[:len(all)-1] {
		if err := os.MkdirAll(filepath.Join(root, "functions", fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	_, err := selectFunctions(root, "")
	if err == nil || !strings.Contains(err.Error(), "functions/"+missing) {
		t.Errorf("with functions/%s missing: err = %v, want it named", missing, err)
	}
	got, err := selectFunctions(root, " "+all[0]+","+all[0]+",")
	if err != nil || len(got) != 1 || got[0] != all[0] {
		t.Errorf("-functions %s: got %v, %v", all[0], got, err)
	}
	if _, err := selectFunctions(root, "no-such-function"); err == nil || !strings.Contains(err.Error(), `"no-such-function"`) {
		t.Errorf("unknown function: err = %v", err)
	}

	if err := os.MkdirAll(filepath.Join(root, "functions", missing), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := selectFunctions(root, ""); err != nil || len(got) != len(all) {
		t.Errorf("all present: got %v, %v", got, err)
	}
}

// TestPhoneFunctions: the functions judged against the phone baseline are
// exactly those that parse phone numbers (wiring.WithPhone); a function
// that linked the library by accident would get the looser limits, so the
// list is pinned here.
func TestPhoneFunctions(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	got, err := linking(t.Context(), root, routes.Functions(), phoneLibrary)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"actions", "add-message", "chatapi-instance-message", "chatapi-instance-send-template", "chatapi-message", "chatapi-send-template",
		"contact-create", "contact-search", "contact-update", "events-collect", "installation-create", "installation-update", "message-send",
		"messenger-intake", "scheduler-tick", "webhook-add-message", "whatsapp-intake"}
	if !slices.Equal(got, want) {
		t.Fatalf("functions linking %s: %v, want %v", phoneLibrary, got, want)
	}
}
