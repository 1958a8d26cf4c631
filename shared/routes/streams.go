package routes

// MoreStreamPrefixes are further partition-key prefixes a stream consumer
// acts on, beyond its EventFunction.KeyPrefix: the trigger router also
// routes new outbound messages (ddbstore.MessageKeyPrefix) to the outbox
// queue. The CDK app filters the consumer's event source on all of them.
var MoreStreamPrefixes = map[string][]string{
	"trigger-router": {"MSG#"},
}

// KeyPrefixes are every partition-key prefix the stream consumer acts on
// (none: every record).
func (e EventFunction) KeyPrefixes() []string {
	if e.KeyPrefix == "" {
		return nil
	}
	return append([]string{e.KeyPrefix}, MoreStreamPrefixes[e.Function]...)
}
