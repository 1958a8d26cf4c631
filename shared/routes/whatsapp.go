package routes

// Leading keys of the WhatsApp items (shared/ddbstore/whatsapp.go and
// wainbound.go; schema.go's layout).
const (
	// Data table.
	KeyWAPhone     = "WAPHONE#*"   // a phone number id's channel, with its app secret (webhook)
	KeyWABA        = "WABA#*"      // a WABA id's channels, with their app secrets (template status webhook)
	KeyWAVerify    = "WAVERIFY#*"  // the channels of a verify token's hash (handshake)
	KeyWAInbox     = "WAINBOX#*"   // stored WhatsApp webhook calls, for whatsapp-intake
	KeyInstance    = "INSTANCE#*"  // an instance id's channel
	KeyInstanceSeq = "INSTANCESEQ" // the instance id counter
	// Operations table.
	KeyWAMark = "WAMSG#*" // marks of WhatsApp messages recorded, by wamid
)
