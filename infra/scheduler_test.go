package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

// TestScheduler: the ticker runs every minute from a rule, without
// retries (Lambda's or EventBridge's), one at a time, within its timeout;
// it may touch the operations table's DUE# items and nothing else of
// either table; alarms watch its dead items and its failures.
func TestScheduler(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		fn := f.functionID(t, routes.SchedulerTick)
		p := f.props(fn)
		if num(p["ReservedConcurrentExecutions"]) != 1 || num(p["Timeout"]) != scheduleTimeout.Seconds() {
			t.Errorf("ticker reserved %v, timeout %v", p["ReservedConcurrentExecutions"], p["Timeout"])
		}
		rules := 0
		for _, id := range f.ofType("AWS::Events::Rule") {
			r := f.props(id)
			targets, _ := r["Targets"].([]any)
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				if !refersTo(tm["Arn"], fn) {
					continue
				}
				rules++
				if r["ScheduleExpression"] != "rate(1 minute)" || r["State"] == "DISABLED" {
					t.Errorf("ticker rule %v, state %v", r["ScheduleExpression"], r["State"])
				}
				rp, _ := tm["RetryPolicy"].(map[string]any)
				if rp == nil || num(rp["MaximumRetryAttempts"]) != 0 || num(rp["MaximumEventAgeInSeconds"]) != 60 {
					t.Errorf("ticker rule retry policy %v", tm["RetryPolicy"])
				}
			}
		}
		if rules != 1 {
			t.Errorf("%d rules invoke the ticker, want 1", rules)
		}
		invokeCfg := false
		for _, id := range f.ofType("AWS::Lambda::EventInvokeConfig") {
			c := f.props(id)
			if refersTo(c["FunctionName"], fn) {
				invokeCfg = num(c["MaximumRetryAttempts"]) == 0 && num(c["MaximumEventAgeInSeconds"]) == 60
			}
		}
		if !invokeCfg {
			t.Error("the ticker's async invocations may be retried")
		}
		permitted := false
		for _, id := range f.ofType("AWS::Lambda::Permission") {
			pp := f.props(id)
			if refersTo(pp["FunctionName"], fn) {
				permitted = pp["Principal"] == "events.amazonaws.com" && pp["Action"] == "lambda:InvokeFunction" && pp["SourceArn"] != nil
				if !permitted {
					t.Errorf("ticker permission %v", pp)
				}
			}
		}
		if !permitted {
			t.Error("no permission for the rule to invoke the ticker")
		}

		table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
		ops := f.idOf(t, "AWS::DynamoDB::Table", "OpsTable")
		// The ticker's own keys (DUE#) and those of the handlers it runs:
		// an installation's release moves the held message (data table)
		// and its queue entry (ops table); an automation's step reads the
		// tenant's settings, changes the contact, stores a message (data
		// table) or a connection's call, and reads and writes the run,
		// the contact's search entries and window record (ops table);
		// nothing else.
		dataKeys := []string{routes.KeyMessage, routes.KeyTenant, routes.KeyContact, routes.KeyAutoCall}
		opsKeys := []string{routes.KeyDue, routes.KeyInstallQueue, routes.KeyRuns, routes.KeyWindow, routes.KeyIndex}
		sawOps := false
		for _, g := range f.grantsOf(t, routes.SchedulerTick) {
			if !strings.HasPrefix(g.action, "dynamodb:") {
				continue
			}
			if g.action == "dynamodb:Scan" {
				t.Error("the ticker may Scan")
			}
			allowed := opsKeys
			if refersTo(g.resource, table) {
				allowed = dataKeys
			} else if refersTo(g.resource, ops) {
				sawOps = true
			} else {
				continue
			}
			keys, ok := leadingKeysOf(g.condition)
			if !ok || len(keys) == 0 {
				t.Errorf("ticker %s on %v: no exact leading keys", g.action, g.resource)
			}
			for _, k := range keys {
				if !slices.Contains(allowed, k) {
					t.Errorf("ticker %s on %v: leading key %s, want only %v", g.action, g.resource, k, allowed)
				}
			}
			if refersTo(g.resource, ops) && !slices.Contains(keys, routes.KeyDue) {
				t.Errorf("ticker %s on the ops table: leading keys %v, want %s among them", g.action, keys, routes.KeyDue)
			}
		}
		if !sawOps {
			t.Error("the ticker has no grant on the operations table")
		}
		alarms := map[string]bool{}
		for _, id := range f.ofType("AWS::CloudWatch::Alarm") {
			a := f.props(id)
			if a["MetricName"] == "DeadItems" && a["Namespace"] == SchedulerMetricNamespace {
				alarms["dead"] = true
			}
			if a["MetricName"] == "Errors" {
				if dims, _ := a["Dimensions"].([]any); len(dims) == 1 && refersTo(dims[0].(map[string]any)["Value"], fn) {
					alarms["errors"] = true
				}
			}
		}
		filter := false
		for _, id := range f.ofType("AWS::Logs::MetricFilter") {
			m := f.props(id)
			if strings.Contains(m["FilterPattern"].(string), schedulerDeadMessage) {
				filter = true
			}
		}
		if !alarms["dead"] || !alarms["errors"] || !filter {
			t.Errorf("alarms %v, dead items filter %v", alarms, filter)
		}
	})
}

// scheduled reports whether the named function is invoked by a schedule
// rule (it has the rule's resource-policy permission).
func scheduled(f *fixture, name string) bool {
	for _, e := range f.events {
		if e.Function == name && e.Source == sourceSchedule {
			return true
		}
	}
	return false
}

// scheduledCount is how many functions a schedule rule invokes.
func scheduledCount(f *fixture) int {
	n := 0
	for _, e := range f.events {
		if e.Source == sourceSchedule {
			n++
		}
	}
	return n
}
