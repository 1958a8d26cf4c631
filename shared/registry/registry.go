// Package registry gathers every API package's builders for the places that
// serve all routes in one process: the local gateway and the tests. Function
// binaries never import it; each imports only its own API package.
package registry

import (
	"github.com/startmsg/chatbackend/shared/adminapi"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/metaapi"
)

// Packages lists the API packages' builder maps.
var Packages = []lambdaapp.Builders{
	adminapi.Functions,
	metaapi.Functions,
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
