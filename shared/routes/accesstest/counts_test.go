package accesstest_test

import (
	"slices"
	"testing"

	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/routes"
)

// The contact counter's key is the store's, and every function that
// creates or deletes contacts may write it (the count rides in the
// contact's transaction).
func TestCountKeys(t *testing.T) {
	if routes.KeyCount != ddbstore.CountKeyPrefix+"*" {
		t.Errorf("KeyCount %q, ddbstore's prefix %q", routes.KeyCount, ddbstore.CountKeyPrefix)
	}
	for _, fn := range []string{"contact-create", "contact-delete", "actions", "events-collect", "messenger-intake"} {
		if !slices.Contains(routes.Keys[fn].OpsWrite, routes.KeyCount) {
			t.Errorf("%s creates or deletes contacts but may not write %s", fn, routes.KeyCount)
		}
		if !slices.Contains(routes.Keys[fn].OpsRead, routes.KeyCount) {
			t.Errorf("%s creates contacts but may not read %s (a full counter shard sends it to the others)", fn, routes.KeyCount)
		}
	}
	for fn, k := range routes.Keys {
		if (slices.Contains(k.OpsWrite, routes.KeyCount) || slices.Contains(k.OpsRead, routes.KeyCount)) && !slices.Contains(routes.CountWriters, fn) {
			t.Errorf("%s may write %s without being a CountWriter", fn, routes.KeyCount)
		}
	}
}
