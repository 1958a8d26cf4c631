package main

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// CloudFormation takes at most 500 resources in one stack, and counts a
// nested stack's on their own. The functions live in nested stacks, one
// per API area, each function with its role (grants inline), log group and
// event source mapping (three or four resources). The root stack keeps
// what they share and what an upgrade must not replace: the KMS key, the
// tables, the queues, and the whole REST API (resource tree, one method
// per route with its integration, the invoke role, authorizers and the
// authorizer function, validator, models, deployment, stage, gateway
// responses), the WAF, the alarms and the outputs. A method stays in the
// root with the logical ID it had: moved into a nested stack, it would be
// created there before the root's was deleted, and API Gateway refuses a
// second method on a resource (409), so a deployed stack could not be
// upgraded. Each route function's ARN reaches the root as an output of
// its nested stack. Every stack keeps under maxStackResources
// (TestResourceBudget): each area has room for about 100 more functions
// (three or four resources each), the root for about 100 more routes (a
// method, and a resource per new path segment).
const maxStackResources = 400

// Nested stacks (construct IDs), one per API area, and the one for the
// functions no route calls (stream, queue and schedule consumers). The
// authorizer stays in the root stack, beside the API's authorizers.
const (
	areaContacts      = "Contacts"
	areaConnections   = "Connections"
	areaMessaging     = "Messaging"
	areaInstallations = "Installations"
	areaAdmin         = "Admin"
	areaWorkers       = "Workers"
)

// areas lists every nested stack; each is created with its first function.
var areas = []string{areaContacts, areaConnections, areaMessaging, areaInstallations, areaAdmin, areaWorkers}

// tagAreas puts each route's function into the nested stack of its
// route's Tag (the first route's, for a function with several). A route
// with a tag missing here stops the synth: add the tag to an area (or a
// new area to areas) when adding it to the route table.
var tagAreas = map[string]string{
	"meta":           areaContacts,
	"panel":          areaContacts,
	"contacts":       areaContacts,
	"contact fields": areaContacts,
	"actions":        areaContacts,
	"automations":    areaContacts,
	"connections":    areaConnections,
	"zapier":         areaConnections,
	"templates":      areaMessaging,
	"whatsapp":       areaMessaging,
	"messages":       areaMessaging,
	"twilio":         areaMessaging,
	"installations":  areaInstallations,
	"admin":          areaAdmin,
}

// areaOf names the nested stack of a function: "" for the root stack (the
// authorizer), its route's area, or the workers' for event functions.
func areaOf(spec fnSpec) string {
	switch {
	case spec.name == routes.Authorizer:
		return ""
	case !spec.route:
		return areaWorkers
	}
	area, ok := tagAreas[spec.tag]
	if !ok {
		panic(fmt.Sprintf("infra: function %q: route tag %q has no nested stack (tagAreas in infra/nested.go)", spec.name, spec.tag))
	}
	return area
}

// scopeOf is the stack a function's constructs go into: its area's nested
// stack, created on first use, or the root stack.
func (b *backend) scopeOf(spec fnSpec) constructs.Construct {
	area := areaOf(spec)
	if area == "" {
		return b.stack
	}
	if s, ok := b.nested[area]; ok {
		return s
	}
	if !slices.Contains(areas, area) {
		panic(fmt.Sprintf("infra: unknown nested stack %q", area))
	}
	s := awscdk.NewNestedStack(b.stack, jsii.String(area), &awscdk.NestedStackProps{
		Description: jsii.String("chatbackend-" + b.stage + ": " + area + " functions"),
	})
	b.nested[area] = s
	return s
}
