package ddbstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/tenancy"
)

func newWhatsApp(t *testing.T) (*tenancy.Service, *ddbstore.Tenancy, *emulators.TestEnv) {
	t.Helper()
	env := emulators.ForTest(t)
	store := &ddbstore.Tenancy{API: env.DDB, Table: env.Table}
	return &tenancy.Service{Store: store, Now: time.Now, Instances: store}, store, env
}

func waChannel(t *testing.T, svc *tenancy.Service, kind string) tenancy.Channel {
	t.Helper()
	nt, err := svc.CreateTenant(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.CreateChannel(t.Context(), nt.Tenant.ID, tenancy.ChannelInput{Kind: kind, Name: "WA", DefaultCountry: "PK"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWhatsAppCredentials(t *testing.T) {
	svc, store, env := newWhatsApp(t)
	ctx := t.Context()
	a := waChannel(t, svc, "whatsapp")
	if a.InstanceID == 0 {
		t.Fatal("a whatsapp channel gets an instance id at creation")
	}
	if m := waChannel(t, svc, "messenger"); m.InstanceID != 0 {
		t.Fatal("a messenger channel got an instance id")
	}
	if tid, cid, err := store.ChannelByInstance(ctx, a.InstanceID); err != nil || tid != a.TenantID || cid != a.ID {
		t.Fatalf("instance lookup: %s %s %v", tid, cid, err)
	}
	if _, err := store.WhatsAppCredentials(ctx, a.TenantID, a.ID); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("no credentials yet: %v", err)
	}
	in := tenancy.WhatsAppInput{AccessToken: "EAAtoken1", PhoneNumberID: "1001", WABAID: "2001", AppSecret: "secret1", VerifyToken: "verify1"}
	// The first call needs all five.
	partial := in
	partial.WABAID = ""
	if _, err := svc.SetWhatsApp(ctx, store, a.TenantID, a.ID, partial); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("partial first set: %v", err)
	}
	ch, err := svc.SetWhatsApp(ctx, store, a.TenantID, a.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if ch.InstanceID != a.InstanceID || ch.WhatsApp == nil || ch.WhatsApp.PhoneNumberID != "1001" || !ch.WhatsApp.Configured {
		t.Fatalf("answer %+v", ch)
	}
	got, err := store.GetChannel(ctx, a.TenantID, a.ID)
	if err != nil || got.InstanceID != a.InstanceID || got.WhatsApp == nil || got.WhatsApp.WABAID != "2001" {
		t.Fatalf("stored channel %+v %v", got, err)
	}
	if cs, _ := store.ListChannels(ctx, a.TenantID); len(cs) != 1 {
		t.Fatalf("the credentials item is listed as a channel: %+v", cs)
	}
	c, err := store.WhatsAppCredentials(ctx, a.TenantID, a.ID)
	if err != nil || c.AccessToken.Reveal() != "EAAtoken1" || c.AppSecret.Reveal() != "secret1" || c.VerifyHash != tenancy.Hash("verify1") {
		t.Fatalf("credentials %v", err)
	}
	rt, err := store.WhatsAppByPhone(ctx, "1001")
	if err != nil || rt.TenantID != a.TenantID || rt.ChannelID != a.ID || rt.AppSecret.Reveal() != "secret1" || rt.DefaultCountry != "PK" {
		t.Fatalf("by phone %+v %v", rt, err)
	}
	if ok, err := store.WhatsAppVerifyToken(ctx, tenancy.Hash("verify1")); !ok || err != nil {
		t.Fatalf("verify token: %v %v", ok, err)
	}

	// Another tenant's channel cannot take the phone number id.
	b := waChannel(t, svc, "whatsapp")
	if b.InstanceID == a.InstanceID {
		t.Fatal("two channels share an instance id")
	}
	other := in
	other.WABAID = "2002"
	if _, err := svc.SetWhatsApp(ctx, store, b.TenantID, b.ID, other); !apperr.Is(err, apperr.KindExists) {
		t.Fatalf("phone taken: %v", err)
	}

	// Rotating the token alone keeps the rest; moving the number and the
	// verify token moves their lookups.
	if _, err := svc.SetWhatsApp(ctx, store, a.TenantID, a.ID, tenancy.WhatsAppInput{AccessToken: "EAAtoken2"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.WhatsAppCredentials(ctx, a.TenantID, a.ID); c.AccessToken.Reveal() != "EAAtoken2" || c.PhoneNumberID != "1001" || c.AppSecret.Reveal() != "secret1" {
		t.Fatalf("after rotation %+v", c)
	}
	if _, err := svc.SetWhatsApp(ctx, store, a.TenantID, a.ID, tenancy.WhatsAppInput{PhoneNumberID: "1002", VerifyToken: "verify2", WABAID: "2003"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.WhatsAppByPhone(ctx, "1001"); !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("old phone still routes: %v", err)
	}
	if ok, _ := store.WhatsAppVerifyToken(ctx, tenancy.Hash("verify1")); ok {
		t.Fatal("old verify token still answers")
	}
	if rts, _ := store.WhatsAppByWABA(ctx, "2001"); len(rts) != 0 {
		t.Fatalf("old WABA still lists the channel: %+v", rts)
	}
	if rts, err := store.WhatsAppByWABA(ctx, "2003"); err != nil || len(rts) != 1 || rts[0].ChannelID != a.ID || rts[0].PhoneNumberID != "1002" {
		t.Fatalf("by WABA %+v %v", rts, err)
	}
	// Now b may take 1001.
	if _, err := svc.SetWhatsApp(ctx, store, b.TenantID, b.ID, other); err != nil {
		t.Fatalf("freed phone: %v", err)
	}
	// Not a whatsapp channel; bad ids.
	m := waChannel(t, svc, "messenger")
	if _, err := svc.SetWhatsApp(ctx, store, m.TenantID, m.ID, in); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("messenger channel: %v", err)
	}
	for _, bad := range []tenancy.WhatsAppInput{{PhoneNumberID: "12a"}, {WABAID: "-1"}, {AccessToken: "with space"}, {AppSecret: strings.Repeat("x", 201)}} {
		if _, err := svc.SetWhatsApp(ctx, store, a.TenantID, a.ID, bad); !apperr.Is(err, apperr.KindInvalid) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// A channel made before instance ids gets one when its credentials are set.
	old := tenancy.Channel{ID: tenancy.NewID("ch"), TenantID: a.TenantID, Kind: tenancy.WhatsApp, Name: "old", DefaultCountry: "PK"}
	if err := store.CreateChannel(ctx, old); err != nil {
		t.Fatal(err)
	}
	ch, err = svc.SetWhatsApp(ctx, store, a.TenantID, old.ID, tenancy.WhatsAppInput{AccessToken: "t", PhoneNumberID: "1003", WABAID: "2003", AppSecret: "s", VerifyToken: "v"})
	if err != nil || ch.InstanceID == 0 || ch.InstanceID == a.InstanceID || ch.InstanceID == b.InstanceID {
		t.Fatalf("late instance id %d: %v", ch.InstanceID, err)
	}
	_ = env
}

// Instance ids are unique under concurrent allocation.
func TestInstanceIDsUniqueUnderConcurrency(t *testing.T) {
	svc, store, _ := newWhatsApp(t)
	nt, err := svc.CreateTenant(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	ids := make(chan int64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := svc.CreateChannel(context.Background(), nt.Tenant.ID, tenancy.ChannelInput{Kind: "whatsapp", Name: "WA", DefaultCountry: "PK"})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- c.InstanceID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if id <= 0 || seen[id] {
			t.Fatalf("instance id %d given twice (or not positive)", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d ids for %d channels", len(seen), n)
	}
	cs, err := store.ListChannels(t.Context(), nt.Tenant.ID)
	if err != nil || len(cs) != n {
		t.Fatalf("%d channels: %v", len(cs), err)
	}
	for _, c := range cs {
		if _, cid, err := store.ChannelByInstance(t.Context(), c.InstanceID); err != nil || cid != c.ID {
			t.Fatalf("instance %d: %s %v", c.InstanceID, cid, err)
		}
	}
}

func TestWAMarksAndInbox(t *testing.T) {
	env := emulators.ForTest(t)
	ctx := t.Context()
	marks := &ddbstore.WAMarks{API: env.DDB, OpsTable: env.OpsTable}
	if seen, err := marks.Seen(ctx, "ten_1", "ch_1", "wamid.1"); seen || err != nil {
		t.Fatalf("%v %v", seen, err)
	}
	if err := marks.Mark(ctx, "ten_1", "ch_1", "wamid.1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if seen, _ := marks.Seen(ctx, "ten_1", "ch_1", "wamid.1"); !seen {
		t.Fatal("not seen after the mark")
	}
	if seen, _ := marks.Seen(ctx, "ten_1", "ch_2", "wamid.1"); seen {
		t.Fatal("another channel's mark")
	}
	// The mark is on the operations table, with a TTL.
	out, err := env.DDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(env.OpsTable)})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	if pk := out.Items[0]["PK"].(*types.AttributeValueMemberS).Value; pk != "WAMSG#ten_1#ch_1#wamid.1" || out.Items[0][ddbstore.TTLAttribute] == nil {
		t.Fatalf("mark %v", out.Items[0])
	}
}
