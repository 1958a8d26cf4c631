package accesstest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/routes/accesstest"
	"github.com/startmsg/chatbackend/shared/scheduler"
)

// TestDueKeys: routes.KeyDue is the scheduler's key prefix, named in
// ddbstore/schema.go's layout, and covers the items the ticker touches.
func TestDueKeys(t *testing.T) {
	if routes.KeyDue != scheduler.KeyPrefix+"*" {
		t.Errorf("KeyDue %q, scheduler.KeyPrefix %q", routes.KeyDue, scheduler.KeyPrefix)
	}
	schema, err := os.ReadFile("../../ddbstore/schema.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"DUE#<minute>#<shard>", "DUE#CURSOR", "DUE#DEAD"} {
		if !strings.Contains(string(schema), "//\t"+k) {
			t.Errorf("ddbstore/schema.go's layout has no %s", k)
		}
	}
	pk, _ := scheduler.Keys(scheduler.Due{Kind: "k", Ref: "r"})
	scope := routes.Keys[routes.SchedulerTick]
	for _, key := range []string{pk, "DUE#CURSOR", "DUE#DEAD"} {
		if !accesstest.KeyAllowed(scope.OpsRead, key) || !accesstest.KeyAllowed(scope.OpsWrite, key) {
			t.Errorf("scheduler-tick may not read and write %s", key)
		}
	}
}
