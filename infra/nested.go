package main

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// CloudFormation takes at most 500 resources in one stack, nested stacks
// included (each counts on its own). The functions live in nested stacks,
// one per API area; the root stack keeps what they share: the KMS key, the
// tables, the queues, the REST API with its resource tree, authorizers
// (and the authorizer function), validator, models, deployment, stage and
// gateway responses, the WAF, the alarms and the outputs. A function is
// three resources (function, role with its inline policy, log group) plus
// one method per route, or its event source mapping: each stack keeps
// under maxStackResources (TestResourceBudget), which leaves every area
// room for about 40 more functions.
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

// areas is the order the nested stacks are declared in.
var areas = []string{areaContacts, areaConnections, areaMessaging, areaInstallations, areaAdmin, areaWorkers}

// tagAreas puts each route's function into the nested stack of its
// route's Tag (the first route's, for a function with several). A route
// with a tag missing here stops the synth: add the tag to an area (or a
// new area to areas) when adding it to the route table.
var tagAreas = map[string]string{
	"meta":           areaContacts,
	"contacts":       areaContacts,
	"contact fields": areaContacts,
	"actions":        areaContacts,
	"connections":    areaConnections,
	"zapier":         areaConnections,
	"templates":      areaMessaging,
	"whatsapp":       areaMessaging,
	"messages":       areaMessaging,
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
	b.areas[spec.name] = area
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

// invokeRoles are the roles API Gateway assumes to call the route
// functions, one per stack that holds route functions (by area, "" for
// the root stack): each may invoke exactly the route functions of its own
// stack, so no function ARN crosses stacks.
type invokeRoles map[string]awsiam.Role

// newInvokeRoles makes the invoke role of each stack holding some of fns.
func (b *backend) newInvokeRoles(fns []string) invokeRoles {
	byArea := map[string][]string{}
	var order []string
	for _, name := range fns {
		a := b.areas[name]
		if _, ok := byArea[a]; !ok {
			order = append(order, a)
		}
		byArea[a] = append(byArea[a], name)
	}
	roles := invokeRoles{}
	for _, a := range order {
		roles[a] = b.newInvokeRole(a, byArea[a])
	}
	return roles
}

// stackScope is the construct a stack's resources are declared in: the
// area's nested stack, or the root stack for "".
func (b *backend) stackScope(area string) constructs.Construct {
	if area == "" {
		return b.stack
	}
	return b.nested[area]
}
