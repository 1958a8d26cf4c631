package main

import (
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// TestDeploymentFollowsNestedMethods: a method declared in a nested stack
// still changes the stage's deployment (its logical ID, so that
// CloudFormation makes a new deployment of the stage) and the deployment
// waits for that nested stack. Two one-route stacks that differ only in
// the route's authorization must have different deployments.
func TestDeploymentFollowsNestedMethods(t *testing.T) {
	deployment := func(auth routes.Auth) (id string, dependsOn []string) {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(outDir, "deployment-"+string(auth)))})
		stack := NewBackendStack(app, "Deployment", &BackendStackProps{
			Stage:    StageDev,
			AssetDir: testAssetDir,
			Routes:   []routes.Route{{Method: "GET", Path: "/synthetic/one", Function: "synthetic-one", Auth: auth, Tag: "admin"}},
			Events:   []routes.EventFunction{},
			Keys:     map[string]routes.KeyScope{},
		})
		doc := templateOf(t, assertions.Template_FromStack(stack, nil))
		for rid, r := range doc.Resources {
			if r["Type"] == "AWS::ApiGateway::Deployment" {
				if id != "" {
					t.Fatalf("two deployments: %s, %s", id, rid)
				}
				id, dependsOn = rid, strs(r["DependsOn"])
			}
		}
		if id == "" {
			t.Fatal("no deployment")
		}
		admin := *stack.GetLogicalId(stack.Node().FindChild(jsii.String(areaAdmin)).(awscdk.NestedStack).NestedStackResource())
		found := false
		for _, d := range dependsOn {
			found = found || d == admin
		}
		if !found {
			t.Errorf("the deployment depends on %v, not on the nested stack %s that holds the method", dependsOn, admin)
		}
		return id, dependsOn
	}
	public, _ := deployment(routes.AuthNone)
	iam, _ := deployment(routes.AuthAdmin)
	if public == iam {
		t.Errorf("deployment %s for both authorizations: a change to a nested method would not be deployed", public)
	}
}
