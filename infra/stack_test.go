package main

// Assertion tests of the synthesized template. Synth is slow (tens of
// seconds), so each stage is synthesized once, lazily, and the template is
// shared by every test: see synth. jsii is not goroutine-safe: no
// t.Parallel() in this file.
//
// Most checks walk the template as plain Go values (relations such as
// "this policy belongs to that function's role" are easier that way); the
// rest use the CDK assertions matchers.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/ddbstore"
	"github.com/startmsg/chatbackend/shared/lambdaapp"
	"github.com/startmsg/chatbackend/shared/queue"
	"github.com/startmsg/chatbackend/shared/routes"
)

// Synthetic table entries for the dev synth: the real table may not yet
// have stream/queue consumers, channel-query or account routes, and the
// stack must wire them all.
var (
	syntheticRoutes = []routes.Route{
		{Method: "GET", Path: "/synthetic/query/{id}", Function: "synthetic-query", Auth: routes.AuthChannelQuery, Access: routes.TableRead, Tag: "messages"},
		{Method: "POST", Path: "/synthetic/account", Function: "synthetic-account", Auth: routes.AuthAccount, Access: routes.TableRead, Tag: "actions"},
		// A second route of the same function: its Access bits add up.
		{Method: "DELETE", Path: "/synthetic/account", Function: "synthetic-account", Auth: routes.AuthAccount, Access: routes.TableWrite, Tag: "actions"},
	}
	syntheticEvents = []routes.EventFunction{
		{Function: "synthetic-stream-consumer", Access: routes.TableRead | routes.QueueSend | routes.StreamRead, Source: "stream", BatchSize: 25},
		{Function: "synthetic-queue-consumer", Access: routes.TableRead | routes.TableWrite | routes.QueueConsume, Source: "queue", BatchSize: 7},
		{Function: "synthetic-dlq-reader", Access: routes.DLQRead | routes.QueueSend},
	}
	syntheticKeys = map[string]routes.KeyScope{
		"synthetic-query":           {Read: []string{routes.KeyTenant}},
		"synthetic-account":         {Read: []string{routes.KeyTenant, routes.KeyContact}, Write: []string{routes.KeyContact}},
		"synthetic-stream-consumer": {Read: []string{routes.KeyTenant}},
		"synthetic-queue-consumer":  {Read: []string{routes.KeyTenant}, Write: []string{routes.KeyTenant}},
	}
)

var stages = []string{StageDev, StageProd}

// fixture is one synthesized stage.
type fixture struct {
	stage  string
	routes []routes.Route             // what the stack was built from
	events []routes.EventFunction     // idem
	keys   map[string]routes.KeyScope // idem
	nag    []nagMessage               // cdk-nag's findings (unsuppressed) and suppressions
	tmpl   assertions.Template        // CDK assertions on the root stack
	// res is the Resources of every stack, the root's and its nested
	// stacks', as plain Go values (see collectTemplates): a nested stack's
	// parameters are replaced by what the root passes them, so that a
	// Ref or Fn::GetAtt names the resource itself whatever its stack.
	res map[string]map[string]any
	out map[string]any // the root stack's Outputs
	// stacks are the resources by stack ("" for the root stack, else the
	// nested stack's area); stackOf is the stack of each resource, and
	// nestedIn the area of each nested stack's AWS::CloudFormation::Stack.
	stacks   map[string]map[string]map[string]any
	stackOf  map[string]string
	nestedIn map[string]string
	// nestedOutputs counts each nested stack's outputs.
	nestedOutputs map[string]int
}

var (
	fixtures = map[string]*fixture{}
	assetDir string // one empty bootstrap per function
	outDir   string // the apps' cloud assemblies
)

func TestMain(m *testing.M) {
	// TestAppMissingAssets runs the CDK app's main through this binary.
	if os.Getenv("INFRA_TEST_RUN_APP") == "1" {
		main()
		os.Exit(0)
	}
	// jsii picks its node while the packages initialize (from PATH, or
	// JSII_NODE set outside): make test puts the pinned Node 22 first on
	// PATH.
	var err error
	if assetDir, err = os.MkdirTemp("", "infra-assets-"); err != nil {
		panic(err)
	}
	if outDir, err = os.MkdirTemp("", "infra-cdkout-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(assetDir)
	os.RemoveAll(outDir)
	jsii.Close()
	os.Exit(code)
}

// testAssetDir makes <assetDir>/<fn>/bootstrap (empty), and a zone
// reader's zoneinfo.zip, and returns the dir.
func testAssetDir(fn string) string {
	dir := filepath.Join(assetDir, fn)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	for _, f := range assetFiles(fn) { // the bootstrap, a zone reader's zoneinfo.zip
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			panic(err)
		}
	}
	return dir
}

// synth returns the stage's template, synthesizing it on first use. Dev is
// built from the real tables plus the synthetic entries; prod from the
// defaults (nil Routes and Events), which must mean routes.Table and
// routes.EventFunctions.
func synth(t *testing.T, stage string) *fixture {
	t.Helper()
	if f, ok := fixtures[stage]; ok {
		return f
	}
	f := &fixture{stage: stage, routes: routes.Table, events: routes.EventFunctions, keys: routes.Keys}
	props := &BackendStackProps{Stage: stage, AssetDir: testAssetDir}
	if stage == StageDev {
		f.routes = append(slices.Clone(routes.Table), syntheticRoutes...)
		f.events = append(slices.Clone(routes.EventFunctions), syntheticEvents...)
		f.keys = maps.Clone(routes.Keys)
		maps.Copy(f.keys, syntheticKeys)
		props.Routes, props.Events, props.Keys = f.routes, f.events, f.keys
		props.WAFRateLimit = devWAFRateLimit // a stage setting other than the default
		// Tenant settings other than the defaults (tenants_test.go).
		props.DispatcherConcurrency, props.Limits = devDispatcherConcurrency, devLimits
		props.Delivery = devDelivery // delivery_test.go
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(outDir, stage))})
	stack := NewBackendStack(app, StackName(stage), props)
	// AWS's own rules: both cdk-nag packs, suppressed findings logged as
	// info so that a test can tell the packs ran.
	nagProps := &cdknag.NagPackProps{Reports: jsii.Bool(false), LogIgnores: jsii.Bool(true)}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nagProps), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(nagProps), nil)
	f.tmpl = assertions.Template_FromStack(stack, nil)
	ann := assertions.Annotations_FromStack(stack)
	rule := assertions.Match_StringLikeRegexp(jsii.String("(AwsSolutions|Serverless)-"))
	for level, msgs := range map[string]*[]*cxapi.SynthesisMessage{
		"error": ann.FindError(jsii.String("*"), rule), "warning": ann.FindWarning(jsii.String("*"), rule), "info": ann.FindInfo(jsii.String("*"), rule),
	} {
		for _, m := range *msgs {
			text := fmt.Sprint(m.Entry.Data)
			f.nag = append(f.nag, nagMessage{level: level, path: *m.Id, rule: nagRule.FindString(text), text: text})
		}
	}

	f.collectTemplates(t, stack)
	fixtures[stage] = f
	return f
}

// template is one stack's template as plain Go values.
type template struct {
	Parameters map[string]any
	Resources  map[string]map[string]any
	Outputs    map[string]map[string]any
}

// templateOf round-trips a stack's template through JSON.
func templateOf(t *testing.T, tmpl assertions.Template) template {
	t.Helper()
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc template
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// collectTemplates gathers the resources of the root stack and of each of
// its nested stacks (the areas of nested.go) into f.res. In a nested
// stack's resources, a Ref to one of its parameters becomes the value the
// root passes it (a Ref or Fn::GetAtt of the root's resource); in the
// root's, an Fn::GetAtt of a nested stack's output becomes that output's
// value. Logical IDs must be unique across the stacks.
func (f *fixture) collectTemplates(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	root := templateOf(t, f.tmpl)
	f.res, f.out = map[string]map[string]any{}, map[string]any{}
	f.stacks = map[string]map[string]map[string]any{"": root.Resources}
	f.stackOf, f.nestedIn, f.nestedOutputs = map[string]string{}, map[string]string{}, map[string]int{}
	for id, r := range root.Resources {
		f.res[id], f.stackOf[id] = r, ""
	}
	for k, v := range root.Outputs {
		f.out[k] = v
	}
	outputs := map[string]map[string]map[string]any{} // nested stack ID -> its outputs
	for _, area := range areas {
		child := stack.Node().TryFindChild(jsii.String(area))
		if child == nil {
			continue
		}
		ns, ok := child.(awscdk.NestedStack)
		if !ok {
			t.Fatalf("%s is a %T, not a nested stack", area, child)
		}
		sid := *stack.GetLogicalId(ns.NestedStackResource())
		if root.Resources[sid]["Type"] != "AWS::CloudFormation::Stack" {
			t.Fatalf("%s: %s is not the root's AWS::CloudFormation::Stack", area, sid)
		}
		f.nestedIn[sid] = area
		passed, _ := f.props(sid)["Parameters"].(map[string]any)
		doc := templateOf(t, assertions.Template_FromStack(ns, nil))
		for p := range doc.Parameters {
			if _, ok := passed[p]; !ok && !strings.HasPrefix(p, "BootstrapVersion") {
				t.Errorf("%s: parameter %s is not passed by the root stack", area, p)
			}
		}
		var subst func(v any) any
		subst = func(v any) any {
			switch v := v.(type) {
			case map[string]any:
				if r, ok := v["Ref"].(string); ok && len(v) == 1 {
					if val, ok := passed[r]; ok {
						return val
					}
				}
				out := make(map[string]any, len(v))
				for k, x := range v {
					out[k] = subst(x)
				}
				return out
			case []any:
				out := make([]any, len(v))
				for i, x := range v {
					out[i] = subst(x)
				}
				return out
			}
			return v
		}
		f.stacks[area] = doc.Resources
		for id, r := range doc.Resources {
			if _, dup := f.res[id]; dup {
				t.Fatalf("logical ID %s is in both %q and %q: rename a construct", id, f.stackOf[id], area)
			}
			f.res[id], f.stackOf[id] = subst(r).(map[string]any), area
		}
		outs := map[string]map[string]any{}
		for k, o := range doc.Outputs {
			outs[k] = subst(o).(map[string]any)
		}
		outputs[sid] = outs
		f.nestedOutputs[sid] = len(outs)
	}
	// A value that reads a nested stack's output reads what it outputs.
	var resolve func(v any) any
	resolve = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 && len(v) == 1 {
				sid, _ := ga[0].(string)
				attr, _ := ga[1].(string)
				if name, ok := strings.CutPrefix(attr, "Outputs."); ok && outputs[sid] != nil {
					if o, ok := outputs[sid][name]; ok {
						return resolve(o["Value"])
					}
				}
			}
			out := make(map[string]any, len(v))
			for k, x := range v {
				out[k] = resolve(x)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = resolve(x)
			}
			return out
		}
		return v
	}
	for id, r := range f.res {
		f.res[id] = resolve(r).(map[string]any)
	}
	if len(f.nestedIn) == 0 {
		t.Fatal("no nested stack")
	}
}

// each runs fn as a subtest per stage.
func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) { fn(t, synth(t, stage)) })
	}
}

// check turns a failed CDK assertion (a panic out of jsii) into a test error.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// ---- template walking -------------------------------------------------------

// ofType returns the logical IDs of the resources of a type, sorted.
func (f *fixture) ofType(typ string) []string {
	var ids []string
	for id, r := range f.res {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// props returns a resource's Properties.
func (f *fixture) props(id string) map[string]any {
	p, _ := f.res[id]["Properties"].(map[string]any)
	return p
}

// idOf finds the one resource of typ whose logical ID is stem plus CDK's
// 8-character hash.
func (f *fixture) idOf(t *testing.T, typ, stem string) string {
	t.Helper()
	re := regexp.MustCompile("^" + regexp.QuoteMeta(stem) + "[0-9A-F]{8}$")
	var found []string
	for _, id := range f.ofType(typ) {
		if re.MatchString(id) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s %q: want one resource, found %v", typ, stem, found)
	}
	return found[0]
}

// functionID is the logical ID of the named function's Lambda.
func (f *fixture) functionID(t *testing.T, name string) string {
	t.Helper()
	return f.idOf(t, "AWS::Lambda::Function", constructID(name)+"Function")
}

// refs lists the logical IDs a value refers to (Ref and Fn::GetAtt, at any
// depth).
func refs(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["Ref"].(string); ok {
				out = append(out, r)
			}
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
				if s, ok := ga[0].(string); ok {
					out = append(out, s)
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
	walk(v)
	return out
}

// refersTo reports whether v refers to the logical ID id.
func refersTo(v any, id string) bool { return slices.Contains(refs(v), id) }

// strs turns a string or a list of strings into a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// num reads a JSON number.
func num(v any) float64 {
	n, _ := v.(float64)
	return n
}

// grant is one allowed action on one resource expression.
type grant struct {
	action    string
	resource  any
	condition any
}

// grantsOf returns every Allow of the IAM policies attached to the named
// function's role.
func (f *fixture) grantsOf(t *testing.T, name string) []grant {
	t.Helper()
	role := refs(f.props(f.functionID(t, name))["Role"])
	if len(role) != 1 {
		t.Fatalf("%s: role not found", name)
	}
	return f.roleGrants(role[0])
}

// roleGrants returns every Allow of the IAM policies of a role.
func (f *fixture) roleGrants(role string) []grant {
	var out []grant
	for _, doc := range f.policyDocs(role) {
		stmts, _ := doc["Statement"].([]any)
		for _, s := range stmts {
			st, _ := s.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range strs(st["Action"]) {
				out = append(out, grant{a, st["Resource"], st["Condition"]})
			}
		}
	}
	return out
}

// policyDocs returns the policy documents that apply to a role: its inline
// Policies and those of the AWS::IAM::Policy resources attached to it
// ("" for every role's and every policy's).
func (f *fixture) policyDocs(role string) []map[string]any {
	var docs []map[string]any
	for _, id := range f.ofType("AWS::IAM::Role") {
		if role != "" && id != role {
			continue
		}
		inline, _ := f.props(id)["Policies"].([]any)
		for _, p := range inline {
			doc, _ := p.(map[string]any)["PolicyDocument"].(map[string]any)
			docs = append(docs, doc)
		}
	}
	for _, pid := range f.ofType("AWS::IAM::Policy") {
		p := f.props(pid)
		if role != "" && !refersTo(p["Roles"], role) {
			continue
		}
		doc, _ := p["PolicyDocument"].(map[string]any)
		docs = append(docs, doc)
	}
	return docs
}

// allows reports whether some grant has the action on a resource referring
// to target ("" matches any resource).
func allows(gs []grant, action, target string) bool {
	for _, g := range gs {
		if g.action == action && (target == "" || refersTo(g.resource, target)) {
			return true
		}
	}
	return false
}

// resourcePaths maps each AWS::ApiGateway::Resource (and the API's root,
// under the key "root") to its full path.
func (f *fixture) resourcePaths() map[string]string {
	paths := map[string]string{"root": "/"}
	var pathOf func(id string) string
	pathOf = func(id string) string {
		if p, ok := paths[id]; ok {
			return p
		}
		p := f.props(id)
		parent := "root"
		if r, ok := p["ParentId"].(map[string]any)["Ref"].(string); ok {
			parent = r
		}
		full := strings.TrimSuffix(pathOf(parent), "/") + "/" + p["PathPart"].(string)
		paths[id] = full
		return full
	}
	for _, id := range f.ofType("AWS::ApiGateway::Resource") {
		pathOf(id)
	}
	return paths
}

// method is an AWS::ApiGateway::Method with its full path.
type method struct {
	id, path, verb string
	props          map[string]any
}

// methods lists the API's methods.
func (f *fixture) methods() []method {
	paths := f.resourcePaths()
	var out []method
	for _, id := range f.ofType("AWS::ApiGateway::Method") {
		p := f.props(id)
		key := "root"
		if r, ok := p["ResourceId"].(map[string]any)["Ref"].(string); ok {
			key = r
		}
		out = append(out, method{id: id, path: paths[key], verb: p["HttpMethod"].(string), props: p})
	}
	return out
}

// functionNames is every distinct function the fixture was built from.
func (f *fixture) functionNames() []string {
	var names []string
	for _, s := range functionSpecs(f.routes, f.events) {
		names = append(names, s.name)
	}
	return names
}

// ---- table and queues -------------------------------------------------------

func TestTable(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		keySchema := func(hash, rng string) []any {
			return []any{
				map[string]any{"AttributeName": hash, "KeyType": "HASH"},
				map[string]any{"AttributeName": rng, "KeyType": "RANGE"},
			}
		}
		keys := keySchema(ddbstore.AttrPK, ddbstore.AttrSK)
		gsi1 := func(projection string) []any {
			return []any{map[string]any{
				"IndexName":  ddbstore.GSI1,
				"KeySchema":  keySchema(ddbstore.AttrGSI1PK, ddbstore.AttrGSI1SK),
				"Projection": map[string]any{"ProjectionType": projection},
			}}
		}
		data := f.props(f.idOf(t, "AWS::DynamoDB::Table", "Table"))
		check(t, "data table shape", func() {
			f.tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"KeySchema": keys,
				"AttributeDefinitions": assertions.Match_ArrayWith(&[]any{
					map[string]any{"AttributeName": ddbstore.AttrPK, "AttributeType": "S"},
					map[string]any{"AttributeName": ddbstore.AttrSK, "AttributeType": "S"},
				}),
				"GlobalSecondaryIndexes": append(gsi1("ALL"), map[string]any{
					"IndexName":  ddbstore.GSI2,
					"KeySchema":  keySchema(ddbstore.AttrGSI2PK, ddbstore.AttrGSI2SK),
					"Projection": map[string]any{"ProjectionType": "ALL"},
				}),
				"BillingMode":                      "PAY_PER_REQUEST",
				"StreamSpecification":              map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"},
				"TimeToLiveSpecification":          map[string]any{"AttributeName": ddbstore.TTLAttribute, "Enabled": true},
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"DeletionProtectionEnabled":        f.stage == StageProd,
			})
		})
		if _, ok := data["StreamSpecification"]; !ok {
			t.Error("the data table (logical ID Table…) has no stream")
		}
		policy := map[string]string{StageDev: "Delete", StageProd: "Retain"}[f.stage]
		check(t, "data table removal policy", func() {
			f.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"DeletionPolicy": policy, "UpdateReplacePolicy": policy,
				"Properties": map[string]any{"StreamSpecification": assertions.Match_AnyValue()},
			})
		})
		check(t, "operations table shape", func() {
			f.tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"KeySchema":                        keys,
				"GlobalSecondaryIndexes":           gsi1("KEYS_ONLY"),
				"BillingMode":                      "PAY_PER_REQUEST",
				"TimeToLiveSpecification":          map[string]any{"AttributeName": ddbstore.TTLAttribute, "Enabled": true},
				"StreamSpecification":              assertions.Match_Absent(),
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"DeletionProtectionEnabled":        f.stage == StageProd,
			})
		})
		check(t, "operations table removal policy (it holds the search index)", func() {
			f.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"DeletionPolicy": policy, "UpdateReplacePolicy": policy,
				"Properties": map[string]any{"StreamSpecification": assertions.Match_Absent()},
			})
		})
		ops := f.props(f.idOf(t, "AWS::DynamoDB::Table", "OpsTable"))
		if _, ok := ops["StreamSpecification"]; ok {
			t.Error("the operations table has a stream")
		}
		check(t, "two tables", func() { f.tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(2)) })
	})
}

func TestQueues(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		deliveries := f.idOf(t, "AWS::SQS::Queue", "Deliveries")
		dlq := f.idOf(t, "AWS::SQS::Queue", "DeliveriesDlq")
		failures := f.idOf(t, "AWS::SQS::Queue", "StreamFailures")

		d := f.props(deliveries)
		redrive, _ := d["RedrivePolicy"].(map[string]any)
		if got := num(redrive["maxReceiveCount"]); got != float64(queue.MaxReceiveCount) {
			t.Errorf("maxReceiveCount = %v, want %d", got, queue.MaxReceiveCount)
		}
		if !refersTo(redrive["deadLetterTargetArn"], dlq) {
			t.Errorf("redrive target = %v, want the DLQ %s", redrive["deadLetterTargetArn"], dlq)
		}
		vis := num(d["VisibilityTimeout"])
		if vis != queue.VisibilityTimeout.Seconds() || vis < 6*queue.ConsumerTimeout.Seconds() {
			t.Errorf("VisibilityTimeout = %v, want %v (>= 6 × %v)", vis, queue.VisibilityTimeout.Seconds(), queue.ConsumerTimeout.Seconds())
		}
		// Every consumer of the queue must fit six times into the visibility timeout.
		for _, e := range f.events {
			if e.Source == sourceQueue {
				if to := num(f.props(f.functionID(t, e.Function))["Timeout"]); 6*to > vis {
					t.Errorf("%s: timeout %vs × 6 > visibility %vs", e.Function, to, vis)
				}
			}
		}

		for _, q := range []string{deliveries, dlq, failures} {
			p := f.props(q)
			if !refersTo(p["KmsMasterKeyId"], f.idOf(t, "AWS::KMS::Key", "DataKey")) {
				t.Errorf("%s: KmsMasterKeyId = %v, want the stack's key", q, p["KmsMasterKeyId"])
			}
			if got := num(p["MessageRetentionPeriod"]); got != queue.Retention.Seconds() {
				t.Errorf("%s: retention = %v, want %v", q, got, queue.Retention.Seconds())
			}
			if !f.enforcesSSL(q) {
				t.Errorf("%s: no queue policy denying aws:SecureTransport=false", q)
			}
		}
	})
}

// enforcesSSL reports whether a queue policy of q denies non-TLS access.
func (f *fixture) enforcesSSL(q string) bool {
	for _, id := range f.ofType("AWS::SQS::QueuePolicy") {
		p := f.props(id)
		if !refersTo(p["Queues"], q) {
			continue
		}
		raw, _ := json.Marshal(p["PolicyDocument"])
		if strings.Contains(string(raw), `"Effect":"Deny"`) && strings.Contains(string(raw), `"aws:SecureTransport":"false"`) {
			return true
		}
	}
	return false
}

// ---- functions and permissions ---------------------------------------------

func TestFunctions(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		names := f.functionNames()
		if got := len(f.ofType("AWS::Lambda::Function")); got != len(names) {
			t.Errorf("%d functions, want one per name: %d %v", got, len(names), names)
		}
		specs := functionSpecs(f.routes, f.events)
		for _, s := range specs {
			p := f.props(f.functionID(t, s.name))
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" ||
				!slices.Equal(strs(p["Architectures"]), []string{"arm64"}) {
				t.Errorf("%s: runtime %v handler %v arch %v", s.name, p["Runtime"], p["Handler"], p["Architectures"])
			}
			env, _ := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			for _, k := range []string{appenv.TableName, appenv.OpsTableName, appenv.QueueURL, appenv.DLQURL, appenv.Stage} {
				if _, ok := env[k]; !ok {
					t.Errorf("%s: env %s missing", s.name, k)
				}
			}
			if env[appenv.Stage] != f.stage {
				t.Errorf("%s: %s = %v", s.name, appenv.Stage, env[appenv.Stage])
			}
			// Below a whole vCPU the runtime starts with one P (lambdaapp.RuntimeEnv).
			mem, _ := p["MemorySize"].(float64)
			if want := lambdaapp.RuntimeEnv(int(mem))["GOMAXPROCS"]; want == "" || env["GOMAXPROCS"] != want {
				t.Errorf("%s (%v MB): GOMAXPROCS = %v, want %q", s.name, mem, env["GOMAXPROCS"], want)
			}
			logs, _ := p["LoggingConfig"].(map[string]any)
			if lg := refs(logs["LogGroup"]); len(lg) != 1 || f.res[lg[0]]["Type"] != "AWS::Logs::LogGroup" ||
				f.props(lg[0])["RetentionInDays"] == nil {
				t.Errorf("%s: no log group with retention: %v", s.name, logs)
			}
			wantTimeout, wantMemory := apiTimeout.Seconds(), float64(defaultMemoryMB)
			switch s.source {
			case sourceQueue:
				wantTimeout, wantMemory = queue.ConsumerTimeout.Seconds(), queueConsumerMemoryMB
			case sourceOutbox:
				wantTimeout = queue.SenderTimeout.Seconds()
			case sourceStream:
				wantTimeout = streamConsumerTimeout.Seconds()
			case sourceSchedule:
				wantTimeout = scheduleTimeout.Seconds()
			}
			if lt, ok := longAPITimeouts[s.name]; ok {
				wantTimeout = lt.Seconds()
			}
			if num(p["Timeout"]) != wantTimeout || num(p["MemorySize"]) != wantMemory {
				t.Errorf("%s: timeout %v memory %v, want %v %v", s.name, p["Timeout"], p["MemorySize"], wantTimeout, wantMemory)
			}
		}
	})
}

func TestNoBroadPermissions(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		raw, _ := json.Marshal(f.res)
		if strings.Contains(string(raw), "FullAccess") {
			t.Error("the template mentions a FullAccess managed policy")
		}
		// No function role has a managed policy; the one managed policy is
		// the API Gateway account's logging role's.
		for _, id := range f.ofType("AWS::IAM::Role") {
			arns, _ := f.props(id)["ManagedPolicyArns"].([]any)
			for _, arn := range arns {
				s, _ := json.Marshal(arn)
				if !strings.Contains(string(s), "AmazonAPIGatewayPushToCloudWatchLogs") {
					t.Errorf("%s: unexpected managed policy %s", id, s)
				}
			}
		}
		for _, name := range f.functionNames() {
			role := refs(f.props(f.functionID(t, name))["Role"])
			if len(role) != 1 {
				t.Fatalf("%s: role %v", name, role)
			}
			if arns, ok := f.props(role[0])["ManagedPolicyArns"]; ok {
				t.Errorf("%s: managed policies %v", name, arns)
			}
		}
		for _, doc := range f.policyDocs("") {
			stmts, _ := doc["Statement"].([]any)
			for _, st := range stmts {
				for _, a := range strs(st.(map[string]any)["Action"]) {
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("wildcard action %s in %v", a, st)
					}
				}
			}
		}
	})
}

// TestLeastPrivilege checks every function's grants against its Access bits:
// what it may do, and above all what it may not.
func TestLeastPrivilege(t *testing.T) {
	writeActions := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
	each(t, func(t *testing.T, f *fixture) {
		table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
		ops := f.idOf(t, "AWS::DynamoDB::Table", "OpsTable")
		deliveries := f.idOf(t, "AWS::SQS::Queue", "Deliveries")
		dlq := f.idOf(t, "AWS::SQS::Queue", "DeliveriesDlq")
		sawNoAccess, sawReadOnly, sawRateOnly := false, false, false
		for _, s := range functionSpecs(f.routes, f.events) {
			t.Run(s.name, func(t *testing.T) {
				gs := f.grantsOf(t, s.name)
				a := s.access
				stream := a.Has(routes.StreamRead) || s.source == sourceStream
				consumes := a.Has(routes.QueueConsume) || s.source == sourceQueue

				if a&(routes.TableRead|routes.TableWrite|routes.RateCount|routes.Ops|routes.OpsRead) == 0 && !stream {
					sawNoAccess = sawNoAccess || a == 0
					for _, g := range gs {
						if strings.HasPrefix(g.action, "dynamodb:") {
							t.Errorf("no table access, yet %s", g.action)
						}
					}
				}
				if a == 0 && s.source == sourceNone {
					for _, g := range gs {
						if strings.HasPrefix(g.action, "sqs:") || strings.HasPrefix(g.action, "dynamodb:") {
							t.Errorf("no Access bits, yet %s", g.action)
						}
					}
				}
				if a.Has(routes.TableRead) && !a.Has(routes.TableWrite) {
					sawReadOnly = true
				}
				k := f.keys[s.name]
				// Every DynamoDB grant on the tables is limited to the
				// function's leading keys, and none is a Scan.
				for _, g := range gs {
					if !strings.HasPrefix(g.action, "dynamodb:") || !(refersTo(g.resource, table) || refersTo(g.resource, ops)) || isStreamAction(g.action) {
						continue
					}
					if g.action == "dynamodb:Scan" {
						t.Errorf("may Scan %v", g.resource)
					}
					write := slices.Contains(writeActions, g.action)
					var want []string
					switch {
					case refersTo(g.resource, table) && write:
						want = k.Write
					case refersTo(g.resource, table):
						want = k.Read
					case write && !a.Has(routes.Ops):
						want = []string{routes.KeyRate}
					case write:
						want = k.OpsWrite
					default:
						want = k.OpsRead
					}
					if got, ok := leadingKeysOf(g.condition); !ok || !slices.Equal(got, want) {
						t.Errorf("%s on %v: condition %v, want LeadingKeys %q (with the Null check)", g.action, g.resource, g.condition, want)
					}
				}
				for _, w := range writeActions {
					if got := allows(gs, w, table); got != a.Has(routes.TableWrite) {
						t.Errorf("%s on the table: %v, TableWrite %v", w, got, a.Has(routes.TableWrite))
					}
				}
				for _, w := range writeActions {
					if got := allows(gs, w, ops); got != a.Has(routes.Ops) && w != "dynamodb:UpdateItem" {
						t.Errorf("%s on the operations table: %v, Ops %v", w, got, a.Has(routes.Ops))
					}
				}
				if a.Has(routes.RateCount) && !a.Has(routes.Ops) {
					sawRateOnly = true
					ok := false
					for _, g := range gs {
						if g.action == "dynamodb:UpdateItem" && refersTo(g.resource, ops) {
							keys, valid := leadingKeysOf(g.condition)
							ok = valid && slices.Equal(keys, []string{"RL#*"})
						}
					}
					if !ok {
						t.Error("RateCount must allow UpdateItem on the operations table's RL# keys only")
					}
				}
				if got := allows(gs, "dynamodb:UpdateItem", ops); got != a.Has(routes.Ops) && !a.Has(routes.RateCount) {
					t.Errorf("UpdateItem on the operations table: %v, Ops %v, RateCount %v", got, a.Has(routes.Ops), a.Has(routes.RateCount))
				}
				for _, r := range []string{"dynamodb:GetItem", "dynamodb:Query"} {
					if got := allows(gs, r, ops); got != ((a.Has(routes.Ops) || a.Has(routes.OpsRead)) && len(k.OpsRead) > 0) {
						t.Errorf("%s on the operations table: %v, Ops %v, OpsRead %v", r, got, a.Has(routes.Ops), a.Has(routes.OpsRead))
					}
				}
				for _, r := range []string{"dynamodb:GetItem", "dynamodb:Query"} {
					if got := allows(gs, r, table); got != a.Has(routes.TableRead) {
						t.Errorf("%s on the table: %v, TableRead %v", r, got, a.Has(routes.TableRead))
					}
				}
				if got := allows(gs, "dynamodb:DescribeStream", table); got != stream {
					t.Errorf("stream read: %v, want %v", got, stream)
				}
				if got := allows(gs, "sqs:SendMessage", deliveries); got != a.Has(routes.QueueSend) {
					t.Errorf("SendMessage on deliveries: %v, QueueSend %v", got, a.Has(routes.QueueSend))
				}
				for _, c := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} {
					if got := allows(gs, c, deliveries); got != consumes {
						t.Errorf("%s on deliveries: %v, want %v", c, got, consumes)
					}
					if got := allows(gs, c, dlq); got != a.Has(routes.DLQRead) {
						t.Errorf("%s on the DLQ: %v, DLQRead %v", c, got, a.Has(routes.DLQRead))
					}
				}
				if allows(gs, "sqs:SendMessage", dlq) {
					t.Error("may send to the DLQ")
				}
			})
		}
		if !sawNoAccess || !sawReadOnly || !sawRateOnly {
			t.Errorf("the tables lack a no-access (%v), a read-only (%v) or a count-only (%v) function to check", sawNoAccess, sawReadOnly, sawRateOnly)
		}
	})
}

// isStreamAction is an action of the table's stream (the event source's grant).
func isStreamAction(a string) bool {
	return slices.Contains([]string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, a)
}

// leadingKeysOf returns the dynamodb:LeadingKeys patterns of a grant's
// condition, and whether the condition is exactly the stack's: the patterns
// under ForAllValues:StringLike and the Null check.
func leadingKeysOf(cond any) ([]string, bool) {
	c, _ := cond.(map[string]any)
	like, _ := c["ForAllValues:StringLike"].(map[string]any)
	null, _ := c["Null"].(map[string]any)
	if len(c) != 2 || len(like) != 1 || len(null) != 1 || null["dynamodb:LeadingKeys"] != "false" {
		return nil, false
	}
	return strs(like["dynamodb:LeadingKeys"]), true
}

// TestKeyWalls checks the walls the issue names on the prod template: the
// authorizer reads credentials only (no CONTACT# item, no tenant settings),
// the public Messenger receiver writes contacts and their search entries
// and nothing else, and no role may Scan.
func TestKeyWalls(t *testing.T) {
	f := synth(t, StageProd)
	table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
	ops := f.idOf(t, "AWS::DynamoDB::Table", "OpsTable")
	// scope is the union of the LeadingKeys patterns fn has for action on
	// the table; unlimited is true if some grant has no such condition.
	scope := func(fn, action, target string) (patterns []string, unlimited bool) {
		for _, g := range f.grantsOf(t, fn) {
			if g.action != action || !refersTo(g.resource, target) {
				continue
			}
			keys, ok := leadingKeysOf(g.condition)
			if !ok {
				return nil, true
			}
			patterns = append(patterns, keys...)
		}
		return patterns, false
	}
	matches := func(patterns []string, key string) bool {
		for _, p := range patterns {
			if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(key, prefix) || p == key {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		fn, action, target, key string
		allowed                 bool
	}{
		{routes.Authorizer, "dynamodb:GetItem", table, "CRED#0123abcd", true},
		{routes.Authorizer, "dynamodb:GetItem", table, "CONTACT#ten_1#100000000000042", false},
		{routes.Authorizer, "dynamodb:GetItem", table, "TENANT#ten_1", false},
		{routes.Authorizer, "dynamodb:Query", table, "CONTACT#ten_1#100000000000042", false},
		// The public Messenger receiver only stores the call; the intake
		// records it.
		{"messenger-receive", "dynamodb:PutItem", table, "INBOX#ten_1#ch_1", true},
		{"messenger-receive", "dynamodb:PutItem", table, "CONTACT#ten_1#42", false},
		{"messenger-receive", "dynamodb:UpdateItem", table, "TENANT#ten_1", false},
		{"messenger-receive", "dynamodb:PutItem", ops, "IDX#ten_1#ch_1#std:email#a@b.c", false},
		{"messenger-intake", "dynamodb:PutItem", table, "CONTACT#ten_1#42", true},
		{"messenger-intake", "dynamodb:UpdateItem", table, "TENANT#ten_1", false},
		{"messenger-intake", "dynamodb:PutItem", table, "CRED#0123abcd", false},
		{"messenger-intake", "dynamodb:PutItem", table, "TENANTS", false},
		{"messenger-intake", "dynamodb:GetItem", table, "CRED#0123abcd", false},
		{"messenger-intake", "dynamodb:PutItem", ops, "IDX#ten_1#ch_1#std:email#a@b.c", true},
		{"messenger-intake", "dynamodb:PutItem", ops, "ONCE#ten_1#ch_1#m_1", true},
		{"messenger-intake", "dynamodb:PutItem", ops, "IDEM#x#y", false},
		{"messenger-intake", "dynamodb:UpdateItem", ops, "RL#x#1", false},
		{"messenger-intake", "dynamodb:GetItem", ops, "CONN#ten_1#c", false},
		// whatsapp: the public receiver reads the lookups and stores the
		// call, nothing else; the handshake reads verify-token lookups.
		{"whatsapp-receive", "dynamodb:GetItem", table, "WAPHONE#106540352242922", true},
		{"whatsapp-receive", "dynamodb:Query", table, "WABA#102290129340398", true},
		{"whatsapp-receive", "dynamodb:PutItem", table, "WAINBOX#ten_1#ch_1", true},
		{"whatsapp-receive", "dynamodb:GetItem", table, "TENANT#ten_1", false},
		{"whatsapp-receive", "dynamodb:PutItem", table, "CONTACT#ten_1#42", false},
		{"whatsapp-receive", "dynamodb:PutItem", table, "WAPHONE#106540352242922", false},
		{"whatsapp-receive", "dynamodb:PutItem", ops, "WAMSG#ten_1#ch_1#wamid.1", false},
		{"whatsapp-verify", "dynamodb:Query", table, "WAVERIFY#0123abcd", true},
		{"whatsapp-verify", "dynamodb:GetItem", table, "TENANT#ten_1", false},
		{"whatsapp-intake", "dynamodb:PutItem", ops, "WAMSG#ten_1#ch_1#wamid.1", true},
		{"whatsapp-intake", "dynamodb:PutItem", table, "CONTACT#ten_1#42", true},
		{"whatsapp-intake", "dynamodb:GetItem", table, "WAPHONE#106540352242922", false},
		// template status updates write the tenant's templates (settings)
		{"whatsapp-intake", "dynamodb:PutItem", table, "TENANT#ten_1", true},
		{"whatsapp-intake", "dynamodb:PutItem", table, "CRED#abc", false},
		{"admin-whatsapp-set", "dynamodb:PutItem", table, "WAPHONE#106540352242922", true},
		{"admin-whatsapp-set", "dynamodb:UpdateItem", table, "INSTANCESEQ", true},
		{"admin-whatsapp-set", "dynamodb:PutItem", table, "CRED#0123abcd", false},
		{"admin-twilio-set", "dynamodb:PutItem", table, "TENANT#ten_1", true},
		{"admin-twilio-set", "dynamodb:PutItem", table, "CRED#0123abcd", false},
		{"admin-twilio-set", "dynamodb:PutItem", table, "WAPHONE#106540352242922", false},
		// actions: SMS and CALL store their message, nothing else of the
		// messaging side; settings are read (the channels), never written.
		{"actions", "dynamodb:PutItem", table, "MSG#ten_1#msg_1", true},
		{"actions", "dynamodb:Query", table, "TENANT#ten_1", true},
		{"actions", "dynamodb:PutItem", table, "TENANT#ten_1", false},
		{"actions", "dynamodb:PutItem", ops, "CLAIM#ten_1#msg_1", false},
		{"admin-channel-create", "dynamodb:PutItem", table, "INSTANCE#7", true},
		{"contact-get", "dynamodb:UpdateItem", ops, "RL#tok#1", true},
		{"contact-get", "dynamodb:UpdateItem", ops, "IDX#ten_1#x", false},
		{"admin-token-create", "dynamodb:PutItem", table, "CRED#0123abcd", true},
		{"admin-tenant-get", "dynamodb:GetItem", table, "CONTACT#ten_1#42", false},
	} {
		patterns, unlimited := scope(c.fn, c.action, c.target)
		if got := !unlimited && matches(patterns, c.key) || unlimited; got != c.allowed {
			t.Errorf("%s: %s on %s: allowed %v (LeadingKeys %q, unlimited %v), want %v", c.fn, c.action, c.key, got, patterns, unlimited, c.allowed)
		}
	}
	for _, fn := range f.functionNames() {
		for _, g := range f.grantsOf(t, fn) {
			if g.action == "dynamodb:Scan" || g.action == "dynamodb:*" {
				t.Errorf("%s may %s %v", fn, g.action, g.resource)
			}
		}
	}
}

// TestEncryption checks that the customer-managed key (rotated) encrypts
// both tables, every queue and every log group, and that CloudWatch Logs may
// use it.
func TestEncryption(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		key := f.idOf(t, "AWS::KMS::Key", "DataKey")
		if f.props(key)["EnableKeyRotation"] != true {
			t.Error("key rotation is off")
		}
		for _, id := range f.ofType("AWS::DynamoDB::Table") {
			sse, _ := f.props(id)["SSESpecification"].(map[string]any)
			if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || !refersTo(sse["KMSMasterKeyId"], key) {
				t.Errorf("table %s: SSESpecification %v", id, sse)
			}
		}
		for _, id := range f.ofType("AWS::SQS::Queue") {
			if !refersTo(f.props(id)["KmsMasterKeyId"], key) {
				t.Errorf("queue %s: KmsMasterKeyId %v", id, f.props(id)["KmsMasterKeyId"])
			}
		}
		groups := f.ofType("AWS::Logs::LogGroup")
		if len(groups) < len(f.functionNames())+1 {
			t.Errorf("%d log groups", len(groups))
		}
		for _, id := range groups {
			if !refersTo(f.props(id)["KmsKeyId"], key) {
				t.Errorf("log group %s: KmsKeyId %v", id, f.props(id)["KmsKeyId"])
			}
		}
		raw, _ := json.Marshal(f.props(key)["KeyPolicy"])
		if !strings.Contains(string(raw), `"Service":{"Fn::Join":["",["logs.",{"Ref":"AWS::Region"},".amazonaws.com"]]}`) ||
			!strings.Contains(string(raw), "kms:EncryptionContext:aws:logs:arn") {
			t.Errorf("the key policy does not let CloudWatch Logs of this account use the key: %s", raw)
		}
		// A function that reads the tables may decrypt with the key.
		if !allows(f.grantsOf(t, "contact-get"), "kms:Decrypt", key) {
			t.Error("contact-get may not decrypt with the key")
		}
	})
}

// TestTracing checks X-Ray active tracing on every function and the stage.
func TestTracing(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, name := range f.functionNames() {
			tc, _ := f.props(f.functionID(t, name))["TracingConfig"].(map[string]any)
			if tc["Mode"] != "Active" {
				t.Errorf("%s: TracingConfig %v", name, tc)
			}
		}
		for _, id := range f.ofType("AWS::ApiGateway::Stage") {
			if f.props(id)["TracingEnabled"] != true {
				t.Errorf("stage %s: TracingEnabled %v", id, f.props(id)["TracingEnabled"])
			}
		}
	})
}

// TestJSONLogs checks that every function logs JSON lines (the format
// lambdacontext's handler follows) at INFO, Lambda's own lines at WARN.
func TestJSONLogs(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, name := range f.functionNames() {
			lc, _ := f.props(f.functionID(t, name))["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" || lc["ApplicationLogLevel"] != "INFO" || lc["SystemLogLevel"] != "WARN" {
				t.Errorf("%s: LoggingConfig %v", name, lc)
			}
		}
	})
}

// nagRule finds the rule ID in a cdk-nag message.
var nagRule = regexp.MustCompile(`(AwsSolutions|Serverless)-[A-Za-z0-9]+`)

// nagMessage is one cdk-nag annotation on a construct: an error or warning
// is an unsuppressed finding, an info a suppressed one (LogIgnores).
type nagMessage struct {
	level, path, rule, text string
}

// nagPending are findings another change of the project is to fix: they
// are tolerated, not suppressed. None today.
var nagPending = map[string]bool{}

// TestNag runs cdk-nag's AwsSolutions and Serverless packs on both stages:
// every finding is fixed or suppressed beside its resource with a reason,
// so a new one fails here.
func TestNag(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		suppressed := map[string]bool{}
		for _, m := range f.nag {
			switch {
			case m.level == "info":
				suppressed[m.rule] = true
			case nagPending[m.rule]:
				t.Logf("pending elsewhere: %s %s", m.rule, m.path)
			default:
				t.Errorf("cdk-nag %s at %s: %s", m.level, m.path, m.text)
			}
		}
		// The packs ran: the suppressions of both show as info.
		for _, r := range []string{"AwsSolutions-APIG4", "AwsSolutions-IAM5", "Serverless-LambdaDLQ"} {
			if !suppressed[r] {
				t.Errorf("no suppressed %s finding logged: did the packs run? (%d messages)", r, len(f.nag))
			}
		}
		// And they ran on every stack: each nested stack's functions have
		// their suppressions logged too.
		for _, area := range slices.Sorted(maps.Values(f.nestedIn)) {
			prefix := StackName(f.stage) + "/" + area + "/"
			if !slices.ContainsFunc(f.nag, func(m nagMessage) bool {
				return strings.HasPrefix(strings.TrimPrefix(m.path, "/"), prefix) && m.rule == "Serverless-LambdaDLQ"
			}) {
				t.Errorf("no cdk-nag message under %s: did the packs run on the nested stack?", prefix)
			}
		}
	})
}

// TestRequestValidation checks API Gateway's body validation: every route
// with a required JSON body has the validator and a model of its top-level
// type; the others have neither.
func TestRequestValidation(t *testing.T) {
	f := synth(t, StageProd)
	validators := f.ofType("AWS::ApiGateway::RequestValidator")
	if len(validators) != 1 {
		t.Fatalf("validators %v", validators)
	}
	v := f.props(validators[0])
	if v["ValidateRequestBody"] != true || v["ValidateRequestParameters"] != true {
		t.Errorf("validator %v", v)
	}
	types := bodyTypes(routes.Document)
	paths := f.resourcePaths()
	seen := 0
	for _, id := range f.ofType("AWS::ApiGateway::Method") {
		p := f.props(id)
		if p["HttpMethod"] == "ANY" {
			continue
		}
		res := refs(p["ResourceId"])
		path := ""
		if len(res) == 1 {
			path = paths[res[0]]
		} else {
			path = "/"
		}
		typ, want := types[fmt.Sprint(p["HttpMethod"])+" "+path]
		models, _ := p["RequestModels"].(map[string]any)
		if got := refersTo(p["RequestValidatorId"], validators[0]); got != want {
			t.Errorf("%s %s: validator %v, want %v", p["HttpMethod"], path, got, want)
			continue
		}
		if !want {
			continue
		}
		seen++
		model := refs(models["application/json"])
		if len(model) != 1 {
			t.Errorf("%s %s: models %v", p["HttpMethod"], path, models)
			continue
		}
		schema, _ := f.props(model[0])["Schema"].(map[string]any)
		if schema["type"] != typ {
			t.Errorf("%s %s: model type %v, want %s", p["HttpMethod"], path, schema["type"], typ)
		}
	}
	if seen == 0 || seen != len(types) {
		t.Errorf("%d methods validate a body, the document requires %d", seen, len(types))
	}
	if types["POST /v1/actions"] != "array" || types["POST /v1/contact"] != "object" {
		t.Errorf("body types %v", types)
	}
	if _, ok := types["POST /admin/tenants/{tenantId}/channels/{channelId}/tokens"]; ok {
		t.Error("the token's optional body must not be required")
	}
}

// ---- event sources ----------------------------------------------------------

func TestEventSources(t *testing.T) {
	f := synth(t, StageDev) // the stage with synthetic consumers
	table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
	deliveries := f.idOf(t, "AWS::SQS::Queue", "Deliveries")
	failures := f.idOf(t, "AWS::SQS::Queue", "StreamFailures")

	mappings := map[string]map[string]any{} // function logical ID → mapping
	for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
		p := f.props(id)
		fn := refs(p["FunctionName"])
		if len(fn) != 1 {
			t.Fatalf("%s: FunctionName %v", id, p["FunctionName"])
		}
		if _, dup := mappings[fn[0]]; dup {
			t.Errorf("%s: two mappings", fn[0])
		}
		mappings[fn[0]] = p
	}
	want := 0
	for _, e := range f.events {
		if e.Source == sourceNone || e.Source == sourceSchedule {
			if _, ok := mappings[f.functionID(t, e.Function)]; ok {
				t.Errorf("%s: has an event source mapping", e.Function)
			}
			continue
		}
		want++
		t.Run(e.Function, func(t *testing.T) {
			p, ok := mappings[f.functionID(t, e.Function)]
			if !ok {
				t.Fatal("no event source mapping")
			}
			if !slices.Equal(strs(p["FunctionResponseTypes"]), []string{"ReportBatchItemFailures"}) {
				t.Errorf("FunctionResponseTypes = %v", p["FunctionResponseTypes"])
			}
			if e.BatchSize != 0 && num(p["BatchSize"]) != float64(e.BatchSize) {
				t.Errorf("BatchSize = %v, want %d", p["BatchSize"], e.BatchSize)
			}
			switch e.Source {
			case sourceStream:
				if !refersTo(p["EventSourceArn"], table) || p["StartingPosition"] != "TRIM_HORIZON" ||
					p["BisectBatchOnFunctionError"] != true || num(p["MaximumRetryAttempts"]) != streamRetryAttempts {
					t.Errorf("stream mapping: %v", p)
				}
				if age, set := p["MaximumRecordAgeInSeconds"]; set && num(age) != -1 {
					t.Errorf("MaximumRecordAgeInSeconds = %v, want unlimited", age)
				}
				dest, _ := p["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)
				if !refersTo(dest["Destination"], failures) {
					t.Errorf("on-failure destination = %v, want the stream-failures queue", dest)
				}
			case sourceQueue:
				if !refersTo(p["EventSourceArn"], deliveries) {
					t.Errorf("queue mapping source = %v", p["EventSourceArn"])
				}
				if w, set := p["MaximumBatchingWindowInSeconds"]; set && num(w) != 0 {
					t.Errorf("MaximumBatchingWindowInSeconds = %v, want none (it adds to every delivery's latency)", w)
				}
			}
		})
	}
	if want == 0 || len(mappings) != want {
		t.Errorf("%d mappings, want %d (one per stream/queue function)", len(mappings), want)
	}
}

// ---- REST API -----------------------------------------------------------------

// authorizerIDs maps identity source → authorizer logical ID and checks the
// authorizers' common settings.
func (f *fixture) authorizerIDs(t *testing.T) map[string]string {
	t.Helper()
	fn := f.functionID(t, routes.Authorizer)
	out := map[string]string{}
	for _, id := range f.ofType("AWS::ApiGateway::Authorizer") {
		p := f.props(id)
		// 300 s: a revoked token keeps working that long at most.
		if p["Type"] != "REQUEST" || num(p["AuthorizerResultTtlInSeconds"]) != 300 ||
			!refersTo(p["AuthorizerUri"], fn) {
			t.Errorf("%s: type %v ttl %v uri %v", id, p["Type"], p["AuthorizerResultTtlInSeconds"], p["AuthorizerUri"])
		}
		out[p["IdentitySource"].(string)] = id
	}
	return out
}

func TestAuthorizers(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		ids := f.authorizerIDs(t)
		needs := map[string]bool{}
		for _, r := range f.routes {
			switch r.Auth {
			case routes.AuthChannel, routes.AuthAccount, routes.AuthChannelOrAccount:
				needs[headerIdentity] = true
			case routes.AuthChannelQuery:
				needs[queryIdentity] = true
			}
		}
		if len(ids) != len(needs) {
			t.Errorf("authorizers by identity source %v, want %v", ids, needs)
		}
		for src := range needs {
			id, ok := ids[src]
			if !ok {
				t.Errorf("no authorizer on %s", src)
				continue
			}
			// API Gateway may invoke the authorizer function for it.
			ok = false
			for _, pid := range f.ofType("AWS::Lambda::Permission") {
				p := f.props(pid)
				if refersTo(p["FunctionName"], f.functionID(t, routes.Authorizer)) && refersTo(p["SourceArn"], id) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: no invoke permission for the authorizer", id)
			}
		}
		if f.stage == StageDev && len(needs) != 2 {
			t.Error("the dev fixture should exercise both authorizers")
		}
	})
}

func TestRouteMethods(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		auth := f.authorizerIDs(t)
		byKey := map[string]method{}
		for _, m := range f.methods() {
			key := m.verb + " " + m.path
			if _, dup := byKey[key]; dup {
				t.Errorf("two methods %s", key)
			}
			byKey[key] = m
		}
		for _, r := range f.routes {
			m, ok := byKey[r.Method+" "+r.Path]
			if !ok {
				t.Errorf("%s %s: no method", r.Method, r.Path)
				continue
			}
			p := m.props
			integ, _ := p["Integration"].(map[string]any)
			if integ["Type"] != "AWS_PROXY" || !refersTo(integ["Uri"], f.functionID(t, r.Function)) {
				t.Errorf("%s %s: integration %v, want a proxy to %s", r.Method, r.Path, integ, r.Function)
			}
			wantType, wantAuthorizer := map[routes.Auth]string{
				routes.AuthNone: "NONE", routes.AuthAdmin: "AWS_IAM",
				routes.AuthChannel: "CUSTOM", routes.AuthAccount: "CUSTOM", routes.AuthChannelQuery: "CUSTOM", routes.AuthChannelOrAccount: "CUSTOM",
			}[r.Auth], ""
			switch r.Auth {
			case routes.AuthChannel, routes.AuthAccount, routes.AuthChannelOrAccount:
				wantAuthorizer = auth[headerIdentity]
			case routes.AuthChannelQuery:
				wantAuthorizer = auth[queryIdentity]
			}
			gotAuthorizer := ""
			if a := refs(p["AuthorizerId"]); len(a) == 1 {
				gotAuthorizer = a[0]
			}
			if p["AuthorizationType"] != wantType || gotAuthorizer != wantAuthorizer {
				t.Errorf("%s %s (%s): authorization %v/%q, want %s/%q",
					r.Method, r.Path, r.Auth, p["AuthorizationType"], gotAuthorizer, wantType, wantAuthorizer)
			}
			// API Gateway calls the function with the invoke role, which
			// may invoke it (TestInvokeRole: and only the route functions).
			if cred := refs(integ["Credentials"]); len(cred) != 1 || !slices.Contains(f.invokeRoleIDs(t), cred[0]) {
				t.Errorf("%s %s: integration credentials %v, want an invoke role", r.Method, r.Path, integ["Credentials"])
			} else if !allows(f.roleGrants(cred[0]), "lambda:InvokeFunction", f.functionID(t, r.Function)) {
				t.Errorf("%s %s: the invoke role may not invoke %s", r.Method, r.Path, r.Function)
			}
		}
		// Nothing else: the route methods (no ANY mocks, TestNoMethodMocks).
		if got, want := len(byKey), len(f.routes); got != want {
			t.Errorf("%d methods, want %d", got, want)
		}
	})
}

// TestNoMethodMocks: no path has an ANY mock (a method resource each,
// which the 500-resource limit cannot spare); a method a path lacks gets
// API Gateway's MISSING_AUTHENTICATION_TOKEN, rewritten to the 404
// envelope.
func TestNoMethodMocks(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, m := range f.methods() {
			if m.verb == "ANY" {
				t.Errorf("ANY method on %s", m.path)
			}
		}
		found := false
		for _, id := range f.ofType("AWS::ApiGateway::GatewayResponse") {
			p := f.props(id)
			if p["ResponseType"] != "MISSING_AUTHENTICATION_TOKEN" {
				continue
			}
			found = true
			body, _ := p["ResponseTemplates"].(map[string]any)["application/json"].(string)
			if p["StatusCode"] != "404" {
				t.Errorf("MISSING_AUTHENTICATION_TOKEN answers %v, want 404", p["StatusCode"])
			}
			checkEnvelope(t, "MISSING_AUTHENTICATION_TOKEN", body, "Not found.")
		}
		if !found {
			t.Error("no MISSING_AUTHENTICATION_TOKEN gateway response")
		}
	})
}

// checkEnvelope checks that body is {"status":"error","message":msg,"data":[]}.
func checkEnvelope(t *testing.T, what, body, msg string) {
	t.Helper()
	var env struct {
		Status  string
		Message string
		Data    []any
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Status != "error" || env.Message != msg ||
		env.Data == nil || len(env.Data) != 0 {
		t.Errorf("%s: body %s (err %v), want the error envelope with %q", what, body, err, msg)
	}
}

func TestGatewayResponses(t *testing.T) {
	const fromContext = "<messageString>" // $context.error.messageString
	tests := []struct {
		typ, status, message string
		headers              map[string]string
	}{
		{"MISSING_AUTHENTICATION_TOKEN", "404", "Not found.", nil},
		{"UNAUTHORIZED", "401", "API Token is invalid.", nil},
		{"ACCESS_DENIED", "403", "Forbidden.", nil},
		{"THROTTLED", "429", "Too many requests", map[string]string{"Retry-After": "'60'"}},
		{"REQUEST_TOO_LARGE", "413", "Request body is too large (max 256 KB).", nil},
		{"BAD_REQUEST_BODY", "400", fromContext, nil},
		{"BAD_REQUEST_PARAMETERS", "400", fromContext, nil},
		{"DEFAULT_4XX", "", fromContext, nil},
		{"DEFAULT_5XX", "", "Internal server error.", nil},
	}
	each(t, func(t *testing.T, f *fixture) {
		byType := map[string]map[string]any{}
		for _, id := range f.ofType("AWS::ApiGateway::GatewayResponse") {
			p := f.props(id)
			byType[p["ResponseType"].(string)] = p
		}
		for _, tt := range tests {
			p, ok := byType[tt.typ]
			if !ok {
				t.Errorf("%s: no gateway response", tt.typ)
				continue
			}
			status, _ := p["StatusCode"].(string)
			if status != tt.status {
				t.Errorf("%s: status %q, want %q", tt.typ, status, tt.status)
			}
			params, _ := p["ResponseParameters"].(map[string]any)
			if params["gatewayresponse.header.Content-Type"] != "'application/json'" {
				t.Errorf("%s: Content-Type %v", tt.typ, params)
			}
			for h, v := range tt.headers {
				if params["gatewayresponse.header."+h] != v {
					t.Errorf("%s: header %s = %v, want %s", tt.typ, h, params["gatewayresponse.header."+h], v)
				}
			}
			body, _ := p["ResponseTemplates"].(map[string]any)["application/json"].(string)
			// messageString comes quoted from API Gateway: it must not be
			// quoted again.
			if strings.Contains(body, `"$context.error.messageString"`) {
				t.Errorf("%s: messageString quoted twice: %s", tt.typ, body)
			}
			body = strings.ReplaceAll(body, "$context.error.messageString", `"`+fromContext+`"`)
			checkEnvelope(t, tt.typ, body, tt.message)
		}
	})
}

func TestStage(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		stages := f.ofType("AWS::ApiGateway::Stage")
		if len(stages) != 1 {
			t.Fatalf("stages %v", stages)
		}
		p := f.props(stages[0])
		if p["StageName"] != f.stage {
			t.Errorf("StageName = %v", p["StageName"])
		}
		als, _ := p["AccessLogSetting"].(map[string]any)
		if lg := refs(als["DestinationArn"]); len(lg) != 1 || f.res[lg[0]]["Type"] != "AWS::Logs::LogGroup" {
			t.Errorf("access log destination %v", als["DestinationArn"])
		}
		var format map[string]string
		if err := json.Unmarshal([]byte(als["Format"].(string)), &format); err != nil {
			t.Errorf("access log format is not JSON: %v", err)
		}
		for k, v := range map[string]string{
			"requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "method": "$context.httpMethod",
			"resourcePath": "$context.resourcePath", "status": "$context.status",
			"latency": "$context.responseLatency", "tenant": "$context.authorizer.tenantId",
		} {
			if format[k] != v {
				t.Errorf("access log %s = %q, want %q", k, format[k], v)
			}
		}
		check(t, "method settings", func() {
			f.tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
				"MethodSettings": []any{map[string]any{
					"HttpMethod": "*", "ResourcePath": "/*", "MetricsEnabled": true, "DataTraceEnabled": false, "LoggingLevel": "ERROR",
					"ThrottlingBurstLimit": throttleBurst, "ThrottlingRateLimit": throttleRate,
				}},
			})
		})
		if p["TracingEnabled"] != true {
			t.Errorf("TracingEnabled = %v", p["TracingEnabled"])
		}
		// The execution logs' group is the stack's (retention, key), made
		// before the stage.
		execLogs := false
		for _, id := range f.ofType("AWS::Logs::LogGroup") {
			raw, _ := json.Marshal(f.props(id)["LogGroupName"])
			if strings.Contains(string(raw), "API-Gateway-Execution-Logs_") && strings.Contains(string(raw), "/"+f.stage) {
				execLogs = slices.Contains(strs(f.res[stages[0]]["DependsOn"]), id) && f.props(id)["RetentionInDays"] != nil
			}
		}
		if !execLogs {
			t.Error("no execution log group with retention that the stage depends on")
		}
		// Access logging needs the account's API Gateway CloudWatch role.
		check(t, "account role", func() {
			f.tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(1))
		})
	})
}

func TestAlarms(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		var queueAlarms []string
		rate := false
		for _, id := range f.ofType("AWS::CloudWatch::Alarm") {
			p := f.props(id)
			if p["ComparisonOperator"] != "GreaterThanThreshold" {
				t.Errorf("%s: operator %v", id, p["ComparisonOperator"])
			}
			if p["MetricName"] == "ApproximateNumberOfMessagesVisible" && num(p["Threshold"]) == 0 {
				queueAlarms = append(queueAlarms, refs(p["Dimensions"])...)
			}
			raw, _ := json.Marshal(p["Metrics"])
			if strings.Contains(string(raw), `"5XXError"`) && strings.Contains(string(raw), `"Count"`) &&
				strings.Contains(string(raw), `"Expression"`) && num(p["Threshold"]) == 1 {
				rate = true
			}
		}
		for _, stem := range []string{"DeliveriesDlq", "StreamFailures"} {
			if !slices.Contains(queueAlarms, f.idOf(t, "AWS::SQS::Queue", stem)) {
				t.Errorf("no depth > 0 alarm on %s", stem)
			}
		}
		if !rate {
			t.Error("no API 5XX rate alarm")
		}
	})
}

func TestOutputs(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, name := range []string{"ApiUrl", "TableName", "OpsTableName", "QueueUrl", "DlqUrl"} {
			check(t, name, func() { f.tmpl.HasOutput(jsii.String(name), map[string]any{}) })
		}
	})
}

// ---- no synth -------------------------------------------------------------------

func TestBadStagePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("stage \"qa\" did not panic")
		}
	}()
	NewBackendStack(awscdk.NewApp(nil), "Bad", &BackendStackProps{Stage: "qa"})
}

func TestStageOf(t *testing.T) {
	tests := []struct {
		ctx     any
		env     string
		want    string
		wantErr bool
	}{
		{nil, "", StageDev, false},
		{nil, "prod", StageProd, false},
		{"prod", "dev", StageProd, false},
		{"", "prod", StageProd, false},
		{"qa", "", "", true},
		{nil, "staging", "", true},
	}
	for _, tt := range tests {
		got, err := stageOf(tt.ctx, tt.env)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("stageOf(%v, %q) = %q, %v", tt.ctx, tt.env, got, err)
		}
	}
}

func TestConstructID(t *testing.T) {
	for in, want := range map[string]string{
		"me": "Me", "admin-tenant-get": "AdminTenantGet", "trigger_router": "TriggerRouter", "a1-b2": "A1B2",
	} {
		if got := constructID(in); got != want {
			t.Errorf("constructID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDefaultAssetDir(t *testing.T) {
	got := DefaultAssetDir("me")
	if filepath.Base(filepath.Dir(got)) != "dist" || filepath.Base(got) != "me" {
		t.Errorf("DefaultAssetDir = %q", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(got)), "go.mod")); err != nil {
		t.Errorf("%q is not under the module root: %v", got, err)
	}
}

func TestFunctionSpecsUnion(t *testing.T) {
	specs := functionSpecs(syntheticRoutes, nil)
	for _, s := range specs {
		if s.name == "synthetic-account" && s.access != routes.TableRead|routes.TableWrite {
			t.Errorf("synthetic-account access = %b", s.access)
		}
	}
	if len(specs) != 2 {
		t.Errorf("specs = %v", specs)
	}
}

func TestQuoted(t *testing.T) {
	for _, s := range []string{"Not found.", `say "hi"`, "back\\slash"} {
		checkEnvelope(t, s, errorEnvelope(quoted(s)), s)
	}
}

// TestStreamFilter: a stream consumer with a KeyPrefix is invoked only for
// the records its routes.StreamFilters pass, one filter per pattern (the
// trigger router: contacts, new messages, and outbound messages' status
// changes past queued; not the sender's claims and retries).
func TestStreamFilter(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		for _, e := range f.events {
			if e.Source != sourceStream {
				continue
			}
			fn := f.functionID(t, e.Function)
			found := false
			for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
				p := f.props(id)
				if !refersTo(p["FunctionName"], fn) {
					continue
				}
				found = true
				fc, _ := json.Marshal(p["FilterCriteria"])
				if e.KeyPrefix == "" {
					if p["FilterCriteria"] != nil {
						t.Errorf("%s: filter %s without a KeyPrefix", e.Function, fc)
					}
					continue
				}
				var crit struct{ Filters []struct{ Pattern string } }
				if err := json.Unmarshal(fc, &crit); err != nil {
					t.Fatalf("%s: filter %s: %v", e.Function, fc, err)
				}
				var got, want []any
				for _, f := range crit.Filters {
					var v any
					if err := json.Unmarshal([]byte(f.Pattern), &v); err != nil {
						t.Fatalf("%s: pattern %q: %v", e.Function, f.Pattern, err)
					}
					got = append(got, v)
				}
				for _, sf := range e.StreamFilters() {
					b, _ := json.Marshal(sf.Pattern())
					var v any
					_ = json.Unmarshal(b, &v)
					want = append(want, v)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: filter %s, want %v", e.Function, fc, want)
				}
			}
			if !found {
				t.Errorf("%s: no event source mapping", e.Function)
			}
		}
	})
	// The trigger router's, spelled out.
	f := synth(t, StageProd)
	fn := f.functionID(t, "trigger-router")
	for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
		p := f.props(id)
		if !refersTo(p["FunctionName"], fn) {
			continue
		}
		fc, _ := json.Marshal(p["FilterCriteria"])
		var crit struct{ Filters []struct{ Pattern string } }
		_ = json.Unmarshal(fc, &crit)
		var got []string
		for _, f := range crit.Filters {
			var v any
			_ = json.Unmarshal([]byte(f.Pattern), &v)
			b, _ := json.Marshal(v) // keys sorted
			got = append(got, string(b))
		}
		want := []string{
			`{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"CONTACT#"}]}}}}`,
			`{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"MSG#"}]}}},"eventName":["INSERT"]}`,
			`{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"MSG#"}]}},"NewImage":{"direction":{"S":["outbound"]},"status":{"S":["sent","delivered","read","completed","failed"]}}},"eventName":["MODIFY"]}`,
			`{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"AUTOCALL#"}]}}},"eventName":["INSERT"]}`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("trigger-router's filters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestMissingAssets(t *testing.T) {
	dir := t.TempDir()
	assetDir := func(fn string) string { return filepath.Join(dir, fn) }
	all := MissingAssets(routes.Table, routes.EventFunctions, assetDir)
	if len(all) != len(functionSpecs(routes.Table, routes.EventFunctions))+len(routes.ZoneReaders) {
		t.Fatalf("empty dir: %d missing, want every function's bootstrap and the zone readers' zoneinfo.zip", len(all))
	}
	if err := os.MkdirAll(filepath.Join(dir, "me"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "me", "bootstrap"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "openapi", "bootstrap"), 0o755); err != nil { // a directory is no binary
		t.Fatal(err)
	}
	got := MissingAssets(routes.Table, routes.EventFunctions, assetDir)
	if len(got) != len(all)-1 || slices.Contains(got, filepath.Join(dir, "me", "bootstrap")) || !slices.Contains(got, filepath.Join(dir, "openapi", "bootstrap")) {
		t.Errorf("with me built: %d missing %v", len(got), got)
	}
}

// TestAppMissingAssets runs the app (its main, as `go run ./infra` does)
// in a module without dist/: it exits 1 naming the missing bootstraps and
// `make build`, without a panic.
func TestAppMissingAssets(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "dist", "me"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dist", "me", "bootstrap"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "INFRA_TEST_RUN_APP=1", "CDK_OUTDIR="+filepath.Join(root, "cdk.out"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("app exited with %v, want status 1:\n%s", err, out)
	}
	s := string(out)
	if strings.Contains(s, "panic") || !strings.Contains(s, "run `make build`") ||
		!strings.Contains(s, "dist/openapi/bootstrap") || strings.Contains(s, "dist/me/bootstrap") {
		t.Errorf("output:\n%s", s)
	}
	t.Log(s)
	if _, err := os.Stat(filepath.Join(root, "cdk.out")); err == nil {
		t.Error("wrote a cloud assembly")
	}
}

// TestMessengerIntake: the Messenger intake is a consumer of the data
// table's stream invoked for inbox items only (INBOX#), which writes
// contacts (table) with their event marks (operations table); the trigger
// router's filter leaves inbox items out.
func TestMessengerIntake(t *testing.T) {
	f := synth(t, StageProd) // built from routes.EventFunctions
	table := f.idOf(t, "AWS::DynamoDB::Table", "Table")
	ops := f.idOf(t, "AWS::DynamoDB::Table", "OpsTable")
	fn := f.functionID(t, "messenger-intake")
	found := false
	for _, id := range f.ofType("AWS::Lambda::EventSourceMapping") {
		p := f.props(id)
		if !refersTo(p["FunctionName"], fn) {
			continue
		}
		found = true
		fc, _ := json.Marshal(p["FilterCriteria"])
		if want := `{"Filters":[{"Pattern":"{\"dynamodb\":{\"Keys\":{\"PK\":{\"S\":[{\"prefix\":\"INBOX#\"}]}}}}"}]}`; string(fc) != want {
			t.Errorf("filter %s, want %s", fc, want)
		}
		if !refersTo(p["EventSourceArn"], table) || num(p["BatchSize"]) != 10 {
			t.Errorf("mapping %v", p)
		}
	}
	if !found {
		t.Fatal("messenger-intake has no event source mapping")
	}
	gs := f.grantsOf(t, "messenger-intake")
	for _, g := range []struct {
		action, target string
	}{{"dynamodb:PutItem", table}, {"dynamodb:GetItem", table}, {"dynamodb:PutItem", ops}, {"dynamodb:DescribeStream", table}} {
		if !allows(gs, g.action, g.target) {
			t.Errorf("messenger-intake may not %s on %s", g.action, g.target)
		}
	}
	// (Its event source's on-failure destination, the stream-failures
	// queue, is another matter.)
	if allows(gs, "sqs:SendMessage", f.idOf(t, "AWS::SQS::Queue", "Deliveries")) {
		t.Error("messenger-intake may send to the deliveries queue: it queues nothing")
	}
	for _, e := range f.events {
		if e.Function == "trigger-router" && (e.KeyPrefix == "" || strings.HasPrefix("INBOX#", e.KeyPrefix)) {
			t.Errorf("the trigger router's filter %q lets inbox items through", e.KeyPrefix)
		}
	}
}
