package ddbstore_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// newConnections gives a test its own table and a connection store on it.
func newConnections(t *testing.T) (*ddbstore.Connections, *emulators.TestEnv) {
	t.Helper()
	env := emulators.ForTest(t)
	return &ddbstore.Connections{API: env.DDB, Table: env.Table, OpsTable: env.OpsTable}, env
}

// mkConn builds an enabled connection with two secrets.
func mkConn(tenant, id string, created int64) connections.Connection {
	return connections.Connection{
		ID: id, TenantID: tenant, ChannelID: "ch1", Name: "CRM " + id, URL: "https://hooks.example.com/" + id,
		Triggers: []connections.Trigger{connections.TriggerEmail, connections.TriggerPhone},
		Fields:   []string{"psid", "email", "Favourite colour"},
		Secrets:  []connections.Secret{{Value: "whsec_new"}, {Value: "whsec_old", ExpiresAt: created + 86400}},
		Source:   connections.SourceAPI, Enabled: true, CreatedAt: created, UpdatedAt: created,
	}
}

func mustCreateConn(t *testing.T, s *ddbstore.Connections, cs ...connections.Connection) {
	t.Helper()
	for _, c := range cs {
		if err := s.CreateConnection(t.Context(), c); err != nil {
			t.Fatalf("create %s: %v", c.ID, err)
		}
	}
}

func mustGetConn(t *testing.T, s *ddbstore.Connections, tenant, id string) connections.Connection {
	t.Helper()
	c, err := s.GetConnection(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("get %s/%s: %v", tenant, id, err)
	}
	return c
}

// rawItem reads an item as stored (nil if absent).
func rawItem(t *testing.T, env *emulators.TestEnv, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	return rawItemIn(t, env, env.Table, pk, sk)
}

// rawItemIn reads one item of the named table as stored.
func rawItemIn(t *testing.T, env *emulators.TestEnv, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := env.DDB.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// numAttr returns a number attribute of an item.
func numAttr(t *testing.T, m map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := m[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute %s = %#v, want a number", name, m[name])
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("%s: %v, want a not-found error", what, err)
	}
}

func TestConnectionCRUD(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	c := mkConn("ta", "k1", 1_700_000_000)
	mustCreateConn(t, s, c)

	if got := mustGetConn(t, s, "ta", "k1"); !reflect.DeepEqual(got, c) {
		t.Errorf("get = %+v\nwant  %+v", got, c)
	}
	raw := rawItem(t, env, "TENANT#ta", "CONN#k1")
	if secrets, ok := raw["secrets"].(*types.AttributeValueMemberL); !ok || len(secrets.Value) != 2 {
		t.Errorf("stored secrets = %#v, want a list of 2", raw["secrets"])
	}
	if _, ok := raw["failing_since"]; ok {
		t.Error("failing_since stored while 0")
	}
	if err := s.CreateConnection(ctx, c); !apperr.Is(err, apperr.KindExists) {
		t.Errorf("second create: %v, want an exists error", err)
	}

	c2 := c
	c2.URL, c2.Enabled, c2.UpdatedAt, c2.Version = "https://other.example.com/x", false, c.UpdatedAt+5, c.Version+1
	c2.Triggers = []connections.Trigger{connections.TriggerWebviewForm}
	c2.Secrets = c.Secrets[:1]
	if err := s.PutConnection(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if got := mustGetConn(t, s, "ta", "k1"); !reflect.DeepEqual(got, c2) {
		t.Errorf("after put = %+v\nwant        %+v", got, c2)
	}
	// A put over a version it did not read is a conflict, and writes nothing.
	stale := c2
	stale.Name = "stale"
	if err := s.PutConnection(ctx, stale); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("put over a changed version: %v, want a conflict", err)
	}
	if got := mustGetConn(t, s, "ta", "k1"); got.Name == "stale" {
		t.Error("a conflicting put was written")
	}
	ghost := mkConn("ta", "ghost", 1)
	wantNotFound(t, "put of a missing connection", s.PutConnection(ctx, ghost))
	if raw := rawItem(t, env, "TENANT#ta", "CONN#ghost"); raw != nil {
		t.Errorf("put of a missing connection created it: %v", raw)
	}

	if err := s.DeleteConnection(ctx, "ta", "k1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetConnection(ctx, "ta", "k1")
	wantNotFound(t, "get after delete", err)
	wantNotFound(t, "second delete", s.DeleteConnection(ctx, "ta", "k1"))
}

func TestConnectionTenantIsolation(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	a := mkConn("ta", "k1", 100)
	mustCreateConn(t, s, a, mkConn("tb", "k2", 100))

	_, err := s.GetConnection(ctx, "tb", "k1")
	wantNotFound(t, "get", err)
	other := a
	other.TenantID, other.URL = "tb", "https://evil.example.com"
	wantNotFound(t, "put", s.PutConnection(ctx, other))
	wantNotFound(t, "delete", s.DeleteConnection(ctx, "tb", "k1"))
	_, err = s.RecordResult(ctx, "tb", "k1", false, time.Unix(200, 0))
	wantNotFound(t, "record result", err)
	wantNotFound(t, "disable", s.Disable(ctx, "tb", "k1", "gone", time.Unix(200, 0)))

	list, err := s.ListConnections(ctx, "tb")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "k2" {
		t.Errorf("tb lists %+v, want only k2", list)
	}
	if got := mustGetConn(t, s, "ta", "k1"); !reflect.DeepEqual(got, a) {
		t.Errorf("ta's connection changed by tb: %+v", got)
	}
}

func TestListConnectionsOrder(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	// SK order is by ID (a, b, c, d); the list is by creation, then ID.
	mustCreateConn(t, s, mkConn("t", "d", 300), mkConn("t", "a", 500), mkConn("t", "c", 300), mkConn("t", "b", 100))
	// Other items in the tenant's partition are not connections.
	if err := s.AddDead(ctx, connections.Dead{Delivery: connections.Delivery{ID: "del", TenantID: "t"}, DiedAt: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := env.DDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "TENANT#t"}, "SK": &types.AttributeValueMemberS{Value: "CHANNEL#x"},
	}})
	if err != nil {
		t.Fatal(err)
	}

	list, err := s.ListConnections(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "b,c,d,a" {
		t.Errorf("order = %s, want b,c,d,a", got)
	}
	empty, err := s.ListConnections(ctx, "nobody")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty tenant = %#v, %v; want an empty slice", empty, err)
	}
}

func TestRecordResult(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	c := mkConn("t", "k", 100)
	mustCreateConn(t, s, c)
	record := func(success bool, at int64, want int64) {
		t.Helper()
		got, err := s.RecordResult(ctx, "t", "k", success, time.Unix(at, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got.FailingSince != want {
			t.Errorf("RecordResult(%v, %d) returned failing since %d, want %d", success, at, got.FailingSince, want)
		}
		if got.URL != c.URL || !reflect.DeepEqual(got.Secrets, c.Secrets) || got.UpdatedAt != c.UpdatedAt {
			t.Errorf("RecordResult returned %+v, want the whole connection unchanged but for failing_since", got)
		}
		if stored := mustGetConn(t, s, "t", "k"); stored.FailingSince != want {
			t.Errorf("stored failing since %d, want %d", stored.FailingSince, want)
		}
	}
	record(true, 150, 0)    // success with no failures: nothing to clear
	record(false, 200, 200) // first failure starts the run
	record(false, 300, 200) // later failures keep its start
	record(true, 400, 0)    // a success ends it
	if _, ok := rawItem(t, env, "TENANT#t", "CONN#k")["failing_since"]; ok {
		t.Error("failing_since still stored after a success")
	}
	record(false, 500, 500) // a new run

	_, err := s.RecordResult(ctx, "t", "missing", false, time.Unix(1, 0))
	wantNotFound(t, "record result on a missing connection", err)
	if raw := rawItem(t, env, "TENANT#t", "CONN#missing"); raw != nil {
		t.Errorf("record result created an item: %v", raw)
	}
}

func TestRecordResultConcurrentFailures(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	mustCreateConn(t, s, mkConn("t", "k", 100))

	const workers = 20
	var wg sync.WaitGroup
	results := make([]int64, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			c, err := s.RecordResult(ctx, "t", "k", false, time.Unix(int64(1000+i), 0))
			results[i], errs[i] = c.FailingSince, err
		})
	}
	wg.Wait()
	stored := mustGetConn(t, s, "t", "k").FailingSince
	if stored < 1000 || stored >= 1000+workers {
		t.Fatalf("failing since %d, want one of the attempts' times", stored)
	}
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("worker %d: %v", i, errs[i])
		} else if results[i] != stored {
			t.Errorf("worker %d saw failing since %d, stored is %d", i, results[i], stored)
		}
	}
	c, err := s.RecordResult(ctx, "t", "k", true, time.Unix(2000, 0))
	if err != nil || c.FailingSince != 0 {
		t.Fatalf("success: %+v, %v; want failing since cleared", c, err)
	}
	if got := mustGetConn(t, s, "t", "k").FailingSince; got != 0 {
		t.Errorf("stored failing since %d after success", got)
	}
}

func TestDisable(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	c := mkConn("t", "k", 100)
	c.FailingSince = 150
	mustCreateConn(t, s, c)
	if err := s.Disable(ctx, "t", "k", "410 Gone", time.Unix(900, 0)); err != nil {
		t.Fatal(err)
	}
	want := c
	want.Enabled, want.DisabledReason, want.UpdatedAt, want.Version = false, "410 Gone", 900, c.Version+1
	if got := mustGetConn(t, s, "t", "k"); !reflect.DeepEqual(got, want) {
		t.Errorf("after disable = %+v\nwant            %+v", got, want)
	}
	wantNotFound(t, "disable a missing connection", s.Disable(ctx, "t", "missing", "x", time.Unix(1, 0)))
	if raw := rawItem(t, env, "TENANT#t", "CONN#missing"); raw != nil {
		t.Errorf("disable created an item: %v", raw)
	}
}

// mkAttempt builds attempt number n of webhook w at ms.
func mkAttempt(ms int64, w string, n int) connections.Attempt {
	return connections.Attempt{
		Time: ms, WebhookID: w, Attempt: n, Outcome: connections.OutcomeHTTP, HTTPCode: 503, DurationMS: 42,
		Trigger: connections.TriggerEmail, RequestBody: `{"email":"a@example.com"}`, ResponseBody: "busy",
		Error: "503 Service Unavailable", Final: n == 5,
	}
}

func TestFindAttempt(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	old := mkAttempt(base, "msg_old", 1)
	if err := s.AddAttempt(ctx, "t", "k", old); err != nil {
		t.Fatal(err)
	}
	latest := mkAttempt(base+500, "msg_old", 2)
	if err := s.AddAttempt(ctx, "t", "k", latest); err != nil {
		t.Fatal(err)
	}
	// 120 later attempts of other deliveries push it out of any recent page.
	for i := range 120 {
		if err := s.AddAttempt(ctx, "t", "k", mkAttempt(base+1000+int64(i), "msg_"+strconv.Itoa(i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	recent, err := s.Attempts(ctx, "t", "k", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range recent {
		if a.WebhookID == "msg_old" {
			t.Fatal("msg_old is among the last 100 attempts; the test needs it older")
		}
	}
	got, err := s.FindAttempt(ctx, "t", "k", "msg_old")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, latest) {
		t.Errorf("FindAttempt = %+v\nwant          %+v", got, latest)
	}
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_7"); err != nil || got.Time != base+1007 {
		t.Errorf("FindAttempt(msg_7) = %+v, %v", got, err)
	}
	for _, c := range []struct{ tenant, conn, webhook string }{
		{"t", "k", "msg_none"}, {"t", "other", "msg_old"}, {"t2", "k", "msg_old"}, {"t", "k", ""}, {"t", "k", "msg_ol"},
	} {
		_, err := s.FindAttempt(ctx, c.tenant, c.conn, c.webhook)
		wantNotFound(t, fmt.Sprintf("FindAttempt(%s, %s, %q)", c.tenant, c.conn, c.webhook), err)
	}
}

func TestAttemptsNewestFirst(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var all []connections.Attempt
	for i := range 15 {
		// Pairs share a millisecond; the SK then orders by webhook and attempt.
		all = append(all, mkAttempt(base+int64(i/2)*1000, "msg_"+strconv.Itoa(i%2), i%2+1))
	}
	for _, i := range rand.Perm(len(all)) {
		if err := s.AddAttempt(ctx, "t", "k", all[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAttempt(ctx, "t", "other", mkAttempt(base+99_000, "msg_x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttempt(ctx, "t2", "k", mkAttempt(base+99_000, "msg_y", 1)); err != nil {
		t.Fatal(err)
	}

	got, err := s.Attempts(ctx, "t", "k", connections.ActivityKept)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d attempts, want 10", len(got))
	}
	for i, a := range got {
		if want := all[14-i]; !reflect.DeepEqual(a, want) {
			t.Errorf("attempt %d = %+v\nwant        %+v", i, a, want)
		}
	}

	// Each AddAttempt wrote one packed item; msg_0's first is at base.
	sk := packedKeyAt(t, env, "CONN#t#k", base)
	if rawItem(t, env, "CONN#t#k", sk) != nil {
		t.Errorf("attempt %s written to the data table", sk)
	}
	raw := rawItemIn(t, env, env.OpsTable, "CONN#t#k", sk)
	if raw == nil {
		t.Fatalf("no item %s in the operations table", sk)
	}
	if ttl, want := numAttr(t, raw, ddbstore.TTLAttribute), base/1000+int64(connections.ActivityTTL/time.Second); ttl != want {
		t.Errorf("ttl = %d, want %d", ttl, want)
	}
	if _, ok := raw[ddbstore.AttrGSI1PK]; ok {
		t.Errorf("attempt item has %s: no index is written per attempt", ddbstore.AttrGSI1PK)
	}
	noOps := &ddbstore.Connections{API: env.DDB, Table: env.Table}
	if err := noOps.AddAttempt(ctx, "t", "k", all[0]); err == nil || !strings.Contains(err.Error(), "operations table") {
		t.Errorf("AddAttempt without the operations table: %v", err)
	}
	_, err = s.Attempts(ctx, "t", "k", 0)
	var ve *apperr.Error
	if !errors.As(err, &ve) {
		t.Errorf("Attempts(0): %v, want an invalid-input error", err)
	}
	none, err := s.Attempts(ctx, "t", "nothing", 10)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("no attempts = %#v, %v; want an empty slice", none, err)
	}
}

// TestAttemptsAcrossPages reads attempts too large for one 1 MB Query page.
func TestAttemptsAcrossPages(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	big := strings.Repeat("x", 300<<10)
	for i := range 6 {
		a := mkAttempt(int64(1000+i), "msg", i)
		a.RequestBody = big
		if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Time != 1005 || got[4].Time != 1001 {
		t.Errorf("got %d attempts, want 5 from 1005 down to 1001", len(got))
	}
}

// mkDead builds a dead delivery with a payload that is not valid UTF-8.
func mkDead(tenant, id string, diedAt int64) connections.Dead {
	return connections.Dead{
		Delivery: connections.Delivery{
			ID: id, TenantID: tenant, ConnectionID: "k", Trigger: connections.TriggerPhone,
			Payload: []byte("{\"phone\":\"+1555\"}\x00\xff\xfe" + id), CreatedAt: diedAt - 60,
		},
		LastAttempt: mkAttempt(diedAt*1000, id, 5),
		DiedAt:      diedAt,
	}
}

func TestDeadDeliveries(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	for _, id := range []string{"d3", "d1", "d5", "d2", "d4"} {
		if err := s.AddDead(ctx, mkDead("t", id, int64(1_700_000_000+10*int(id[1]-'0')))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDead(ctx, mkDead("t2", "d9", 1_800_000_000)); err != nil {
		t.Fatal(err)
	}

	want := mkDead("t", "d3", 1_700_000_030)
	got, err := s.GetDead(ctx, "t", "d3")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get = %+v\nwant  %+v", got, want)
	}
	raw := rawItem(t, env, "TENANT#t", "DEAD#d3")
	if p, ok := raw["payload"].(*types.AttributeValueMemberB); !ok || string(p.Value) != string(want.Payload) {
		t.Errorf("stored payload = %#v, want binary %q", raw["payload"], want.Payload)
	}
	if ttl, wantTTL := numAttr(t, raw, ddbstore.TTLAttribute), want.DiedAt+int64(connections.DeadTTL/time.Second); ttl != wantTTL {
		t.Errorf("ttl = %d, want %d", ttl, wantTTL)
	}
	if sk, ok := raw[ddbstore.AttrGSI1SK].(*types.AttributeValueMemberS); !ok || sk.Value != "1700000030#d3" {
		t.Errorf("GSI1SK = %#v", raw[ddbstore.AttrGSI1SK])
	}

	listPage := func(tenant string, limit int, cursor string) (string, string) {
		t.Helper()
		page, err := s.ListDead(ctx, tenant, limit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range page.Items {
			ids = append(ids, d.ID)
		}
		return strings.Join(ids, ","), page.Next
	}
	listIDs := func(tenant string, limit int) string {
		t.Helper()
		ids, _ := listPage(tenant, limit, "")
		return ids
	}
	if got := listIDs("t", 3); got != "d5,d4,d3" {
		t.Errorf("ListDead(3) = %s, want d5,d4,d3", got)
	}
	// Pages of 2 follow each other through the cursor; the last has none.
	var pages []string
	for cursor, n := "", 0; n < 5; n++ {
		ids, next := listPage("t", 2, cursor)
		pages = append(pages, ids)
		if next == "" {
			break
		}
		cursor = next
	}
	if got := strings.Join(pages, " | "); got != "d5,d4 | d3,d2 | d1" {
		t.Errorf("pages of 2 = %s", got)
	}
	if _, next := listPage("t", 5, ""); next != "" {
		t.Errorf("a page holding the last item has a cursor %q", next)
	}
	for _, bad := range []string{"%%%", "bm90LWEtY3Vyc29y", base64.RawURLEncoding.EncodeToString([]byte("17000000#d1")), base64.RawURLEncoding.EncodeToString([]byte("+700000030#d3"))} {
		_, err := s.ListDead(ctx, "t", 2, bad)
		var ve *apperr.Error
		if !errors.As(err, &ve) || ve.Field != "cursor" {
			t.Errorf("cursor %q: %v, want an invalid-input error on cursor", bad, err)
		}
	}
	if got := listIDs("t", 100); got != "d5,d4,d3,d2,d1" {
		t.Errorf("ListDead(100) = %s", got)
	}
	if got := listIDs("t2", 100); got != "d9" {
		t.Errorf("t2 lists %s, want d9", got)
	}
	_, err = s.GetDead(ctx, "t2", "d3")
	wantNotFound(t, "another tenant's dead delivery", err)

	// Dying again replaces the entry: one item, listed at its latest death.
	if err := s.AddDead(ctx, mkDead("t", "d1", 1_700_000_100)); err != nil {
		t.Fatal(err)
	}
	if got := listIDs("t", 100); got != "d1,d5,d4,d3,d2" {
		t.Errorf("after d1 died again: %s", got)
	}

	if err := s.DeleteDead(ctx, "t", "d3"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetDead(ctx, "t", "d3")
	wantNotFound(t, "get after delete", err)
	wantNotFound(t, "second delete", s.DeleteDead(ctx, "t", "d3"))
	wantNotFound(t, "delete another tenant's", s.DeleteDead(ctx, "t2", "d5"))
	if got := listIDs("t", 100); got != "d1,d5,d4,d2" {
		t.Errorf("after delete: %s", got)
	}
}

// TestAddAttempts: a batch's attempts, on several connections and more
// than one BatchWriteItem's worth, land as AddAttempt would write them
// (listed newest first, found by webhook ID); the same attempt twice in one
// batch, which DynamoDB would refuse as a duplicate key, is written once.
func TestAddAttempts(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var as []connections.ConnAttempt
	for i := range 30 {
		as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: []string{"k", "j"}[i%2], Attempt: mkAttempt(base+int64(i), "msg_"+strconv.Itoa(i), 1)})
	}
	as = append(as, as[4])
	if err := s.AddAttempts(ctx, as); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"k", "j"} {
		got, err := s.Attempts(ctx, "t", c, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 15 {
			t.Errorf("connection %s: %d attempts, want 15", c, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Time >= got[i-1].Time {
				t.Errorf("connection %s: attempts not newest first", c)
			}
		}
	}
	found, err := s.FindAttempt(ctx, "t", "j", "msg_29")
	if err != nil || !reflect.DeepEqual(found, as[29].Attempt) {
		t.Errorf("FindAttempt = %+v, %v; want %+v", found, err, as[29].Attempt)
	}
	if err := s.AddAttempts(ctx, nil); err != nil {
		t.Errorf("no attempts: %v", err)
	}
}
