// Package registry gathers every API package's builders for the places that
// serve all routes in one process: the local gateway and the tests. Function
// binaries never import it; each imports only its own API package.
package registry

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/connectionapi"
	"github.com/startmsg/chatbackend/shared/contactapi"
	"github.com/startmsg/chatbackend/shared/contactinputapi"
	"github.com/startmsg/chatbackend/shared/dispatch"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/metaapi"
	"github.com/startmsg/chatbackend/shared/router"
)

// Packages are the API packages' builder maps by import path.
var Packages = map[string]lambdaapp.Builders{
	"github.com/startmsg/chatbackend/shared/adminapi":        adminapi.Functions,
	"github.com/startmsg/chatbackend/shared/connectionapi":   connectionapi.Functions,
	"github.com/startmsg/chatbackend/shared/contactapi":      contactapi.Functions,
	"github.com/startmsg/chatbackend/shared/contactinputapi": contactinputapi.Functions,
	"github.com/startmsg/chatbackend/shared/metaapi":         metaapi.Functions,
}

// All returns every builder by function name.
func All() lambdaapp.Builders {
	out := lambdaapp.Builders{}
	for _, p := range Packages {
		for name, b := range p {
			out[name] = b
		}
	}
	return out
}

// Streams are the table-stream consumers by function name
// (routes.EventFunctions with Source "stream").
var Streams = map[string]func(*lambdaapp.Deps) lambdaapp.StreamHandler{
	"trigger-router": router.Build,
}

// Queues are the deliveries-queue consumers by function name
// (routes.EventFunctions with Source "queue").
var Queues = map[string]func(*lambdaapp.Deps) lambdaapp.QueueHandler{
	"dispatcher": dispatch.Build,
}
