package connector

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCallsStats(t *testing.T) {
	var c Calls
	for i := 1; i <= 10; i++ {
		c.add("DynamoDB GetItem", time.Duration(i)*time.Millisecond, nil)
	}
	c.add("DynamoDB PutItem", 100*time.Millisecond, errors.New("boom"))
	c.add("SQS ReceiveMessage", 20*time.Second, context.Canceled)
	st := c.Stats()
	if len(st) != 3 {
		t.Fatalf("Stats = %+v", st)
	}
	// Busiest first by summed time: PutItem 100 ms, GetItem 55 ms, the
	// cancelled long poll is not timed.
	if st[0].Op != "DynamoDB PutItem" || st[0].Errors != 1 || st[0].Count != 1 {
		t.Errorf("first = %+v", st[0])
	}
	if st[1].Op != "DynamoDB GetItem" || st[1].Count != 10 || st[1].P50MS != 5.5 {
		t.Errorf("second = %+v", st[1])
	}
	if st[2].Op != "SQS ReceiveMessage" || st[2].Count != 0 || st[2].Canceled != 1 {
		t.Errorf("third = %+v", st[2])
	}
	c.Reset()
	if len(c.Stats()) != 0 {
		t.Fatal("Reset kept calls")
	}
}
