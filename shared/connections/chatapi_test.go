package connections

import (
	"encoding/json"
	"testing"
)

// TestChatAPIPayload: the chat-api webhook body a receiver written from
// seed 002 loops over: {"instanceId","messages":[…]}, each message with
// chat-api's keys; acks only when there are some.
func TestChatAPIPayload(t *testing.T) {
	b := ChatAPIPayload("777", []ChatAPIMessage{{ID: "wamid.1", Body: "hi", Type: "chat", SenderName: "Andrew",
		Author: ChatID("+79995253422"), Time: 1714560000, ChatID: ChatID("79995253422"), MessageNumber: 12}}, nil)
	want := `{"instanceId":"777","messages":[{"id":"wamid.1","body":"hi","type":"chat","senderName":"Andrew","fromMe":false,` +
		`"author":"79995253422@c.us","time":1714560000,"chatId":"79995253422@c.us","messageNumber":12}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b = ChatAPIPayload("777", nil, []ChatAPIAck{{ID: "wamid.2", ChatID: "79995253422@c.us", Status: "delivered"}})
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if msgs, ok := v["messages"].([]any); !ok || len(msgs) != 0 {
		t.Fatalf("messages must be an empty array for a receiver's loop: %s", b)
	}
	if acks, ok := v["ack"].([]any); !ok || len(acks) != 1 {
		t.Fatalf("ack: %s", b)
	}
}
