// Command admin-secret-rotate is the Lambda behind its admin API route (shared/routes); it
// changes credentials, so it flushes API Gateway's authorizer cache
// (shared/authcache/awsflush: only the functions that flush link that client).
// An operator's call, seldom made: its stores stay on the SDK's DynamoDB
// client, so that the binary (with the API Gateway client) does not link
// the lean one too and stays within its size budget.
package main

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/authcache/awsflush"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPIWithSDKStores("admin-secret-rotate", adminapi.AdminSecretRotate, wiring.WithAuthCache(awsflush.New))
}
