package ddbstore_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/connections"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// TestAttemptsAcrossLogItems: attempts logged by calls made at once (whose
// times interleave: a batch with a slow target finishes after later
// batches) are listed newest first, for any limit, each once even when the
// same attempt was logged twice.
func TestAttemptsAcrossLogItems(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var all []connections.Attempt
	// Call i logs attempts at base+i, base+i+20, base+i+40 ... : every call
	// spans the others' times.
	for i := range 20 {
		var as []connections.ConnAttempt
		for j := range 5 {
			a := mkAttempt(base+int64(i+20*j), "msg_"+strconv.Itoa(i)+"_"+strconv.Itoa(j), 1)
			as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a})
			all = append(all, a)
		}
		if i == 7 {
			as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: all[3]}) // logged again
		}
		if err := s.AddAttempts(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 10, 33, 100, 150} {
		got, err := s.Attempts(ctx, "t", "k", limit)
		if err != nil {
			t.Fatal(err)
		}
		want := min(limit, len(all))
		if len(got) != want {
			t.Fatalf("Attempts(%d): %d, want %d", limit, len(got), want)
		}
		for i, a := range got {
			if a.Time != base+int64(len(all)-1-i) {
				t.Fatalf("Attempts(%d)[%d] at %d, want %d (newest first)", limit, i, a.Time-base, len(all)-1-i)
			}
		}
	}
}

// TestAttemptsLegacyLayout: attempts written before attempts were keyed by
// webhook ID (ATT#<time>#<webhookId>#<attempt>, with GSI1) are still listed
// beside newer ones and still found for replay.
func TestAttemptsLegacyLayout(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var legacy []connections.Attempt
	for i := range 3 {
		a := mkAttempt(base+int64(2*i), "msg_legacy"+strconv.Itoa(i), 1)
		legacy = append(legacy, a)
		it, err := attributevalue.MarshalMap(a)
		if err != nil {
			t.Fatal(err)
		}
		sk := fmt.Sprintf("ATT#%013d#%s#%02d", a.Time, a.WebhookID, a.Attempt)
		it["PK"], it["SK"] = &types.AttributeValueMemberS{Value: "CONN#t#k"}, &types.AttributeValueMemberS{Value: sk}
		it[ddbstore.AttrGSI1PK] = &types.AttributeValueMemberS{Value: "WH#t#k#" + a.WebhookID}
		it[ddbstore.AttrGSI1SK] = &types.AttributeValueMemberS{Value: sk}
		if _, err := env.DDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.OpsTable), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	newer := []connections.Attempt{mkAttempt(base+1, "msg_new1", 1), mkAttempt(base+3, "msg_new3", 2)}
	for _, a := range newer {
		if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []connections.Attempt{legacy[2], newer[1], legacy[1], newer[0], legacy[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Attempts = %+v\nwant %+v", got, want)
	}
	for _, a := range append(legacy, newer...) {
		found, err := s.FindAttempt(ctx, "t", "k", a.WebhookID)
		if err != nil || !reflect.DeepEqual(found, a) {
			t.Errorf("FindAttempt(%s) = %+v, %v", a.WebhookID, found, err)
		}
	}
}

// TestFindAttemptExactWebhookID: a webhook ID that is the start of another
// one's key does not find the other's attempts.
func TestFindAttemptExactWebhookID(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	a := mkAttempt(1_700_000_000_000, "msg_1", 1)
	if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"msg_", "msg_1#1700", "msg_1#"} {
		_, err := s.FindAttempt(ctx, "t", "k", id)
		wantNotFound(t, "FindAttempt("+id+")", err)
	}
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_1"); err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("FindAttempt(msg_1) = %+v, %v", got, err)
	}
}

// TestAttemptsTiesAcrossLogItems: attempts made in the same millisecond
// and logged by different writes are ordered as one sort key would order
// them, whichever log item is read first.
func TestAttemptsTiesAcrossLogItems(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const ms = int64(1_700_000_000_000)
	for i := range 16 {
		if err := s.AddAttempt(ctx, "t", "k", mkAttempt(ms, fmt.Sprintf("msg_%02d", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.WebhookID)
	}
	if want := []string{"msg_15", "msg_14", "msg_13", "msg_12", "msg_11"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Attempts(5) = %v, want %v", ids, want)
	}
}

// opsKeys are the sort keys of the items of an operations-table
// partition whose sort key begins with prefix.
func opsKeys(t *testing.T, env *emulators.TestEnv, pk, prefix string) []string {
	t.Helper()
	out, err := env.DDB.Query(t.Context(), &dynamodb.QueryInput{
		TableName: aws.String(env.OpsTable), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ProjectionExpression: aws.String("SK"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["SK"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

// packedKeyAt is the sort key of the first packed item whose time is ms.
func packedKeyAt(t *testing.T, env *emulators.TestEnv, pk string, ms int64) string {
	t.Helper()
	for _, sk := range opsKeys(t, env, pk, "ACT#") {
		if strings.HasPrefix(sk, fmt.Sprintf("ACT#%013d#", ms)) {
			return sk
		}
	}
	t.Fatalf("no packed item at %d in %s", ms, pk)
	return ""
}

// TestAttemptsPacked: a batch's attempts are written as one item per
// connection (ACT#<time of the newest>#<random>), holding the attempts,
// their webhook IDs and a TTL, and nothing else is written; they are
// listed and found for replay from it.
func TestAttemptsPacked(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var as []connections.ConnAttempt
	var onK, onOther []connections.Attempt
	for i := range 10 {
		a := mkAttempt(base+int64(i), fmt.Sprintf("msg_%02d", i), 1+i%3)
		if i%3 != 0 {
			a.Outcome, a.HTTPCode, a.Error, a.Final = connections.OutcomeSuccess, 200, "", true
		}
		as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a})
		onK = append(onK, a)
		if i < 3 {
			b := mkAttempt(base+int64(100+i), fmt.Sprintf("msg_o%d", i), 1)
			as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "other", Attempt: b})
			onOther = append(onOther, b)
		}
	}
	as = append(as, as[4]) // the same attempt twice: kept once
	if err := s.AddAttempts(ctx, as); err != nil {
		t.Fatal(err)
	}
	all, hours := withoutHours(opsKeys(t, env, "CONN#t#k", ""))
	// The batch's hourly counters: one item per connection and hour, the
	// attempt given twice counted once.
	hourSK := fmt.Sprintf("HR#%010d", base/3600000)
	if len(hours) != 1 || hours[0] != hourSK {
		t.Fatalf("hourly items of connection k: %v, want [%s]", hours, hourSK)
	}
	hr := rawItemIn(t, env, env.OpsTable, "CONN#t#k", hourSK)
	if ok, bad := numAttr(t, hr, "ok"), numAttr(t, hr, "bad"); ok != 6 || bad != 4 {
		t.Errorf("hourly counters of k: %d successes, %d failures; want 6 and 4", ok, bad)
	}
	packSK := fmt.Sprintf("ACT#%013d#", base+9)
	if len(all) != 5 || !strings.HasPrefix(all[0], packSK) {
		t.Fatalf("items of connection k: %v, want one packed item ACT#<newest>#… and a pointer for each of the 4 failed attempts", all)
	}
	for i, sk := range all[1:] {
		if want := fmt.Sprintf("WH#msg_%02d#%013d#01", 3*i, base+int64(3*i)); sk != want {
			t.Errorf("pointer %d: %s, want %s", i, sk, want)
		}
		if p, ok := rawItemIn(t, env, env.OpsTable, "CONN#t#k", sk)["pack"].(*types.AttributeValueMemberS); !ok || p.Value != all[0] {
			t.Errorf("pointer %s names %#v, want %s", sk, p, all[0])
		}
	}
	if all, _ := withoutHours(opsKeys(t, env, "CONN#t#other", "")); len(all) != 4 {
		t.Fatalf("items of connection other: %v, want one packed item and 3 pointers", all)
	}
	// A batch that all succeeded is one item.
	ok := mkAttempt(base+50, "msg_ok", 1)
	ok.Outcome, ok.HTTPCode, ok.Error = connections.OutcomeSuccess, 200, ""
	if err := s.AddAttempts(ctx, []connections.ConnAttempt{{TenantID: "t", ConnectionID: "ok", Attempt: ok}, {TenantID: "t", ConnectionID: "ok", Attempt: ok}}); err != nil {
		t.Fatal(err)
	}
	if all, _ := withoutHours(opsKeys(t, env, "CONN#t#ok", "")); len(all) != 1 {
		t.Fatalf("items of a successful batch: %v, want one", all)
	}
	raw := rawItemIn(t, env, env.OpsTable, "CONN#t#k", packedKeyAt(t, env, "CONN#t#k", base+9))
	if ttl, want := numAttr(t, raw, ddbstore.TTLAttribute), (base+9)/1000+int64(connections.ActivityTTL/time.Second); ttl != want {
		t.Errorf("ttl = %d, want %d", ttl, want)
	}
	if w, ok := raw["wids"].(*types.AttributeValueMemberSS); !ok || len(w.Value) != 10 {
		t.Errorf("wids = %#v, want the 10 webhook IDs", raw["wids"])
	}
	got, err := s.Attempts(ctx, "t", "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(onK)
	slices.Reverse(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Attempts = %+v\nwant %+v", got, want)
	}
	if got, err := s.Attempts(ctx, "t", "other", 10); err != nil || len(got) != 3 || !reflect.DeepEqual(got[0], onOther[2]) {
		t.Fatalf("Attempts(other) = %+v, %v", got, err)
	}
	for _, a := range onK {
		if got, err := s.FindAttempt(ctx, "t", "k", a.WebhookID); err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("FindAttempt(%s) = %+v, %v", a.WebhookID, got, err)
		}
	}
	_, err = s.FindAttempt(ctx, "t", "k", "msg_o1")
	wantNotFound(t, "FindAttempt of another connection's delivery", err)
}

// TestAttemptsPackSizeFallback: attempts too large to share one item
// (bodies of 100 KB) are spread over several packed items, each within
// DynamoDB's 400 KB item limit, and all are listed and found.
func TestAttemptsPackSizeFallback(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	var as []connections.ConnAttempt
	var all []connections.Attempt
	for i := range 10 {
		a := mkAttempt(base+int64(i), fmt.Sprintf("msg_%02d", i), 1)
		a.RequestBody = strings.Repeat(strconv.Itoa(i), 100<<10)
		if i == 3 {
			a.RequestBody = strings.Repeat("3", 290<<10) // alone in its item
		}
		as = append(as, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a})
		all = append(all, a)
	}
	if err := s.AddAttempts(ctx, as); err != nil {
		t.Fatal(err)
	}
	sks := opsKeys(t, env, "CONN#t#k", "ACT#")
	if len(sks) < 4 || len(sks) > 6 {
		t.Fatalf("items: %d (%v), want the 10 attempts packed 2 or 3 to an item, the large one alone", len(sks), sks)
	}
	for _, sk := range sks {
		if n := ddbstore.AttrSize(rawItemIn(t, env, env.OpsTable, "CONN#t#k", sk)); n > 400<<10 {
			t.Errorf("item %s: %d bytes, over DynamoDB's limit", sk, n)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("Attempts: %d, want 10", len(got))
	}
	for i, a := range got {
		if !reflect.DeepEqual(a, all[9-i]) {
			t.Fatalf("Attempts[%d] = %s, want %s", i, a.WebhookID, all[9-i].WebhookID)
		}
	}
	for _, a := range all {
		if got, err := s.FindAttempt(ctx, "t", "k", a.WebhookID); err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("FindAttempt(%s): %v", a.WebhookID, err)
		}
	}
	// A small budget: one attempt to an item.
	ddbstore.SetPackBudget(t, 10)
	if err := s.AddAttempts(ctx, []connections.ConnAttempt{
		{TenantID: "t", ConnectionID: "small", Attempt: mkAttempt(base, "msg_a", 1)},
		{TenantID: "t", ConnectionID: "small", Attempt: mkAttempt(base+1, "msg_b", 1)},
	}); err != nil {
		t.Fatal(err)
	}
	if sks := opsKeys(t, env, "CONN#t#small", "ACT#"); len(sks) != 2 {
		t.Errorf("items over a 10-byte budget: %v, want 2", sks)
	}
}

// TestFindAttemptLatestAcrossPacks: replay finds a delivery's latest
// attempt when its attempts are in several packed items whose times
// interleave (a batch with a slow target is logged after later ones), and
// finds an old delivery behind pages of newer items.
func TestFindAttemptLatestAcrossPacks(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	add := func(as ...connections.Attempt) {
		t.Helper()
		var cas []connections.ConnAttempt
		for _, a := range as {
			cas = append(cas, connections.ConnAttempt{TenantID: "t", ConnectionID: "k", Attempt: a})
		}
		if err := s.AddAttempts(ctx, cas); err != nil {
			t.Fatal(err)
		}
	}
	old := mkAttempt(base, "msg_old", 1)
	add(old)
	// Item A: msg_x's attempt 1 and a later attempt of another delivery
	// (the item's time, base+5000); item B: msg_x's attempt 2 at base+4000.
	x1 := mkAttempt(base+1000, "msg_x", 1)
	add(x1, mkAttempt(base+5000, "msg_slow", 1))
	x2 := mkAttempt(base+4000, "msg_x", 2)
	add(x2)
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_x"); err != nil || !reflect.DeepEqual(got, x2) {
		t.Fatalf("FindAttempt(msg_x) = %+v, %v; want attempt 2", got, err)
	}
	// Newer items filling more than one 1 MB page (bodies that do not
	// compress).
	for i := range 6 {
		a := mkAttempt(base+10_000+int64(i), fmt.Sprintf("msg_big%d", i), 1)
		a.RequestBody = noise(i, 300<<10)
		add(a)
	}
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_old"); err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("FindAttempt(msg_old) behind 1.8 MB of newer items = %+v, %v", got, err)
	}
}

// TestAttemptsPreviousLayout: attempts written by the layout before the
// packed one (an item per attempt keyed by delivery, and log items naming
// them) are listed beside packed ones, newest first, and found for replay.
func TestAttemptsPreviousLayout(t *testing.T) {
	s, env := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	prev := []connections.Attempt{mkAttempt(base, "msg_p0", 1), mkAttempt(base+2, "msg_p1", 1), mkAttempt(base+4, "msg_p2", 1)}
	if err := ddbstore.AddAttemptsPrevious(ctx, env.DDB, env.OpsTable, "t", "k", prev); err != nil {
		t.Fatal(err)
	}
	packed := []connections.Attempt{mkAttempt(base+1, "msg_n1", 1), mkAttempt(base+3, "msg_p1", 2), mkAttempt(base+5, "msg_n5", 1)}
	for _, a := range packed {
		if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Attempts(ctx, "t", "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []connections.Attempt{packed[2], prev[2], packed[1], prev[1], packed[0], prev[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Attempts = %+v\nwant %+v", got, want)
	}
	if got, err := s.Attempts(ctx, "t", "k", 2); err != nil || !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("Attempts(2) = %+v, %v", got, err)
	}
	for _, c := range []struct {
		id   string
		want connections.Attempt
	}{{"msg_p0", prev[0]}, {"msg_p2", prev[2]}, {"msg_p1", packed[1]}, {"msg_n5", packed[2]}} {
		if got, err := s.FindAttempt(ctx, "t", "k", c.id); err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("FindAttempt(%s) = %+v, %v; want %+v", c.id, got, err, c.want)
		}
	}
}

// TestFindAttemptThroughPointer: a failed delivery whose attempts are
// further back than FindAttempt's Query of packed items reads is found
// through its pointer item; a successful one that far back is not.
func TestFindAttemptThroughPointer(t *testing.T) {
	s, _ := newConnections(t)
	ctx := t.Context()
	const base = int64(1_700_000_000_000)
	failed := []connections.Attempt{mkAttempt(base, "msg_f", 1), mkAttempt(base+5000, "msg_f", 2)}
	ok := mkAttempt(base+1, "msg_ok", 1)
	ok.Outcome, ok.HTTPCode, ok.Error = connections.OutcomeSuccess, 200, ""
	if err := s.AddAttempts(ctx, []connections.ConnAttempt{{TenantID: "t", ConnectionID: "k", Attempt: failed[0]}, {TenantID: "t", ConnectionID: "k", Attempt: ok}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttempt(ctx, "t", "k", failed[1]); err != nil {
		t.Fatal(err)
	}
	// Newer items filling more than one 1 MB page (bodies that do not
	// compress).
	for i := range 6 {
		a := mkAttempt(base+10_000+int64(i), fmt.Sprintf("msg_big%d", i), 1)
		a.Outcome, a.RequestBody = connections.OutcomeSuccess, noise(i, 300<<10)
		if err := s.AddAttempt(ctx, "t", "k", a); err != nil {
			t.Fatal(err)
		}
	}
	ddbstore.SetFindPages(t, 1)
	if got, err := s.FindAttempt(ctx, "t", "k", "msg_f"); err != nil || !reflect.DeepEqual(got, failed[1]) {
		t.Fatalf("FindAttempt(msg_f) = %+v, %v; want its latest attempt, through its pointer", got, err)
	}
	_, err := s.FindAttempt(ctx, "t", "k", "msg_ok")
	wantNotFound(t, "FindAttempt of a successful delivery beyond the pages read", err)
	for _, id := range []string{"msg_", "msg_f#1700"} {
		_, err := s.FindAttempt(ctx, "t", "k", id)
		wantNotFound(t, "FindAttempt("+id+")", err)
	}
}

// noise is n bytes of base64 that gzip cannot shrink much.
func noise(seed, n int) string {
	r := rand.New(rand.NewPCG(uint64(seed), 42))
	b := make([]byte, n*3/4)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// withoutHours splits a partition's sort keys: the hourly counters' (HR#)
// apart.
func withoutHours(sks []string) (rest, hours []string) {
	for _, sk := range sks {
		if strings.HasPrefix(sk, "HR#") {
			hours = append(hours, sk)
		} else {
			rest = append(rest, sk)
		}
	}
	return rest, hours
}
