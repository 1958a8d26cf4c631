// Command authorizer is the API Gateway REQUEST authorizer: channel API
// tokens and account secret keys (shared/authorizer).
package main

import "github.com/startmsg/chatbackend/shared/wiring"

func main() { wiring.StartAuthorizer() }
