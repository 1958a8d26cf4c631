package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/routes"
)

// TestResourceBudget fails when a stage's stack passes maxResources, well
// before CloudFormation's 500, naming the counts per type.
func TestResourceBudget(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		byType := map[string]int{}
		for _, r := range f.res {
			byType[r["Type"].(string)]++
		}
		if n := len(f.res); n > maxResources {
			t.Errorf("%d resources, more than the budget of %d (CloudFormation refuses 500): %s",
				n, maxResources, resourceCounts(byType))
		} else {
			t.Logf("%d resources: %s", n, resourceCounts(byType))
		}
	})
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

// invokeRoleID is the logical ID of the role API Gateway invokes the route
// functions with.
func (f *fixture) invokeRoleID(t *testing.T) string {
	t.Helper()
	return f.idOf(t, "AWS::IAM::Role", "ApiInvokeRole")
}

// TestInvokeRole: API Gateway invokes the route functions with one role
// that may invoke exactly them (not the authorizer, not the stream and
// queue consumers) and do nothing else; only API Gateway may assume it.
// No route function has a resource-policy permission of its own; the
// authorizer keeps its (TestAuthorizers).
func TestInvokeRole(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		id := f.invokeRoleID(t)
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
		var invoked int
		for _, name := range f.functionNames() {
			fid := f.functionID(t, name)
			may := allows(gs, "lambda:InvokeFunction", fid)
			if may {
				invoked++
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
		var n int
		for _, g := range f.roleGrants(f.invokeRoleID(t)) {
			if list, ok := g.resource.([]any); ok {
				n += len(list)
			} else {
				n++
			}
		}
		if size := overhead + n*longest; size > maxInline {
			t.Errorf("the invoke role's policy may reach %d characters for %d functions, IAM takes %d: split it (a second role or a managed policy)",
				size, n, maxInline)
		}
	})
}
