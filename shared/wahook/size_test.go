package wahook_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// padded is a signed-able webhook call for phone of exactly n bytes (the
// call, then spaces: still one JSON document).
func padded(t *testing.T, phone string, n int) string {
	t.Helper()
	body := call(phone, 1)
	if len(body) > n {
		t.Fatalf("the call alone is %d bytes", len(body))
	}
	return body + strings.Repeat(" ", n-len(body))
}

// A WhatsApp webhook call over 256 KB is answered 413 in the envelope
// through the local gateway (whose own limit is API Gateway's, 10 MB) and
// nothing is stored; one of exactly 256 KB is taken.
func TestReceiveBodyLimit(t *testing.T) {
	s := stacktest.New(t)
	a := s.NewTenant("Acme", "whatsapp")
	secret := "appsecret-size-0123456789"
	phone := fmt.Sprint(time.Now().UnixNano() % 1e15)
	r := s.Admin("PUT", "/admin/tenants/"+a.ID+"/channels/"+a.ChannelID+"/whatsapp", map[string]any{"access_token": "EAAsize",
		"phone_number_id": phone, "waba_id": "102290129340398", "app_secret": secret, "verify_token": "verify-size-0123456789"})
	if r.Status != 200 {
		t.Fatalf("set credentials: %d %s", r.Status, r.Body)
	}
	inbox := func() int {
		out, err := s.Env.DDB.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String(s.Env.Table),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "WAINBOX#" + a.ID + "#" + a.ChannelID}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	for _, n := range []int{httpapi.MaxBodyBytes + 1, 300 << 10, 7 << 20} {
		r := signed(s, secret, padded(t, phone, n))
		var env struct {
			Status  string `json:"status"`
			Message string `json:"message"`
			Data    []any  `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &env); r.Status != 413 || err != nil || env.Status != "error" || env.Data == nil ||
			env.Message != "Request body is too large (max 256 KB)." {
			t.Fatalf("%d bytes: %d %.300s", n, r.Status, r.Body)
		}
	}
	if n := inbox(); n != 0 {
		t.Fatalf("%d inbox items stored from refused calls", n)
	}
	if r := signed(s, secret, padded(t, phone, httpapi.MaxBodyBytes)); r.Status != 200 {
		t.Fatalf("256 KB exactly: %d %.300s", r.Status, r.Body)
	}
	if n := inbox(); n != 1 {
		t.Fatalf("%d inbox items, want 1", n)
	}
}
