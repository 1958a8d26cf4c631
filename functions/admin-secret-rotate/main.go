// Command admin-secret-rotate is the Lambda behind its admin API route (shared/routes); it
// changes credentials, so it flushes API Gateway's authorizer cache
// (shared/authcache/awsflush: only the functions that flush link that client).
package main

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/authcache/awsflush"
	"github.com/startmsg/chatbackend/shared/wiring"
)

func main() {
	wiring.StartAPI("admin-secret-rotate", adminapi.AdminSecretRotate, wiring.WithAuthCache(awsflush.New))
}
