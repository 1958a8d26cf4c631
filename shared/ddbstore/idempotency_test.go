package ddbstore_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/idempotency"
)

func TestIdempotency(t *testing.T) {
	env := emulators.ForTest(t)
	s := &ddbstore.Idempotency{API: env.DDB, OpsTable: env.OpsTable}
	ctx := t.Context()
	now := time.Unix(1_800_000_000, 0)
	pending := func(hash string, at time.Time) idempotency.Record {
		return idempotency.Record{RequestHash: hash, LeaseUntil: at.Add(30 * time.Second).Unix(), Expires: at.Add(24 * time.Hour).Unix()}
	}
	claim := func(key string, rec idempotency.Record, at time.Time) (idempotency.Record, bool) {
		t.Helper()
		got, ok, err := s.Claim(ctx, "tenant#POST /v1/contact", key, rec, at)
		if err != nil {
			t.Fatalf("claim %s: %v", key, err)
		}
		return got, ok
	}

	first := pending("h1", now)
	if got, ok := claim("k1", first, now); !ok || !reflect.DeepEqual(got, first) {
		t.Fatalf("first claim = %+v, %v", got, ok)
	}
	if got, ok := claim("k1", pending("h2", now), now.Add(time.Second)); ok || got.RequestHash != "h1" || got.Done {
		t.Errorf("second claim = %+v, %v; want the pending h1 record, false", got, ok)
	}
	done := first
	done.Status, done.Body = 201, []byte(`{"data":{"id":"c1"}}`)
	if err := s.Complete(ctx, "tenant#POST /v1/contact", "k1", done); err != nil {
		t.Fatal(err)
	}
	// A completed record is kept even after its lease, until it expires.
	if got, ok := claim("k1", pending("h1", now), now.Add(time.Hour)); ok || !got.Done || got.Status != 201 || string(got.Body) != string(done.Body) {
		t.Errorf("claim after complete = %+v, %v; want the done record", got, ok)
	}
	later := now.Add(25 * time.Hour)
	if _, ok := claim("k1", pending("h3", later), later); !ok {
		t.Error("an expired record (TTL not yet applied) blocks its key")
	}

	claim("k2", pending("h1", now), now)
	after := now.Add(31 * time.Second)
	if got, ok := claim("k2", pending("h2", after), after); !ok || got.RequestHash != "h2" {
		t.Errorf("claim after the lease ran out = %+v, %v; want a new claim", got, ok)
	}

	claim("k3", pending("h1", now), now)
	if err := s.Release(ctx, "tenant#POST /v1/contact", "k3"); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim("k3", pending("h2", now), now); !ok {
		t.Error("released key could not be claimed")
	}
	if err := s.Complete(ctx, "tenant#POST /v1/contact", "never-claimed", done); err == nil {
		t.Error("complete of an unclaimed key succeeded")
	}
	if _, ok, err := s.Claim(ctx, "other scope", "k1", pending("h1", now), now); !ok || err != nil {
		t.Errorf("same key in another scope: %v, %v; want a claim of its own", ok, err)
	}
	if _, _, err := s.Claim(ctx, "s", "k", idempotency.Record{}, now); err == nil {
		t.Error("claim without expiry succeeded")
	}
}
