package contacts

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/apperr"
)

// A contact filled within the API's own limits (88 custom values of 1,024
// four-byte characters) would pass DynamoDB's 400 KB item limit, tags
// aside: the byte budget refuses the write that would take it over, with a
// 413 naming the budget, and the stored contact stays within it.
func TestContactByteBudget(t *testing.T) {
	s, st := newTestService()
	sc := Scope{TenantID: "ten_budget", ChannelID: "ch_1"}
	big, _ := json.Marshal(strings.Repeat("😀", MaxValueLength))
	var ids []string
	for i := range MaxCustomValues {
		ids = append(ids, mustField(t, s, sc.TenantID, fmt.Sprintf("f%d", i), Text).ID)
	}
	c := mustCreate(t, s, sc, nil)
	var refused error
	for i := 0; i < len(ids) && refused == nil; i += MaxFieldsPerWrite {
		var batch []Input
		for _, id := range ids[i:min(i+MaxFieldsPerWrite, len(ids))] {
			batch = append(batch, Input{Name: id, Value: big})
		}
		_, refused = s.Update(bg, sc, c.ID, batch, nil)
	}
	for n := 0; refused == nil && n < MaxTags/MaxTagsPerCall; n++ {
		var tags []string
		for k := range MaxTagsPerCall {
			tags = append(tags, fmt.Sprintf("%03d-%s", n*MaxTagsPerCall+k, strings.Repeat("😀", MaxTagLength-4)))
		}
		_, refused = s.AddTags(bg, sc, c.ID, tags)
	}
	if !apperr.Is(refused, apperr.KindTooLarge) {
		t.Fatalf("filling a contact past its budget: %v, want a too-large error", refused)
	}
	if msg := refused.Error(); !strings.Contains(msg, fmt.Sprint(MaxContactBytes)) || !strings.Contains(msg, "256 KB") {
		t.Fatalf("the message does not name the budget: %s", msg)
	}
	stored, _ := st.stored(sc.TenantID, c.ID)
	if n := StoredBytes(stored); n > MaxContactBytes {
		t.Fatalf("stored contact is %d bytes, over the budget", n)
	}
	// Clearing values makes room again.
	if _, err := s.Update(bg, sc, c.ID, []Input{{Name: ids[0], Value: json.RawMessage(`""`)}}, nil); err != nil {
		t.Fatalf("clearing a value: %v", err)
	}
}

// The budget leaves room for what the API's per-write limits allow on a
// new contact (30 values of 1,024 four-byte characters), and counts a
// value's bytes, not its characters.
func TestContactByteBudgetOnCreate(t *testing.T) {
	s, _ := newTestService()
	sc := Scope{TenantID: "ten_budget", ChannelID: "ch_1"}
	big, _ := json.Marshal(strings.Repeat("😀", MaxValueLength))
	var in []Input
	for i := range MaxFieldsPerWrite {
		in = append(in, Input{Name: mustField(t, s, sc.TenantID, fmt.Sprintf("f%d", i), Text).ID, Value: big})
	}
	if _, err := s.Create(bg, sc, in, false); err != nil {
		t.Fatalf("30 values of 4 KB fit: %v", err)
	}
	if n := StoredBytes(Contact{Custom: map[string]string{"1": strings.Repeat("😀", MaxValueLength)}}); n < 4*MaxValueLength {
		t.Fatalf("StoredBytes counts %d bytes for a 4 KB value", n)
	}
}
