package messages

import (
	"strings"
	"testing"
)

func TestCheckPhoneText(t *testing.T) {
	for _, tc := range []struct {
		kind, text string
		ok         bool
	}{
		{"sms", "hello", true},
		{"sms", "  ", false},
		{"sms", strings.Repeat("é", MaxSMSChars), true},
		{"sms", strings.Repeat("é", MaxSMSChars+1), false},
		{"voice", strings.Repeat("a", MaxTwiMLChars-len("<Response><Say></Say></Response>")), true},
		{"voice", strings.Repeat("a", MaxTwiMLChars-len("<Response><Say></Say></Response>")+1), false},
		{"voice", strings.Repeat("<", 900), true},  // 900 characters, 3,632 of TwiML
		{"voice", strings.Repeat("&", 800), false}, // 800 characters, 4,032 of TwiML
	} {
		if err := CheckPhoneText(tc.kind, "text", tc.text); (err == nil) != tc.ok {
			t.Errorf("CheckPhoneText(%s, %d chars) = %v", tc.kind, len(tc.text), err)
		}
	}
}

func TestSayTwiML(t *testing.T) {
	got := SayTwiML("</Say><Dial>+15551234567</Dial> & 'x'\x00")
	want := "<Response><Say>&lt;/Say&gt;&lt;Dial&gt;+15551234567&lt;/Dial&gt; &amp; &apos;x&apos; </Say></Response>"
	if got != want {
		t.Fatalf("SayTwiML = %q, want %q", got, want)
	}
}
