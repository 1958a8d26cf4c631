package installapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

// gatedTx holds back transactions: each one waits for before (when set)
// before it reaches DynamoDB, as a slow network or a paused Lambda would.
type gatedTx struct {
	ddbstore.API
	before func()
}

func (g gatedTx) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if g.before != nil {
		g.before()
	}
	return g.API.TransactWriteItems(ctx, in, o...)
}

// process is another process's store on the stack's tables (a Lambda of
// add_message beside the stack's), its transactions held back by before.
func process(s *stacktest.Stack, before func()) *ddbstore.Installations {
	real := s.Deps.InstallationStore().(*ddbstore.Installations)
	return &ddbstore.Installations{API: gatedTx{API: real.API, before: before}, Table: real.Table, OpsTable: real.OpsTable}
}

// enqueue adds one message as add_message does, through store.
func enqueue(ctx context.Context, store installations.Store, in inst, text string) (installations.Entry, error) {
	m := messages.Message{ID: tenancy.NewID("msg"), TenantID: in.t.ID, ChannelID: in.t.ChannelID, ChannelKind: string(tenancy.WhatsApp),
		Direction: messages.Outbound, Type: messages.TypeText, Text: &messages.Text{Body: text}, To: "+972501234567",
		Status: messages.StatusQueued, InstallationID: in.uuid, CreatedAt: time.Now().UnixMilli()}
	e := installations.Entry{MessageID: m.ID, TenantID: m.TenantID, To: m.To, Text: text, CreatedAt: m.CreatedAt}
	return store.Enqueue(ctx, in.uuid, m, e, nil)
}

// drain pulls and acks until want messages came, checking that the
// sequence numbers handed out only go up; it returns the messages in the
// order they were handed out.
func drain(t *testing.T, s *stacktest.Stack, in inst, want int, last *int64, failed func() error) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < want {
		if err := failed(); err != nil {
			t.Fatalf("an add failed: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, %d of %d messages pulled", len(got), want)
		}
		ps := pull(t, s, in, "?max=5")
		for _, p := range ps {
			if p.Seq <= *last {
				t.Fatalf("pulled seq %d (%s) after seq %d: the order went back", p.Seq, p.Message, *last)
			}
			*last = p.Seq
			want := 200
			if r := ack(s, in, p.ID, p.Lease, "sent", ""); r.Status != want {
				t.Fatalf("ack %s: %d %s", p.ID, r.Status, r.Body)
			}
			got = append(got, p.Message)
		}
		if len(ps) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return got
}

func none() error { return nil }

// TestOrderWhileAnAddIsSlow: a message whose add is slow to land (its
// process paused between the write that numbers it and the one that
// stores it) must not let a later add's message be handed out before it
// and then appear behind it: whatever a pull hands out is the head of the
// queue, and the next pull goes on from there.
func TestOrderWhileAnAddIsSlow(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := process(s, func() {
		once.Do(func() { close(entered); <-release }) // the first transaction only
	})
	fast := process(s, nil)

	done := make(chan error, 1)
	go func() {
		_, err := enqueue(ctx, slow, in, "first")
		done <- err
	}()
	<-entered
	if _, err := enqueue(ctx, fast, in, "second"); err != nil {
		t.Fatal(err)
	}
	var last int64
	got := drain(t, s, in, 1, &last, none) // what is there now: "second"
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got = append(got, drain(t, s, in, 1, &last, none)...)
	if len(got) != 2 || got[0] == got[1] {
		t.Fatalf("handed out %v", got)
	}
	if ps := pull(t, s, in, ""); len(ps) != 0 {
		t.Fatalf("left: %+v", ps)
	}
}

// TestOrderUnderConcurrentAdds: several processes add messages to one
// installation at once, each transaction delayed at random, while the
// installed sender pulls and acks: the sequence numbers it gets only go
// up, and every message comes once, each process's in the order it added
// them.
func TestOrderUnderConcurrentAdds(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()
	const procs, each = 4, 12
	var failed atomic.Value
	var wg sync.WaitGroup
	for p := range procs {
		store := process(s, func() { time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond) })
		wg.Go(func() {
			for i := range each {
				if _, err := enqueue(ctx, store, in, fmt.Sprintf("p%d-%02d", p, i)); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	var last int64
	got := drain(t, s, in, procs*each, &last, func() error {
		err, _ := failed.Load().(error)
		return err
	})
	wg.Wait()
	next := map[string]int{}
	for _, m := range got {
		var p, i int
		if _, err := fmt.Sscanf(m, "p%d-%d", &p, &i); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprint(p)
		if i != next[k] {
			t.Fatalf("process %d's message %d came after its %d: %v", p, i, next[k]-1, got)
		}
		next[k]++
	}
	if ps := pull(t, s, in, ""); len(ps) != 0 {
		t.Fatalf("left: %+v", ps)
	}
}

// TestSequenceGoesOnFromTheState: an installation numbered while the
// counter was kept on its state item (seq there, no counter item) goes on
// from that number, so its new messages come after its old ones.
func TestSequenceGoesOnFromTheState(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()
	store := s.Deps.InstallationStore().(*ddbstore.Installations)
	old := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "INSTALLST#" + in.uuid}, "SK": &types.AttributeValueMemberS{Value: "STATE"},
		"seq": &types.AttributeValueMemberN{Value: "5"}, "seen": &types.AttributeValueMemberN{Value: "1"},
	}
	if _, err := store.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(store.OpsTable), Item: old}); err != nil {
		t.Fatal(err)
	}
	for want := int64(6); want <= 7; want++ {
		e, err := enqueue(ctx, store, in, fmt.Sprint(want))
		if err != nil || e.Seq != want {
			t.Fatalf("seq %d, %v; want %d", e.Seq, err, want)
		}
	}
	last := int64(5)
	if got := drain(t, s, in, 2, &last, none); got[0] != "6" || got[1] != "7" {
		t.Fatalf("handed out %v", got)
	}
}

// TestLeaseStopsAtTheFirstTaken: a page is leased in one transaction;
// when an entry in it is no longer free (another pull leased it, or it
// was acked), only the entries before it are leased, and none after it.
func TestLeaseStopsAtTheFirstTaken(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()
	store := s.Deps.InstallationStore()
	for i := range 5 {
		if _, err := enqueue(ctx, store, in, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	head, err := store.Head(ctx, in.uuid, 10)
	if err != nil || len(head) != 5 {
		t.Fatalf("head %+v, %v", head, err)
	}
	now := s.Clock.Now()
	lease := func(es []installations.Entry, tok string) int {
		t.Helper()
		for i := range es {
			es[i].Lease = fmt.Sprintf("%d.%s", es[i].Seq, tok)
		}
		n, err := store.Lease(ctx, in.uuid, es, tok, now, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Another pull holds the third.
	if n := lease(append([]installations.Entry(nil), head[2]), "other"); n != 1 {
		t.Fatalf("leased %d of the third alone", n)
	}
	if n := lease(append([]installations.Entry(nil), head...), "mine"); n != 2 {
		t.Fatalf("leased %d, want the two before the taken one", n)
	}
	got, err := store.Head(ctx, in.uuid, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		want := map[int]string{0: "mine", 1: "mine", 2: "other"}[i]
		if _, tok, _ := strings.Cut(e.Lease, "."); tok != want {
			t.Fatalf("entry %d leased to %q, want %q: %+v", i, tok, want, got)
		}
	}
	// The head itself taken: nothing.
	if n := lease(append([]installations.Entry(nil), head...), "late"); n != 0 {
		t.Fatalf("leased %d behind a leased head", n)
	}

	// A page of several transactions: those past the first entry not
	// leased give their leases back.
	in = newInstallation(t, s, `{"name":"Back office","use_api":true}`)
	for i := range 60 {
		if _, err := enqueue(ctx, store, in, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if head, err = store.Head(ctx, in.uuid, 100); err != nil || len(head) != 60 {
		t.Fatalf("head %d, %v", len(head), err)
	}
	if n := lease(append([]installations.Entry(nil), head[3]), "other"); n != 1 {
		t.Fatalf("leased %d of the fourth alone", n)
	}
	if n := lease(append([]installations.Entry(nil), head...), "mine"); n != 3 {
		t.Fatalf("leased %d of 60 with the fourth taken, want 3", n)
	}
	if got, err = store.Head(ctx, in.uuid, 100); err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		_, tok, _ := strings.Cut(e.Lease, ".")
		if want := map[bool]string{true: "mine", false: ""}[i < 3]; i != 3 && tok != want {
			t.Fatalf("entry %d leased to %q, want %q", i, tok, want)
		}
	}
}

// TestSequenceGoesOnFromSEQ: an installation numbered while the SEQ item
// alone was the counter (its state without seq) goes on after SEQ.
func TestSequenceGoesOnFromSEQ(t *testing.T) {
	s := stacktest.New(t)
	in := newInstallation(t, s, `{"name":"Front desk","use_api":true}`)
	ctx := context.Background()
	store := s.Deps.InstallationStore().(*ddbstore.Installations)
	for sk, v := range map[string]string{"SEQ": "5", "STATE": ""} {
		it := map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "INSTALLST#" + in.uuid}, "SK": &types.AttributeValueMemberS{Value: sk},
			"seen": &types.AttributeValueMemberN{Value: "1"},
		}
		if v != "" {
			it["seq"] = &types.AttributeValueMemberN{Value: v}
		}
		if _, err := store.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(store.OpsTable), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	var prev int64 = 5
	for i := range 2 {
		e, err := enqueue(ctx, store, in, fmt.Sprint(i))
		if err != nil || e.Seq <= prev {
			t.Fatalf("seq %d, %v; want past %d", e.Seq, err, prev)
		}
		prev = e.Seq
	}
	last := int64(5)
	if got := drain(t, s, in, 2, &last, none); got[0] != "0" || got[1] != "1" {
		t.Fatalf("handed out %v", got)
	}
}
