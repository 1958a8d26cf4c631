package main

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// addZoneInfo points a function that loads time zones (routes.ZoneReaders)
// at the zone database in its asset: Go's zoneinfo.zip, which `make build`
// puts beside its bootstrap and Lambda unpacks in /var/task. The
// provided.al2023 runtime has no zone database of its own.
func addZoneInfo(fn awslambda.Function, name string) {
	if slices.Contains(routes.ZoneReaders, name) {
		fn.AddEnvironment(jsii.String(routes.ZoneInfoEnv), jsii.String(routes.ZoneInfoPath), nil)
	}
}

// assetFiles are the files a function's asset must hold: its bootstrap,
// and the zone database for a zone reader.
func assetFiles(name string) []string {
	if slices.Contains(routes.ZoneReaders, name) {
		return []string{"bootstrap", routes.ZoneInfoFile}
	}
	return []string{"bootstrap"}
}
