package main

import (
	"testing"

	"github.com/startmsg/chatbackend/shared/queue"
)

// senderFn reports whether id is the outbox queue's consumer.
func senderFn(t *testing.T, f *fixture, id string) bool {
	for _, e := range f.events {
		if e.Source == sourceOutbox && f.functionID(t, e.Function) == id {
			return true
		}
	}
	return false
}

// The outbox queue redrives to its DLQ, the sender consumes it with its
// reservation as the mapping's maximum concurrency, the trigger router may
// send to it and nothing else may, and an alarm watches the DLQ.
func TestOutbox(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		outbox := f.idOf(t, "AWS::SQS::Queue", "Outbox")
		dlq := f.idOf(t, "AWS::SQS::Queue", "OutboxDlq")
		p := f.props(outbox)
		if num(p["VisibilityTimeout"]) != queue.OutboxVisibilityTimeout.Seconds() {
			t.Errorf("outbox VisibilityTimeout %v", p["VisibilityTimeout"])
		}
		redrive, _ := p["RedrivePolicy"].(map[string]any)
		if num(redrive["maxReceiveCount"]) != queue.OutboxMaxReceiveCount || !refersTo(redrive["deadLetterTargetArn"], dlq) {
			t.Errorf("outbox redrive %v", redrive)
		}
		want, _ := senderConcurrencyOf(f.stage, 0)
		sender := ""
		for _, e := range f.events {
			if e.Source == sourceOutbox {
				sender = f.functionID(t, e.Function)
			}
		}
		if sender == "" {
			t.Fatal("no outbox consumer")
		}
		if r := f.props(sender)["ReservedConcurrentExecutions"]; num(r) != float64(want) {
			t.Errorf("sender ReservedConcurrentExecutions %v, want %d", r, want)
		}
		if to := num(f.props(sender)["Timeout"]); 6*to > num(p["VisibilityTimeout"]) {
			t.Errorf("sender timeout %v × 6 > outbox visibility", to)
		}
		n := 0
		for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
			m := f.props(id)
			if !refersTo(m["EventSourceArn"], outbox) {
				continue
			}
			n++
			if fn := refs(m["FunctionName"]); len(fn) != 1 || fn[0] != sender {
				t.Errorf("outbox consumed by %v, want the sender", fn)
			}
			sc, _ := m["ScalingConfig"].(map[string]any)
			if num(sc["MaximumConcurrency"]) != float64(want) {
				t.Errorf("outbox mapping ScalingConfig %v", m["ScalingConfig"])
			}
		}
		if n != 1 {
			t.Errorf("%d outbox mappings, want 1", n)
		}
		alarm := false
		for _, id := range f.ofType("AWS::CloudWatch::Alarm") {
			if dims, _ := f.props(id)["Dimensions"].([]any); len(dims) == 1 && refersTo(dims[0].(map[string]any)["Value"], dlq) {
				alarm = true
			}
		}
		if !alarm {
			t.Error("no alarm on the outbox DLQ")
		}
	})
}
