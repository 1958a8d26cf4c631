package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/automations"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// TestSeedDemoAutomation: make run gives the demo tenant its automation
// (send the demo template, wait a minute, add a tag), on, once, and again
// after it was deleted; demo.env's AUTOMATION_ID names it.
func TestSeedDemoAutomation(t *testing.T) {
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable}
	d := wiring.FromConfig(env.Config, func(k string) string { return vars[k] })
	ctx := t.Context()
	svc := &tenancy.Service{Store: d.Tenancy(), Now: time.Now}
	nt, err := svc.CreateTenant(ctx, "Demo")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := svc.CreateChannel(ctx, nt.Tenant.ID, tenancy.ChannelInput{Kind: "whatsapp", Name: "Demo whatsapp", DefaultCountry: "PK"})
	if err != nil {
		t.Fatal(err)
	}
	demo := map[string]string{"TENANT_ID": nt.Tenant.ID, "CHANNEL_WHATSAPP": ch.ID}
	if err := seedDemoTemplate(ctx, d, demo); err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range 2 {
		changed, err := seedAutomation(ctx, d, demo)
		if err != nil || changed != (i == 0) {
			t.Fatalf("seed %d: changed %v, %v", i, changed, err)
		}
		if i == 0 {
			first = demo["AUTOMATION_ID"]
		}
		checkDemoAutomation(t, d, demo)
	}
	if demo["AUTOMATION_ID"] != first {
		t.Fatalf("seeded again: %s, then %s", first, demo["AUTOMATION_ID"])
	}
	if err := d.Automations().DeleteAutomation(ctx, demo["TENANT_ID"], first); err != nil {
		t.Fatal(err)
	}
	if changed, err := seedAutomation(ctx, d, demo); err != nil || !changed || demo["AUTOMATION_ID"] == first {
		t.Fatalf("after a delete: changed %v, %v, id %s", changed, err, demo["AUTOMATION_ID"])
	}
	checkDemoAutomation(t, d, demo)
}

// checkDemoAutomation reads the automation AUTOMATION_ID names from the
// store: the three nodes, on, its references all there.
func checkDemoAutomation(t *testing.T, d *wiring.Env, demo map[string]string) {
	t.Helper()
	a, err := d.Automations().GetAutomation(t.Context(), demo["TENANT_ID"], demo["AUTOMATION_ID"])
	if err != nil {
		t.Fatal(err)
	}
	wantDemoAutomation(t, a, demo)
	if err := automations.CheckRefs(t.Context(), a, d.AutomationRefs()); err != nil {
		t.Fatalf("the demo automation's references: %v", err)
	}
}

func wantDemoAutomation(t *testing.T, a automations.Automation, demo map[string]string) {
	t.Helper()
	if !a.On || len(a.Nodes) != 3 || a.Nodes[0].Type != automations.NodeSendMessage || a.Nodes[0].ChannelID != demo["CHANNEL_WHATSAPP"] ||
		a.Nodes[0].Template == nil || a.Nodes[0].Template.Name != demoTemplate ||
		a.Nodes[1].Type != automations.NodeWait || a.Nodes[1].Seconds != 60 ||
		a.Nodes[2].Type != automations.NodeAddTag || a.Nodes[2].Tag != demoAutomationTag {
		t.Fatalf("the demo automation: %+v", a)
	}
}

// checkAutomation: make run's demo automation, named by demo.env's
// AUTOMATION_ID, is on and answered to the account secret.
func checkAutomation(t *testing.T, apiURL string, demo map[string]string) {
	t.Helper()
	if demo["AUTOMATION_ID"] == "" {
		t.Fatal("demo.env has no AUTOMATION_ID")
	}
	req, _ := http.NewRequest(http.MethodGet, apiURL+"/v1/automations/"+demo["AUTOMATION_ID"], nil)
	req.Header.Set("Authorization", demo["ACCOUNT_SECRET"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Data automations.Automation }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET the demo automation: %d %v", res.StatusCode, err)
	}
	wantDemoAutomation(t, out.Data, demo)
}
