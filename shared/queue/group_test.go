package queue

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestGroups(t *testing.T) {
	if g := GroupID(""); g != nil {
		t.Errorf("GroupID(\"\") = %q, want nil", *g)
	}
	if g := aws.ToString(GroupID("ten_a")); g != "ten_a" {
		t.Errorf("GroupID = %q", g)
	}
	for body, want := range map[string]string{
		`{"id":"msg_1","tenant_id":"ten_b","attempts":2}`: "ten_b",
		`{"id":"msg_1"}`: "",
		`nope`:           "",
		`[]`:             "",
	} {
		if g := aws.ToString(GroupOfBody(body)); g != want {
			t.Errorf("GroupOfBody(%s) = %q, want %q", body, g, want)
		}
	}
}
