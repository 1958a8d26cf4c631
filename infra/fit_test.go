package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

// TestResourceBudget fails when one of a stage's stacks, the root or a
// nested one, passes maxStackResources, well before CloudFormation's 500
// per stack, naming the counts per type.
func TestResourceBudget(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		names := slices.Sorted(maps.Keys(f.stacks))
		total := 0
		for _, name := range names {
			res := f.stacks[name]
			byType := map[string]int{}
			for _, r := range res {
				byType[r["Type"].(string)]++
			}
			if name == "" {
				name = "root"
			}
			total += len(res)
			if n := len(res); n > maxStackResources {
				t.Errorf("%s: %d resources, more than the budget of %d per stack (CloudFormation refuses 500): %s",
					name, n, maxStackResources, resourceCounts(byType))
			} else {
				t.Logf("%s: %d resources: %s", name, n, resourceCounts(byType))
			}
		}
		t.Logf("%d stacks, %d resources in all", len(names), total)
	})
}

// TestNestedStacks: the root stack keeps what the functions share (key,
// tables, queues, the whole REST API with its methods and invoke role,
// the authorizer function, WAF, alarms), so that those keep their logical
// IDs; every other function, with its role, log group and event source
// mapping, is in its area's nested stack; each area holds the functions
// of its route tags (tagAreas), the workers' stack the event functions.
func TestNestedStacks(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, typ := range []string{"AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::ApiGateway::RestApi",
			"AWS::ApiGateway::Resource", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::Authorizer",
			"AWS::ApiGateway::GatewayResponse", "AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator", "AWS::ApiGateway::Method", "AWS::WAFv2::WebACL",
			"AWS::WAFv2::WebACLAssociation", "AWS::ApiGateway::Account"} {
			for _, id := range f.ofType(typ) {
				if f.stackOf[id] != "" {
					t.Errorf("%s %s is in the nested stack %s, want the root", typ, id, f.stackOf[id])
				}
			}
		}
		for _, s := range functionSpecs(f.routes, f.events) {
			var want string
			switch {
			case s.name == routes.Authorizer:
			case !s.route:
				want = areaWorkers
			default:
				want = tagAreas[s.tag]
				if want == "" {
					t.Errorf("%s: tag %q has no area", s.name, s.tag)
				}
			}
			id := f.functionID(t, s.name)
			role := refs(f.props(id)["Role"])
			logs := refs(f.props(id)["LoggingConfig"])
			if got := f.stackOf[id]; got != want {
				t.Errorf("%s: in stack %q, want %q", s.name, got, want)
			}
			for _, other := range append(role, logs...) {
				if f.stackOf[other] != want {
					t.Errorf("%s: its %s is in stack %q, want %q", s.name, other, f.stackOf[other], want)
				}
			}
		}
		for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
			fn := refs(f.props(id)["FunctionName"])
			if len(fn) != 1 || f.stackOf[id] != f.stackOf[fn[0]] {
				t.Errorf("event source mapping %s in stack %q, its function %v elsewhere", id, f.stackOf[id], fn)
			}
		}
		// Cross-stack references stay few: each nested stack's parameters
		// (the shared resources' names and ARNs) and the outputs the root
		// reads (its route functions' ARNs).
		for _, sid := range slices.Sorted(maps.Keys(f.nestedIn)) {
			area := f.nestedIn[sid]
			params, _ := f.props(sid)["Parameters"].(map[string]any)
			t.Logf("%s: %d parameters, %d outputs", area, len(params), f.nestedOutputs[sid])
			if len(params) > maxNestedParameters || f.nestedOutputs[sid] > maxNestedOutputs {
				t.Errorf("%s: %d parameters and %d outputs, want at most %d and %d", area, len(params), f.nestedOutputs[sid],
					maxNestedParameters, maxNestedOutputs)
			}
		}
	})
}

// maxNestedParameters and maxNestedOutputs bound a nested stack's
// cross-stack references (CloudFormation takes 200 parameters and 200
// outputs): the shared resources' names and ARNs in, one ARN per route
// function out.
const (
	maxNestedParameters = 40
	maxNestedOutputs    = 100
)

// TestAreaOfUnknownTag: a route whose tag no area takes stops the synth.
func TestAreaOfUnknownTag(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "tagAreas") {
			t.Errorf("recovered %v, want a panic naming tagAreas", r)
		}
	}()
	areaOf(fnSpec{name: "x", route: true, tag: "no such tag"})
}

// TestResourceCounts checks the formatting the budget's message uses.
func TestResourceCounts(t *testing.T) {
	got := resourceCounts(map[string]int{"AWS::IAM::Role": 2, "AWS::Lambda::Function": 2, "AWS::SQS::Queue": 3})
	want := "AWS::SQS::Queue (3), AWS::IAM::Role (2), AWS::Lambda::Function (2)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestInlinePolicies: a function's grants are in its role (inline), not in
// an AWS::IAM::Policy of their own; TestLeastPrivilege and TestKeyWalls
// check what they grant.
func TestInlinePolicies(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, name := range f.functionNames() {
			role := refs(f.props(f.functionID(t, name))["Role"])
			if len(role) != 1 {
				t.Fatalf("%s: role %v", name, role)
			}
			for _, pid := range f.ofType("AWS::IAM::Policy") {
				if refersTo(f.props(pid)["Roles"], role[0]) {
					t.Errorf("%s: its role has a separate policy %s", name, pid)
				}
			}
			if pols, _ := f.props(role[0])["Policies"].([]any); len(pols) != 1 {
				t.Errorf("%s: %d inline policies, want 1", name, len(pols))
			}
		}
		// The policies taken out leave no dangling DependsOn behind.
		for id, r := range f.res {
			for _, dep := range strs(r["DependsOn"]) {
				if _, ok := f.res[dep]; !ok {
					t.Errorf("%s depends on %s, which is not in the template", id, dep)
				}
			}
		}
	})
}

// invokeRoleIDs are the logical IDs of the roles API Gateway invokes the
// route functions with (invokeRoles), in that order.
func (f *fixture) invokeRoleIDs(t *testing.T) []string {
	t.Helper()
	out := make([]string, len(invokeRoles))
	for i, id := range invokeRoles {
		out[i] = f.idOf(t, "AWS::IAM::Role", id)
	}
	return out
}

// invokeGrants are the grants of every invoke role.
func (f *fixture) invokeGrants(t *testing.T) []grant {
	var gs []grant
	for _, id := range f.invokeRoleIDs(t) {
		gs = append(gs, f.roleGrants(id)...)
	}
	return gs
}

// TestInvokeRole: API Gateway invokes the route functions with the invoke
// roles, which together may invoke exactly them (not the authorizer, not
// the stream and queue consumers), each route function with one role, and
// do nothing else; only API Gateway may assume them. No route function has
// a resource-policy permission of its own; the authorizer keeps its
// (TestAuthorizers).
func TestInvokeRole(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, id := range f.invokeRoleIDs(t) {
			p := f.props(id)
			trust, _ := json.Marshal(p["AssumeRolePolicyDocument"])
			if !strings.Contains(string(trust), `"Service":"apigateway.amazonaws.com"`) || strings.Count(string(trust), `"Principal"`) != 1 {
				t.Errorf("%s: trust policy %s, want API Gateway alone", id, trust)
			}
			if _, ok := p["ManagedPolicyArns"]; ok {
				t.Errorf("%s: managed policies %v", id, p["ManagedPolicyArns"])
			}
		}
		routeFns := map[string]bool{}
		for _, r := range f.routes {
			routeFns[r.Function] = true
		}
		gs := f.invokeGrants(t)
		for _, g := range gs {
			if g.action != "lambda:InvokeFunction" || g.condition != nil {
				t.Errorf("grant %v, want lambda:InvokeFunction only", g)
			}
		}
		var invoked int
		for _, name := range f.functionNames() {
			fid := f.functionID(t, name)
			may := allows(gs, "lambda:InvokeFunction", fid)
			if may {
				invoked++
			}
			roles := 0
			for _, id := range f.invokeRoleIDs(t) {
				if allows(f.roleGrants(id), "lambda:InvokeFunction", fid) {
					roles++
				}
			}
			if may && roles != 1 {
				t.Errorf("%s: %d invoke roles may invoke it, want one", name, roles)
			}
			if may != routeFns[name] {
				t.Errorf("%s: invoke role may invoke it: %v, serves a route: %v", name, may, routeFns[name])
			}
			for _, pid := range f.ofType("AWS::Lambda::Permission") {
				if refersTo(f.props(pid)["FunctionName"], fid) && name != routes.Authorizer && !scheduled(f, name) {
					t.Errorf("%s: resource-policy permission %s", name, pid)
				}
			}
		}
		if n := len(f.ofType("AWS::Lambda::Permission")) - scheduledCount(f); n == 0 || n > 2 {
			t.Errorf("%d Lambda permissions beside the schedule rules', want the authorizer's (one per authorizer)", n)
		}
		// Every resource is a function's ARN (Fn::GetAtt), none a wildcard.
		for _, g := range gs {
			list, ok := g.resource.([]any)
			if !ok {
				list = []any{g.resource}
			}
			for _, r := range list {
				m, _ := r.(map[string]any)
				att, _ := m["Fn::GetAtt"].([]any)
				if len(m) != 1 || len(att) != 2 || att[1] != "Arn" || f.res[att[0].(string)]["Type"] != "AWS::Lambda::Function" {
					t.Errorf("invoke grant on %v, want a function's ARN", r)
				}
			}
		}
		if invoked != len(routeFns) {
			t.Errorf("invoke role covers %d functions, want %d", invoked, len(routeFns))
		}
	})
}

// TestInvokeRolePolicySize: IAM takes at most 10,240 characters of inline
// policy per role. An invoke role names each of its route functions' ARN,
// so it grows with its areas; counted here with the longest ARN a function can
// have (a 64-character name in the longest partition and region).
func TestInvokeRolePolicySize(t *testing.T) {
	const (
		maxInline = 10240
		longest   = len(`"arn:aws-us-gov:lambda:ap-southeast-3:123456789012:function:",`) + 64
		overhead  = 200 // version, statement, effect, action, policy name
	)
	each(t, func(t *testing.T, f *fixture) {
		for _, id := range f.invokeRoleIDs(t) {
			var n int
			for _, g := range f.roleGrants(id) {
				if list, ok := g.resource.([]any); ok {
					n += len(list)
				} else {
					n++
				}
			}
			if size := overhead + n*longest; size > maxInline {
				t.Errorf("invoke role %s's policy may reach %d characters for %d functions, IAM takes %d: split it (another role: invokeRoleOf)",
					id, size, n, maxInline)
			}
		}
	})
}
