package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
)

var update = flag.Bool("update", false, "rewrite calls.json from the measurement")

func TestMain(m *testing.M) { emulators.Main(m) }

// TestMeasuredCalls counts the AWS calls of one event (a contact update
// that fires a webhook: API function, trigger router, dispatcher) and of
// one contact read, through the real handlers on the emulators, and checks
// them against calls.json, which the capacity table is computed from
// (go test ./infra/capacity -run TestMeasuredCalls -update rewrites it).
func TestMeasuredCalls(t *testing.T) {
	var mu sync.Mutex
	var measuring atomic.Bool
	perFn := map[string][][]accesstest.Call{} // function → its invocations while measuring
	seen := map[string]int{}
	s := stacktest.NewWith(t, stacktest.Options{OnCalls: func(fn string, calls []accesstest.Call) {
		mu.Lock()
		defer mu.Unlock()
		seen[fn]++
		if measuring.Load() {
			perFn[fn] = append(perFn[fn], calls)
		}
	}})
	var hits atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(recv.Close)
	s.Pipeline()
	ten := s.NewTenant("Acme", "messenger")
	auth := "Bearer " + ten.Token
	if r := s.Do("POST", "/v1/connections", auth, map[string]any{"name": "CRM", "url": recv.URL, "triggers": []string{"email"}}); r.Status != 201 {
		t.Fatalf("connection: %d %s", r.Status, r.Body)
	}
	r := s.Do("POST", "/v1/contact", auth, map[string]any{"custom_fields": []map[string]string{{"name": "firstName", "value": "Ana"}}})
	if r.Status != 200 {
		t.Fatalf("contact: %d %s", r.Status, r.Body)
	}
	id := stacktest.Path(r.JSON, "data.id").(string)
	waitFor(t, "the router to see the create", func() bool { mu.Lock(); defer mu.Unlock(); return seen["trigger-router"] > 0 })

	res := map[string]string{s.Env.Table: "data", s.Env.OpsTable: "ops", s.Env.Queues.DeliveriesURL: "queue", s.Env.Queues.DLQURL: "dlq"}
	measure := func(fns ...string) map[string]Calls {
		out := map[string]Calls{}
		mu.Lock()
		defer mu.Unlock()
		for _, fn := range fns {
			invs := perFn[fn]
			if fn == "trigger-router" {
				// The stream poller may still hand the router an earlier
				// record (the contact's create) in an invocation of its
				// own: the update's is the one that queued the delivery.
				var queued [][]accesstest.Call
				for _, inv := range invs {
					if slices.ContainsFunc(inv, func(c accesstest.Call) bool { return res[c.Resource] == "queue" }) {
						queued = append(queued, inv)
					}
				}
				invs = queued
			}
			if len(invs) != 1 {
				t.Fatalf("%s invoked %d times while measuring, want once", fn, len(invs))
			}
			var ops []op
			for _, c := range invs[0] {
				ops = append(ops, op{Op: c.Op, Table: res[c.Resource], SQS: res[c.Resource] == "queue" || res[c.Resource] == "dlq"})
			}
			out[fn] = tally(ops)
		}
		clear(perFn)
		return out
	}

	measuring.Store(true)
	if r := s.Do("PUT", "/v1/contact/"+id, auth, map[string]any{"custom_fields": []map[string]string{{"name": "email", "value": "ana@example.com"}}}); r.Status != 200 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	waitFor(t, "the delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return hits.Load() == 1 && len(perFn["dispatcher"]) == 1
	})
	got := Measured{Note: "One invocation's AWS calls, counted through the real handlers on the emulators by infra/capacity's TestMeasuredCalls " +
		"(go test ./infra/capacity -run TestMeasuredCalls -update). event: PUT /v1/contact/{id} setting a trigger field, " +
		"the trigger router on its stream record, the dispatcher on the delivery (2xx). read: GET /v1/contact/{id}. " +
		"rru/wru: DynamoDB request units for items under 4 KB / 1 KB (transaction items count twice); sqs: the function's own SQS requests. " +
		"The router's PutItem on ops is its recent item for Zapier's editor, written at most once per 10 s per channel and trigger: counted here as if every event paid it.",
		Flows: map[string]map[string]Calls{}}
	got.Flows["event"] = measure("contact-update", "trigger-router", "dispatcher")
	if r := s.Do("GET", "/v1/contact/"+id, auth, nil); r.Status != 200 {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	got.Flows["read"] = measure("contact-get")

	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile("calls.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := loadMeasured()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Flows, want.Flows) {
		b, _ := json.MarshalIndent(got.Flows, "", "  ")
		t.Fatalf("calls.json is out of date (go test ./infra/capacity -run TestMeasuredCalls -update); measured:\n%s", b)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
