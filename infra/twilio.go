package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/routes"
)

// twilioStatusFunction serves Twilio's status callbacks; its route's path
// ends in /{tenantId}/{channelId}.
const twilioStatusFunction = "twilio-status"

// twilioSenders are the functions that ask Twilio for status callbacks.
var twilioSenders = []string{"sender"}

// addTwilioCallbacks gives the functions that send through Twilio the
// public URL of the status callback route without its last two segments
// (TWILIO_STATUS_CALLBACK_URL): each SMS and call asks Twilio to post its
// statuses to <it>/<tenant>/<channel>, the URL twilio-status checks the
// signature over. The URL is the stage's default endpoint, built from the
// API's ID and the stage's literal name (a Ref to the Stage, api.Url(),
// would close a dependency cycle: see addAuthCacheFlush).
func (b *backend) addTwilioCallbacks(api awsapigateway.RestApi) {
	rt, ok := routes.ByFunction(twilioStatusFunction)
	if !ok {
		return // a stack built from a partial table
	}
	path, ok := strings.CutSuffix(rt.Path, "/{tenantId}/{channelId}")
	if !ok {
		panic(fmt.Sprintf("infra: route of %s is %s, not …/{tenantId}/{channelId}", twilioStatusFunction, rt.Path))
	}
	url := fmt.Sprintf("https://%s.execute-api.%s.%s/%s%s", *api.RestApiId(), *awscdk.Aws_REGION(), *awscdk.Aws_URL_SUFFIX(), b.stage, path)
	for _, name := range twilioSenders {
		if fn, ok := b.functions[name]; ok {
			fn.AddEnvironment(jsii.String(appenv.TwilioStatusCallbackURL), jsii.String(url), nil)
		}
	}
}
