package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// inlinePolicies moves each function role's grants from the separate
// AWS::IAM::Policy CDK makes for them (the role's DefaultPolicy) into the
// role itself (its Policies property): the same statements, one resource
// fewer per function. It runs last, once every grant has been added; a
// grant added after it would be lost, so NewBackendStack calls it at the
// very end.
func (b *backend) inlinePolicies() {
	names := make([]string, 0, len(b.roles))
	for name := range b.roles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		role := b.roles[name]
		child := role.Node().TryFindChild(jsii.String("DefaultPolicy"))
		if child == nil {
			continue // no grant at all
		}
		pol, ok := child.(awsiam.Policy)
		if !ok {
			panic(fmt.Sprintf("infra: %s: the role's default policy is a %T", name, child))
		}
		cfn, ok := role.Node().DefaultChild().(awsiam.CfnRole)
		if !ok {
			panic(fmt.Sprintf("infra: %s: the role's resource is not an AWS::IAM::Role", name))
		}
		cfn.SetPolicies(&[]any{&awsiam.CfnRole_PolicyProperty{
			PolicyName:     jsii.String(constructID(name)),
			PolicyDocument: pol.Document(),
		}})
		if !*role.Node().TryRemoveChild(jsii.String("DefaultPolicy")) {
			panic(fmt.Sprintf("infra: %s: could not remove the role's default policy", name))
		}
	}
}

// newInvokeRole is a role API Gateway assumes to call route functions
// (the integrations' credentials), instead of one AWS::Lambda::Permission
// per method: lambda:InvokeFunction on exactly the functions fns, nothing
// else. Its statements are inline. It is the root stack's, beside the
// methods; the functions' ARNs come from their nested stacks' outputs.
func (b *backend) newInvokeRole(id string, fns []string) awsiam.Role {
	arns := make([]*string, 0, len(fns))
	for _, name := range fns {
		arns = append(arns, b.functions[name].FunctionArn())
	}
	return awsiam.NewRole(b.stack, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway " + b.stage + ": invokes the route functions" + invokeRoleScope[id]),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"InvokeRouteFunctions": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions:   jsii.Strings("lambda:InvokeFunction"),
					Resources: &arns,
				})},
			}),
		},
	})
}

// The invoke roles (construct IDs). IAM takes at most 10,240 characters of
// inline policy per role, and each route function's ARN is one entry, so
// one role for the whole API ran out of room at about 80 functions
// (TestInvokeRolePolicySize): the messaging areas' functions (templates,
// seed 002, messages, installations) are invoked with a role of their own,
// the others with the first one, which keeps its logical ID.
const (
	invokeRole          = "ApiInvokeRole"
	invokeRoleMessaging = "ApiInvokeRoleMessaging"
)

// invokeRoles lists the invoke roles in the order they are made.
var invokeRoles = []string{invokeRole, invokeRoleMessaging}

var invokeRoleScope = map[string]string{invokeRoleMessaging: " of the messaging and installations areas"}

// invokeRoleOf is the invoke role of the functions of a nested stack area.
func invokeRoleOf(area string) string {
	if area == areaMessaging || area == areaInstallations {
		return invokeRoleMessaging
	}
	return invokeRole
}

// lambdaProxy is API Gateway's Lambda proxy integration of fn with the
// invoke role as its credentials. (CDK's LambdaIntegration always adds a
// resource policy permission per method, which the role replaces.)
func lambdaProxy(fn awslambda.Function, role awsiam.IRole) awsapigateway.Integration {
	return awsapigateway.NewAwsIntegration(&awsapigateway.AwsIntegrationProps{
		Proxy:   jsii.Bool(true),
		Service: jsii.String("lambda"),
		Path:    jsii.String("2015-03-31/functions/" + *fn.FunctionArn() + "/invocations"),
		Options: &awsapigateway.IntegrationOptions{CredentialsRole: role},
	})
}

// resourceCounts formats per-type resource counts, largest first.
func resourceCounts(byType map[string]int) string {
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b string) int {
		if byType[a] != byType[b] {
			return byType[b] - byType[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s (%d)", t, byType[t])
	}
	return strings.Join(parts, ", ")
}
