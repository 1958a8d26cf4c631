package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Calls are the AWS requests one function invocation makes, as measured
// (calls_test.go, against the emulators): DynamoDB request units (an item
// read or written counts once, as an item under 4 KB read / 1 KB written
// does; a transaction's items twice) and SQS requests.
type Calls struct {
	RRU float64 `json:"rru"` // DynamoDB read request units
	WRU float64 `json:"wru"` // DynamoDB write request units
	SQS float64 `json:"sqs"` // SQS requests made by the function itself
	// Ops lists the calls, for the reader ("GetItem data", …).
	Ops []string `json:"ops"`
}

// Measured is calls.json: per flow, per function, one invocation's calls.
//
//   - event: a contact update through the API that fires one connection's
//     trigger: contact-update, then the trigger router (its stream record),
//     then the dispatcher (the delivery, answered 2xx).
//   - read: GET /v1/contact/{id}.
type Measured struct {
	Note  string                      `json:"note"`
	Flows map[string]map[string]Calls `json:"flows"`
}

//go:embed calls.json
var callsJSON []byte

func loadMeasured() (Measured, error) {
	var m Measured
	if err := json.Unmarshal(callsJSON, &m); err != nil {
		return m, fmt.Errorf("calls.json: %w", err)
	}
	for _, f := range []string{"event", "read"} {
		if len(m.Flows[f]) == 0 {
			return m, fmt.Errorf("calls.json: no %q flow", f)
		}
	}
	return m, nil
}

// tally turns recorded calls (accesstest.Call: Op, Resource) into Calls.
func tally(ops []op) Calls {
	var c Calls
	for _, o := range ops {
		name, _, _ := strings.Cut(o.Op, "/")
		switch {
		case o.SQS:
			c.SQS++
		case name == "TransactWriteItems": // every item, ConditionCheck too
			c.WRU += 2
		case name == "TransactGetItems":
			c.RRU += 2
		case name == "PutItem", name == "UpdateItem", name == "DeleteItem", name == "BatchWriteItem":
			c.WRU++
		case name == "GetItem", name == "Query", name == "BatchGetItem":
			c.RRU++
		}
		c.Ops = append(c.Ops, o.Op+" "+o.Table)
	}
	// Some calls run at once (a read-only route counts the call beside its
	// reads): the list is sorted, not in the order they happened to end.
	slices.Sort(c.Ops)
	return c
}

// op is one recorded call: its operation, the table or queue it named
// ("data", "ops", "queue", "dlq") and whether it went to SQS.
type op struct {
	Op, Table string
	SQS       bool
}
