package appenv

// TwilioStatusCallbackURL is the public URL of Twilio's status callback
// route without its last two segments (…/v1/webhooks/twilio): the sender
// asks Twilio to post each SMS's and call's statuses to
// <it>/<tenant>/<channel>. Set by the CDK app (the stage's endpoint) and
// by the local stack (the local API's URL).
const TwilioStatusCallbackURL = "TWILIO_STATUS_CALLBACK_URL"
