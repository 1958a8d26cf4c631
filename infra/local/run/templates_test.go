package main

import (
	"testing"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/wiring"
	"github.com/startmsg/chatbackend/shared/wiring/messaging"
)

// TestMain stops the emulators the tests started.
func TestMain(m *testing.M) { emulators.Main(m) }

// TestSeedDemoTemplate: make run gives the demo WhatsApp channel seed
// 002's template_name (namespace_of_template, en), approved, once, and
// again after it was deleted.
func TestSeedDemoTemplate(t *testing.T) {
	env := emulators.ForTest(t)
	vars := map[string]string{appenv.TableName: env.Table, appenv.OpsTableName: env.OpsTable}
	d := wiring.FromConfig(env.Config, func(k string) string { return vars[k] })
	demo := map[string]string{"TENANT_ID": "ten_demo", "CHANNEL_WHATSAPP": "ch_demo"}
	reg := messaging.Of(d).TemplateRegistry()
	for range 2 {
		if err := seedDemoTemplate(t.Context(), d, demo); err != nil {
			t.Fatal(err)
		}
		tpl, err := reg.Lookup(t.Context(), "ten_demo", "ch_demo", "template_name", "namespace_of_template", "en")
		if err != nil || tpl.ParamCount() != 0 {
			t.Fatalf("the seed's template: %+v %v", tpl, err)
		}
	}
	all, _ := reg.List(t.Context(), "ten_demo", "ch_demo", "")
	if len(all) != 1 {
		t.Fatalf("%d templates", len(all))
	}
	if err := reg.Delete(t.Context(), "ten_demo", "ch_demo", all[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(t.Context(), "ten_demo", "ch_demo", "template_name", "", "en"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := seedDemoTemplate(t.Context(), d, demo); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup(t.Context(), "ten_demo", "ch_demo", "template_name", "", "en"); err != nil {
		t.Fatalf("seeded again: %v", err)
	}
}
