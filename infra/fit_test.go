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
// tables, queues, the REST API and its stage, authorizers and the
// authorizer function, WAF, alarms); every other function, with its role,
// log group, methods and event source mapping, is in its area's nested
// stack; each area holds the functions of its route tags (tagAreas), the
// event functions the workers' stack.
func TestNestedStacks(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, typ := range []string{"AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::ApiGateway::RestApi",
			"AWS::ApiGateway::Resource", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::Authorizer",
			"AWS::ApiGateway::GatewayResponse", "AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator", "AWS::WAFv2::WebACL"} {
			for _, id := range f.ofType(typ) {
				if f.stackOf[id] != "" {
					t.Errorf("%s %s is in the nested stack %s, want the root", typ, id, f.stackOf[id])
				}
			}
		}
		areaOfFn := map[string]string{}
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
			areaOfFn[id] = want
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
		for _, m := range f.methods() {
			integ, _ := m.props["Integration"].(map[string]any)
			for _, fid := range refs(integ["Uri"]) {
				if want, ok := areaOfFn[fid]; ok && f.stackOf[m.id] != want {
					t.Errorf("%s %s: method in stack %q, its function in %q", m.verb, m.path, f.stackOf[m.id], want)
				}
			}
		}
		for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
			fn := refs(f.props(id)["FunctionName"])
			if len(fn) != 1 || f.stackOf[id] != f.stackOf[fn[0]] {
				t.Errorf("event source mapping %s in stack %q, its function %v elsewhere", id, f.stackOf[id], fn)
			}
		}
		// The stage is deployed after every method, whichever its stack:
		// the deployment depends on each nested stack that holds one.
		deps := f.ofType("AWS::ApiGateway::Deployment")
		if len(deps) != 1 {
			t.Fatalf("deployments %v", deps)
		}
		for _, m := range f.methods() {
			if area := f.stackOf[m.id]; area != "" {
				sid := ""
				for id, a := range f.nestedIn {
					if a == area {
						sid = id
					}
				}
				if !slices.Contains(strs(f.res[deps[0]]["DependsOn"]), sid) {
					t.Errorf("the deployment does not depend on the nested stack %s (%s), which holds %s %s", sid, area, m.verb, m.path)
				}
			}
		}
		// Cross-stack references stay few: each nested stack's parameters.
		for sid, area := range f.nestedIn {
			params, _ := f.props(sid)["Parameters"].(map[string]any)
			t.Logf("%s: %d parameters", area, len(params))
			if len(params) > maxNestedParameters {
				t.Errorf("%s: %d parameters, more than %d", area, len(params), maxNestedParameters)
			}
		}
	})
}

// maxNestedParameters bounds a nested stack's parameters (CloudFormation
// takes 200): the shared resources' names and ARNs, and the API's IDs
// (API, resources, authorizers, validator, models) its methods use.
const maxNestedParameters = 100

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
// route functions with, by stack (area): one in each stack that holds
// route functions.
func (f *fixture) invokeRoleIDs(t *testing.T) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, id := range f.ofType("AWS::IAM::Role") {
		if strings.HasPrefix(id, "ApiInvokeRole") {
			area := f.stackOf[id]
			if _, dup := ids[area]; dup {
				t.Fatalf("two invoke roles in stack %q", area)
			}
			ids[area] = f.idOf(t, "AWS::IAM::Role", "ApiInvokeRole"+area)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no invoke role")
	}
	return ids
}

// TestInvokeRole: API Gateway invokes the route functions with one role
// per stack that may invoke exactly that stack's route functions (not the
// authorizer, not the stream and queue consumers, not another stack's)
// and do nothing else; only API Gateway may assume it. No route function
// has a resource-policy permission of its own; the authorizer keeps its
// (TestAuthorizers).
func TestInvokeRole(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		roles := f.invokeRoleIDs(t)
		invoked := map[string]int{}
		for _, area := range slices.Sorted(maps.Keys(roles)) {
			t.Run("stack="+area, func(t *testing.T) { f.checkInvokeRole(t, roles[area], invoked) })
		}
		routeFns := map[string]bool{}
		for _, r := range f.routes {
			routeFns[r.Function] = true
		}
		for _, name := range f.functionNames() {
			if n := invoked[name]; n != 1 && routeFns[name] || n != 0 && !routeFns[name] {
				t.Errorf("%s: %d invoke roles may invoke it, serves a route: %v", name, n, routeFns[name])
			}
		}
		if n := len(f.ofType("AWS::Lambda::Permission")) - scheduledCount(f); n == 0 || n > 2 {
			t.Errorf("%d Lambda permissions beside the schedule rules', want the authorizer's (one per authorizer)", n)
		}
	})
}

// checkInvokeRole checks one invoke role: API Gateway's alone, no managed
// policy, lambda:InvokeFunction on the route functions of its own stack
// and on nothing else; invoked counts the functions it may invoke.
func (f *fixture) checkInvokeRole(t *testing.T, id string, invoked map[string]int) {
	p := f.props(id)
	trust, _ := json.Marshal(p["AssumeRolePolicyDocument"])
	if !strings.Contains(string(trust), `"Service":"apigateway.amazonaws.com"`) || strings.Count(string(trust), `"Principal"`) != 1 {
		t.Errorf("trust policy %s, want API Gateway alone", trust)
	}
	if _, ok := p["ManagedPolicyArns"]; ok {
		t.Errorf("managed policies %v", p["ManagedPolicyArns"])
	}
	routeFns := map[string]bool{}
	for _, r := range f.routes {
		routeFns[r.Function] = true
	}
	gs := f.roleGrants(id)
	for _, g := range gs {
		if g.action != "lambda:InvokeFunction" || g.condition != nil {
			t.Errorf("grant %v, want lambda:InvokeFunction only", g)
		}
	}
	var mine int
	for _, name := range f.functionNames() {
		fid := f.functionID(t, name)
		may := allows(gs, "lambda:InvokeFunction", fid)
		if may {
			invoked[name]++
		}
		if f.stackOf[fid] != f.stackOf[id] {
			if may {
				t.Errorf("%s: the invoke role of stack %q may invoke it, in stack %q", name, f.stackOf[id], f.stackOf[fid])
			}
			continue
		}
		if may != routeFns[name] {
			t.Errorf("%s: invoke role may invoke it: %v, serves a route: %v", name, may, routeFns[name])
		}
		if routeFns[name] {
			mine++
		}
		for _, pid := range f.ofType("AWS::Lambda::Permission") {
			if refersTo(f.props(pid)["FunctionName"], fid) && name != routes.Authorizer && !scheduled(f, name) {
				t.Errorf("%s: resource-policy permission %s", name, pid)
			}
		}
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
	if n := len(gs); n == 0 || mine == 0 {
		t.Errorf("the invoke role has %d grants for %d route functions of its stack", n, mine)
	}
}

// TestInvokeRolePolicySize: IAM takes at most 10,240 characters of inline
// policy per role. The invoke role names every route function's ARN, so it
// grows with the API; counted here with the longest ARN a function can
// have (a 64-character name in the longest partition and region).
func TestInvokeRolePolicySize(t *testing.T) {
	const (
		maxInline = 10240
		longest   = len(`"arn:aws-us-gov:lambda:ap-southeast-3:123456789012:function:",`) + 64
		overhead  = 200 // version, statement, effect, action, policy name
	)
	each(t, func(t *testing.T, f *fixture) {
		for area, id := range f.invokeRoleIDs(t) {
			var n int
			for _, g := range f.roleGrants(id) {
				if list, ok := g.resource.([]any); ok {
					n += len(list)
				} else {
					n++
				}
			}
			if size := overhead + n*longest; size > maxInline {
				t.Errorf("stack %q: the invoke role's policy may reach %d characters for %d functions, IAM takes %d: split it (a second role or a managed policy)",
					area, size, n, maxInline)
			}
		}
	})
}
