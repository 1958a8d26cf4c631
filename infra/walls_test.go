package main

// Assertion tests of the API's walls: the authorizer cache flush granted to
// exactly the functions that change credentials, no loopback setting in any
// function, the per-address WAF limit, and a template CloudFormation can
// order (no dependency cycle).

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authcache"
	"github.com/startmsg/chatbackend/shared/httpapi"
	"github.com/startmsg/chatbackend/shared/routes"
)

// devWAFRateLimit is the dev fixture's WAF limit (prod keeps the default).
const devWAFRateLimit = 2000

// envOf is a function's environment variables.
func (f *fixture) envOf(t *testing.T, name string) map[string]any {
	t.Helper()
	env, _ := f.props(f.functionID(t, name))["Environment"].(map[string]any)["Variables"].(map[string]any)
	return env
}

func TestAuthCacheFlush(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		apis := f.ofType("AWS::ApiGateway::RestApi")
		if len(apis) != 1 {
			t.Fatalf("rest APIs %v", apis)
		}
		api := apis[0]
		flushers := 0
		for _, name := range f.functionNames() {
			env := f.envOf(t, name)
			gs := f.grantsOf(t, name)
			if !authcache.FlushesAuthorizerCache[name] {
				for _, k := range []string{appenv.RestAPIID, appenv.APIStageName} {
					if _, ok := env[k]; ok {
						t.Errorf("%s: %s set, but it does not flush the authorizer cache", name, k)
					}
				}
				for _, g := range gs {
					if strings.HasPrefix(g.action, "apigateway:") {
						t.Errorf("%s: may %s", name, g.action)
					}
				}
				continue
			}
			flushers++
			if id := refs(env[appenv.RestAPIID]); len(id) != 1 || id[0] != api {
				t.Errorf("%s: %s = %v, want a Ref to the RestApi %s", name, appenv.RestAPIID, env[appenv.RestAPIID], api)
			}
			if env[appenv.APIStageName] != f.stage {
				t.Errorf("%s: %s = %v, want the literal %q", name, appenv.APIStageName, env[appenv.APIStageName], f.stage)
			}
			var deletes []grant
			for _, g := range gs {
				if strings.HasPrefix(g.action, "apigateway:") {
					if g.action != "apigateway:DELETE" {
						t.Errorf("%s: may %s", name, g.action)
					}
					deletes = append(deletes, g)
				}
			}
			if len(deletes) != 1 {
				t.Fatalf("%s: apigateway grants %v, want one DELETE", name, deletes)
			}
			// The resource is exactly this stage's authorizer cache:
			// arn:<partition>:apigateway:<region>::/restapis/<api>/stages/<stage>/cache/authorizers
			raw, _ := json.Marshal(deletes[0].resource)
			want := regexp.MustCompile(`^\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":apigateway:",\{"Ref":"AWS::Region"\},"::/restapis/",\{"Ref":"` +
				regexp.QuoteMeta(api) + `"\},"/stages/` + regexp.QuoteMeta(f.stage) + `/cache/authorizers"\]\]\}$`)
			if !want.Match(raw) || deletes[0].condition != nil {
				t.Errorf("%s: DELETE on %s, want the stage's /cache/authorizers only", name, raw)
			}
		}
		if flushers != len(authcache.FlushesAuthorizerCache) {
			t.Errorf("%d functions flush, want %d", flushers, len(authcache.FlushesAuthorizerCache))
		}
	})
}

// TestNoLoopbackTargets: no deployed function may open the SSRF guard to
// loopback and plain HTTP, and no local stage name can be deployed.
func TestNoLoopbackTargets(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, name := range f.functionNames() {
			if v, ok := f.envOf(t, name)[appenv.AllowLoopbackTargets]; ok {
				t.Errorf("%s: %s=%v", name, appenv.AllowLoopbackTargets, v)
			}
		}
		raw, _ := json.Marshal(f.res)
		if strings.Contains(string(raw), appenv.AllowLoopbackTargets) {
			t.Errorf("the template mentions %s", appenv.AllowLoopbackTargets)
		}
		if appenv.IsLocalStage(f.stage) {
			t.Errorf("stage %q is a local stage", f.stage)
		}
	})
	for _, s := range appenv.LocalStages {
		if _, err := stageOf(s, ""); err == nil {
			t.Errorf("local stage %q is deployable", s)
		}
	}
}

func TestWAF(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		acls := f.ofType("AWS::WAFv2::WebACL")
		if len(acls) != 1 {
			t.Fatalf("web ACLs %v", acls)
		}
		p := f.props(acls[0])
		if p["Scope"] != "REGIONAL" {
			t.Errorf("scope %v", p["Scope"])
		}
		if da, _ := p["DefaultAction"].(map[string]any); da["Allow"] == nil || da["Block"] != nil {
			t.Errorf("default action %v", p["DefaultAction"])
		}
		rules, _ := p["Rules"].([]any)
		if len(rules) != 3 {
			t.Fatalf("rules %v", rules)
		}
		rule := ruleNamed(t, rules, "PerAddressRate")
		rbs, _ := rule["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
		wantLimit := float64(DefaultWAFRateLimit)
		if f.stage == StageDev {
			wantLimit = devWAFRateLimit
		}
		if rbs["AggregateKeyType"] != "IP" || num(rbs["Limit"]) != wantLimit || num(rbs["EvaluationWindowSec"]) != 300 || rbs["ScopeDownStatement"] != nil {
			t.Errorf("rate-based statement %v, want per IP, %v per 300 s, every request", rbs, wantLimit)
		}
		block, _ := rule["Action"].(map[string]any)["Block"].(map[string]any)
		cr, _ := block["CustomResponse"].(map[string]any)
		if num(cr["ResponseCode"]) != 429 {
			t.Errorf("block answer %v, want 429", cr)
		}
		hdrs, _ := json.Marshal(cr["ResponseHeaders"])
		if string(hdrs) != `[{"Name":"Retry-After","Value":"60"}]` {
			t.Errorf("block headers %s", hdrs)
		}
		bodies, _ := p["CustomResponseBodies"].(map[string]any)
		body, _ := bodies[cr["CustomResponseBodyKey"].(string)].(map[string]any)
		if body["ContentType"] != "APPLICATION_JSON" {
			t.Errorf("body content type %v", body["ContentType"])
		}
		checkEnvelope(t, "WAF 429", body["Content"].(string), "Too many requests")
		// Sampled requests would keep Authorization headers in the console.
		raw, _ := json.Marshal(p)
		if strings.Contains(string(raw), `"SampledRequestsEnabled":true`) || !strings.Contains(string(raw), `"SampledRequestsEnabled":false`) {
			t.Error("sampled requests must be off")
		}

		assocs := f.ofType("AWS::WAFv2::WebACLAssociation")
		if len(assocs) != 1 {
			t.Fatalf("associations %v", assocs)
		}
		ap := f.props(assocs[0])
		stages := f.ofType("AWS::ApiGateway::Stage")
		if !refersTo(ap["ResourceArn"], stages[0]) || !refersTo(ap["WebACLArn"], acls[0]) {
			t.Errorf("association %v, want the stage %s and the ACL %s", ap, stages[0], acls[0])
		}
		if len(f.ofType("AWS::WAFv2::LoggingConfiguration")) != 0 {
			t.Error("WAF logging would keep request headers (tokens)")
		}
	})
}

// ruleNamed finds a web ACL rule by name.
func ruleNamed(t *testing.T, rules []any, name string) map[string]any {
	t.Helper()
	for _, r := range rules {
		if m, _ := r.(map[string]any); m["Name"] == name {
			return m
		}
	}
	t.Fatalf("no rule %s in %v", name, rules)
	return nil
}

// TestWAFBodySize: a body over what the functions take (256 KB) never
// reaches Lambda, whose 6 MB event limit API Gateway's 10 MB would pass (a
// 5xx): WAF answers 413 in the envelope for a Content-Length over 256 KB,
// and 411 for a body without one over WAF's 16 KB inspection limit
// (oversize handling MATCH: WAF cannot see the rest).
func TestWAFBodySize(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		p := f.props(f.ofType("AWS::WAFv2::WebACL")[0])
		rules, _ := p["Rules"].([]any)
		bodies, _ := p["CustomResponseBodies"].(map[string]any)
		answer := func(rule map[string]any, status int, msg string) {
			t.Helper()
			cr, _ := rule["Action"].(map[string]any)["Block"].(map[string]any)["CustomResponse"].(map[string]any)
			if num(cr["ResponseCode"]) != float64(status) {
				t.Errorf("%s answers %v, want %d", rule["Name"], cr["ResponseCode"], status)
			}
			body, _ := bodies[cr["CustomResponseBodyKey"].(string)].(map[string]any)
			if body["ContentType"] != "APPLICATION_JSON" {
				t.Errorf("%s: body content type %v", rule["Name"], body["ContentType"])
			}
			checkEnvelope(t, fmt.Sprint(rule["Name"]), body["Content"].(string), msg)
		}
		// The per-address limit stays first: a flood of large bodies is counted.
		if r := ruleNamed(t, rules, "PerAddressRate"); num(r["Priority"]) != 0 {
			t.Errorf("rate rule priority %v", r["Priority"])
		}

		tooLarge := ruleNamed(t, rules, "BodyTooLarge")
		rm, _ := tooLarge["Statement"].(map[string]any)["RegexMatchStatement"].(map[string]any)
		if h, _ := rm["FieldToMatch"].(map[string]any)["SingleHeader"].(map[string]any); h["Name"] != "content-length" {
			t.Errorf("BodyTooLarge inspects %v, want the content-length header", rm["FieldToMatch"])
		}
		re := regexp.MustCompile(rm["RegexString"].(string))
		for n, want := range map[int]bool{0: false, 1024: false, httpapi.MaxBodyBytes: false, httpapi.MaxBodyBytes + 1: true, 6 << 20: true, 10 << 20: true, 1 << 40: true} {
			if got := re.MatchString(strconv.Itoa(n)); got != want {
				t.Errorf("BodyTooLarge on Content-Length %d: %v, want %v", n, got, want)
			}
		}
		answer(tooLarge, 413, "Request body is too large (max 256 KB).")

		noLength := ruleNamed(t, rules, "BodyWithoutLength")
		and, _ := noLength["Statement"].(map[string]any)["AndStatement"].(map[string]any)["Statements"].([]any)
		raw, _ := json.Marshal(and)
		if len(and) != 2 || !strings.Contains(string(raw), `"NotStatement":{"Statement":{"SizeConstraintStatement":{"ComparisonOperator":"GT","FieldToMatch":{"SingleHeader":{"Name":"content-length"}},"Size":0`) ||
			!strings.Contains(string(raw), `{"SizeConstraintStatement":{"ComparisonOperator":"GT","FieldToMatch":{"Body":{"OversizeHandling":"MATCH"}},"Size":16384`) {
			t.Errorf("BodyWithoutLength %s, want no content-length and a body over 16 KB (oversize MATCH)", raw)
		}
		if _, ok := p["AssociationConfig"]; ok {
			t.Errorf("association config %v: the 16 KB the rule counts on is the default", p["AssociationConfig"])
		}
		answer(noLength, 411, "A request body over 16 KB needs a Content-Length header (max 256 KB).")
	})
}

// overDecimal's expressions match exactly the numbers over n.
func TestOverDecimal(t *testing.T) {
	for _, n := range []int{0, 9, 10, 99, 100, 262144, 999, 1000, 5099} {
		re := regexp.MustCompile(overDecimal(n))
		for v := 0; v < 20000; v++ {
			if got := re.MatchString(strconv.Itoa(v)); got != (v > n) {
				t.Fatalf("overDecimal(%d) on %d: %v", n, v, got)
			}
		}
		for _, v := range []int{n - 1, n, n + 1, n * 10, n*10 + 9} {
			if v < 0 {
				continue
			}
			if got := re.MatchString(strconv.Itoa(v)); got != (v > n) {
				t.Fatalf("overDecimal(%d) on %d: %v", n, v, got)
			}
			if got := re.MatchString("00" + strconv.Itoa(v)); got != (v > n) {
				t.Fatalf("overDecimal(%d) on 00%d: %v", n, v, got)
			}
		}
		for _, bad := range []string{"", "abc", "1e9", "-5", strconv.Itoa(n+1) + " "} {
			if re.MatchString(bad) {
				t.Fatalf("overDecimal(%d) matches %q", n, bad)
			}
		}
	}
}

func TestWAFSettings(t *testing.T) {
	for _, c := range []struct {
		stage    string
		in, want int
		wantErr  bool
	}{
		{StageDev, 0, DefaultWAFRateLimit, false},
		{StageProd, 0, DefaultWAFRateLimit, false},
		{StageDev, WAFOff, WAFOff, false},
		{StageProd, WAFOff, 0, true},
		{StageProd, 5000, 5000, false},
		{StageDev, 9, 0, true},
		{StageDev, 10, 10, false},
	} {
		got, err := wafRateLimitOf(c.stage, c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("wafRateLimitOf(%s, %d) = %d, %v", c.stage, c.in, got, err)
		}
	}
	for _, c := range []struct {
		ctx     any
		env     string
		want    int
		wantErr bool
	}{
		{nil, "", 0, false},
		{nil, "3000", 3000, false},
		{"500", "3000", 500, false},
		{float64(700), "", 700, false},
		{"off", "3000", WAFOff, false},
		{nil, "0", WAFOff, false},
		{nil, "lots", 0, true},
		{nil, "-5", 0, true},
	} {
		got, err := wafSetting(c.ctx, c.env)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("wafSetting(%v, %q) = %d, %v", c.ctx, c.env, got, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("prod without WAF did not panic")
		}
	}()
	NewBackendStack(awscdk.NewApp(nil), "NoWAF", &BackendStackProps{Stage: StageProd, WAFRateLimit: WAFOff})
}

// TestNoDependencyCycle walks every reference (Ref, Fn::GetAtt, Fn::Sub,
// DependsOn) between the resources of all the stacks (collectTemplates):
// CloudFormation refuses a template whose resources depend on each other
// in a circle, and synth does not notice. The functions that flush the authorizer cache name the API
// (the stage's methods name them) without closing one.
func TestNoDependencyCycle(t *testing.T) {
	sub := regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`)
	each(t, func(t *testing.T, f *fixture) {
		edges := map[string][]string{}
		for id, r := range f.res {
			out := append(strs(r["DependsOn"]), refs(r["Properties"])...)
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case map[string]any:
					if s, ok := v["Fn::Sub"]; ok {
						var tmpl string
						switch s := s.(type) {
						case string:
							tmpl = s
						case []any:
							tmpl, _ = s[0].(string)
						}
						for _, m := range sub.FindAllStringSubmatch(tmpl, -1) {
							out = append(out, m[1])
						}
					}
					for _, x := range v {
						walk(x)
					}
				case []any:
					for _, x := range v {
						walk(x)
					}
				}
			}
			walk(r["Properties"])
			for _, o := range out {
				if _, ok := f.res[o]; ok && !slices.Contains(edges[id], o) {
					edges[id] = append(edges[id], o)
				}
			}
		}
		// A nested stack is done only once each of its resources is: its
		// AWS::CloudFormation::Stack depends on them all, so that a root
		// resource a nested one refers to, and that itself waits for the
		// nested stack, closes a cycle here as it does in CloudFormation.
		stackID := map[string]string{}
		for sid, area := range f.nestedIn {
			stackID[area] = sid
		}
		for id := range f.res {
			if sid, ok := stackID[f.stackOf[id]]; ok {
				edges[sid] = append(edges[sid], id)
			}
		}
		const (
			unseen = iota
			open
			done
		)
		state := map[string]int{}
		var path []string
		var visit func(id string) bool
		visit = func(id string) bool {
			switch state[id] {
			case open:
				i := slices.Index(path, id)
				t.Errorf("dependency cycle: %s → %s", strings.Join(path[i:], " → "), id)
				return false
			case done:
				return true
			}
			state[id] = open
			path = append(path, id)
			for _, next := range edges[id] {
				if !visit(next) {
					return false
				}
			}
			path = path[:len(path)-1]
			state[id] = done
			return true
		}
		ids := make([]string, 0, len(f.res))
		for id := range f.res {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if !visit(id) {
				return
			}
		}
	})
}

// TestNoSecretsInAPILogs: the stage's access log line names no header,
// query string or body (where tokens, secrets and verify tokens travel),
// and neither execution logging nor data tracing (which would log whole
// requests, Authorization included) is on.
func TestNoSecretsInAPILogs(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		p := f.props(f.ofType("AWS::ApiGateway::Stage")[0])
		format := p["AccessLogSetting"].(map[string]any)["Format"].(string)
		for _, bad := range []string{"header", "querystring", "$input", "authorization", "requestOverride", "$context.error.message", "apiKey"} {
			if strings.Contains(strings.ToLower(format), strings.ToLower(bad)) {
				t.Errorf("access log format mentions %q: %s", bad, format)
			}
		}
		for _, ms := range p["MethodSettings"].([]any) {
			m := ms.(map[string]any)
			if m["DataTraceEnabled"] != false {
				t.Errorf("data trace %v", m["DataTraceEnabled"])
			}
			if l, ok := m["LoggingLevel"]; ok && l != "OFF" && l != "ERROR" {
				t.Errorf("execution logging %v", l)
			}
		}
	})
}

// The API compresses responses from routes.MinCompressionSize bytes, as the
// local gateway does, and so takes compressed request bodies.
func TestCompression(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, api := range f.ofType("AWS::ApiGateway::RestApi") {
			got, ok := f.props(api)["MinimumCompressionSize"].(float64)
			if !ok || int(got) != routes.MinCompressionSize {
				t.Errorf("%s: MinimumCompressionSize %v, want %d", api, f.props(api)["MinimumCompressionSize"], routes.MinCompressionSize)
			}
		}
	})
}
