// Package events holds the project's event shapes and the sample events
// used by tests and `make invoke`: API Gateway REST proxy events
// (apigw/*.json, with the status each must get in expected-status.json) and
// a REQUEST authorizer event (authorizer/request.json), SQS messages
// (sqs/delivery.json for the dispatcher, sqs/outbox-message.json for the
// sender) and table stream records (stream/*.json: a contact write for the
// trigger router, a Messenger inbox item for its intake, a WhatsApp inbox
// item for the WhatsApp intake) and
// the scheduler's every-minute event (schedule/tick.json). Import it under an
// alias (appevents): aws-lambda-go has an events package too.
package events

import "embed"

// Samples are the sample events, by path (apigw/me.json, ...).
//
//go:embed apigw/*.json authorizer/*.json sqs/*.json stream/*.json schedule/*.json
var Samples embed.FS
