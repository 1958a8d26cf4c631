package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/authcache"
	"github.com/startmsg/chatbackend/shared/httpapi"
)

// The per-address limit in front of the API (AWS WAF, rate-based rule).
const (
	// DefaultWAFRateLimit is how many requests one source address may make
	// in wafWindow before WAF answers 429: twice what one credential may
	// make (100 a minute, 500 in 5 minutes), so an address with a couple of
	// busy integrations passes and a token-guessing loop does not.
	DefaultWAFRateLimit = 1000
	// WAFOff turns the web ACL off (BackendStackProps.WAFRateLimit); dev only.
	WAFOff = -1
	// minWAFRateLimit is the lowest limit a rate-based rule takes.
	minWAFRateLimit = 10
	wafWindow       = 300 // seconds
	wafRetryAfter   = "60"
	wafBodyKey      = "TooManyRequests"
	// The body-size rules: the functions take bodies up to
	// httpapi.MaxBodyBytes (256 KB) and answer 413 above it, but Lambda
	// takes events up to 6 MB while API Gateway passes bodies up to 10 MB
	// on, so a body between the two would be a 5xx. WAF answers first.
	wafTooLargeKey  = "BodyTooLarge"
	wafNoLengthKey  = "BodyWithoutLength"
	wafBodyInspects = 16 << 10 // WAF's default body inspection limit for API Gateway
)

// overDecimal is a regular expression (RE2 and WAF's PCRE alike) that
// matches a decimal integer greater than n, leading zeros allowed: WAF
// cannot compare a header's value as a number, so the Content-Length rule
// matches its digits.
func overDecimal(n int) string {
	d := strconv.Itoa(n)
	alts := []string{fmt.Sprintf("[1-9][0-9]{%d,}", len(d))} // more digits
	for i := 0; i < len(d); i++ {
		if d[i] == '9' {
			continue
		}
		alt := d[:i] + fmt.Sprintf("[%c-9]", d[i]+1)
		if rest := len(d) - i - 1; rest > 0 {
			alt += fmt.Sprintf("[0-9]{%d}", rest)
		}
		alts = append(alts, alt)
	}
	return "^0*(" + strings.Join(alts, "|") + ")$"
}

// addAuthCacheFlush lets the functions that revoke or rotate credentials
// flush the stage's authorizer cache: the API's ID and stage by environment,
// and apigateway:DELETE on exactly that stage's /cache/authorizers.
//
// Both values are known before the stage exists: the ID is a Ref to the
// RestApi resource, which depends on no function, and the stage name is
// the stage's own literal. A Ref to the Stage resource (or api.Url())
// would close a cycle (function → stage → deployment → methods → function),
// which CloudFormation refuses; TestNoDependencyCycle guards it.
func (b *backend) addAuthCacheFlush(api awsapigateway.RestApi) {
	names := make([]string, 0, len(authcache.FlushesAuthorizerCache))
	for name := range authcache.FlushesAuthorizerCache {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fn, ok := b.functions[name]
		if !ok {
			continue // a stack built from a partial table
		}
		fn.AddEnvironment(jsii.String(appenv.RestAPIID), api.RestApiId(), nil)
		fn.AddEnvironment(jsii.String(appenv.APIStageName), jsii.String(b.stage), nil)
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("apigateway:DELETE"),
			Resources: &[]*string{authorizerCacheArn(api, b.stage)},
		}))
	}
}

// authorizerCacheArn is the ARN of a stage's authorizer cache, the resource
// FlushStageAuthorizersCache deletes.
func authorizerCacheArn(api awsapigateway.RestApi, stage string) *string {
	return jsii.String(fmt.Sprintf("arn:%s:apigateway:%s::/restapis/%s/stages/%s/cache/authorizers",
		*awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *api.RestApiId(), stage))
}

// blockWith blocks with a custom answer (one of the web ACL's bodies).
func blockWith(status int, bodyKey string) *awswafv2.CfnWebACL_RuleActionProperty {
	return &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{
		CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(status), CustomResponseBodyKey: jsii.String(bodyKey)},
	}}
}

// wafRateLimitOf resolves BackendStackProps.WAFRateLimit for a stage: 0 is
// the default, WAFOff turns the web ACL off (dev only: prod always has it).
func wafRateLimitOf(stage string, limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultWAFRateLimit, nil
	case limit == WAFOff && stage == StageProd:
		return 0, fmt.Errorf("the per-address limit (WAF) cannot be turned off in %s", StageProd)
	case limit == WAFOff:
		return WAFOff, nil
	case limit < minWAFRateLimit:
		return 0, fmt.Errorf("WAF rate limit %d: want at least %d requests per %d s per address, or off (dev only)", limit, minWAFRateLimit, wafWindow)
	}
	return limit, nil
}

// wafSetting reads the app's setting: the CDK context value wafRateLimit
// (-c wafRateLimit=2000) over the WAF_RATE_LIMIT environment variable; a
// number, "off" or 0 for none (dev only), empty for the default.
func wafSetting(ctx any, env string) (int, error) {
	v := env
	if s, ok := ctx.(string); ok && s != "" {
		v = s
	} else if n, ok := ctx.(float64); ok {
		v = strconv.Itoa(int(n))
	}
	switch v {
	case "":
		return 0, nil
	case "off", "0":
		return WAFOff, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("wafRateLimit %q: want a number of requests per 5 minutes, or off", v)
	}
	return n, nil
}

// addWAF puts a regional web ACL in front of the stage: a rate-based rule
// counts each source address's requests over 5 minutes and answers 429 in
// the API's error envelope, with Retry-After, above limit. It counts every
// request, failed authentications and unauthenticated routes included,
// before the authorizer runs. Two body-size rules answer before a body over
// what the functions take reaches Lambda (whose 6 MB event limit API
// Gateway's 10 MB would pass, a 5xx): a Content-Length over 256 KB is a
// 413, and a body without a Content-Length (chunked) over what WAF
// inspects (16 KB for API Gateway: oversize handling MATCH) is a 411, as
// WAF cannot see how long it is. Sampled requests are off: they would keep
// Authorization headers (tokens) in the WAF console.
func (b *backend) addWAF(api awsapigateway.RestApi, limit int) {
	if limit <= 0 {
		return
	}
	visibility := func(metric string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String(metric),
			SampledRequestsEnabled:   jsii.Bool(false),
		}
	}
	acl := awswafv2.NewCfnWebACL(b.stack, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		Description:      jsii.String("Request limits in front of the chat backend API, stage " + b.stage), // CloudFormation allows no parentheses here
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("chatbackend-" + b.stage),
		CustomResponseBodies: &map[string]*awswafv2.CfnWebACL_CustomResponseBodyProperty{
			wafBodyKey: {ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(errorEnvelope(quoted("Too many requests")))},
			wafTooLargeKey: {ContentType: jsii.String("APPLICATION_JSON"),
				Content: jsii.String(errorEnvelope(quoted(fmt.Sprintf("Request body is too large (max %d KB).", httpapi.MaxBodyBytes>>10))))},
			wafNoLengthKey: {ContentType: jsii.String("APPLICATION_JSON"),
				Content: jsii.String(errorEnvelope(quoted(fmt.Sprintf("A request body over %d KB needs a Content-Length header (max %d KB).", wafBodyInspects>>10, httpapi.MaxBodyBytes>>10))))},
		},
		Rules: &[]*awswafv2.CfnWebACL_RuleProperty{{
			Name:     jsii.String("PerAddressRate"),
			Priority: jsii.Number(0),
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					AggregateKeyType:    jsii.String("IP"),
					Limit:               jsii.Number(limit),
					EvaluationWindowSec: jsii.Number(wafWindow),
				},
			},
			Action: &awswafv2.CfnWebACL_RuleActionProperty{
				Block: &awswafv2.CfnWebACL_BlockActionProperty{
					CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{
						ResponseCode:          jsii.Number(429),
						CustomResponseBodyKey: jsii.String(wafBodyKey),
						ResponseHeaders: &[]*awswafv2.CfnWebACL_CustomHTTPHeaderProperty{
							{Name: jsii.String("Retry-After"), Value: jsii.String(wafRetryAfter)},
						},
					},
				},
			},
			VisibilityConfig: visibility("chatbackend-" + b.stage + "-per-address"),
		}, {
			Name:     jsii.String("BodyTooLarge"),
			Priority: jsii.Number(1),
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				RegexMatchStatement: &awswafv2.CfnWebACL_RegexMatchStatementProperty{
					FieldToMatch:        &awswafv2.CfnWebACL_FieldToMatchProperty{SingleHeader: map[string]any{"Name": "content-length"}},
					RegexString:         jsii.String(overDecimal(httpapi.MaxBodyBytes)),
					TextTransformations: &[]*awswafv2.CfnWebACL_TextTransformationProperty{{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
				},
			},
			Action:           blockWith(413, wafTooLargeKey),
			VisibilityConfig: visibility("chatbackend-" + b.stage + "-body-too-large"),
		}, {
			Name:     jsii.String("BodyWithoutLength"),
			Priority: jsii.Number(2),
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				AndStatement: &awswafv2.CfnWebACL_AndStatementProperty{Statements: &[]*awswafv2.CfnWebACL_StatementProperty{
					{NotStatement: &awswafv2.CfnWebACL_NotStatementProperty{Statement: &awswafv2.CfnWebACL_StatementProperty{
						SizeConstraintStatement: &awswafv2.CfnWebACL_SizeConstraintStatementProperty{
							FieldToMatch:        &awswafv2.CfnWebACL_FieldToMatchProperty{SingleHeader: map[string]any{"Name": "content-length"}},
							ComparisonOperator:  jsii.String("GT"),
							Size:                jsii.Number(0),
							TextTransformations: &[]*awswafv2.CfnWebACL_TextTransformationProperty{{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
						},
					}}},
					{SizeConstraintStatement: &awswafv2.CfnWebACL_SizeConstraintStatementProperty{
						FieldToMatch:        &awswafv2.CfnWebACL_FieldToMatchProperty{Body: &awswafv2.CfnWebACL_BodyProperty{OversizeHandling: jsii.String("MATCH")}},
						ComparisonOperator:  jsii.String("GT"),
						Size:                jsii.Number(wafBodyInspects),
						TextTransformations: &[]*awswafv2.CfnWebACL_TextTransformationProperty{{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
					}},
				}},
			},
			Action:           blockWith(411, wafNoLengthKey),
			VisibilityConfig: visibility("chatbackend-" + b.stage + "-body-without-length"),
		}},
	})
	awswafv2.NewCfnWebACLAssociation(b.stack, jsii.String("WebAclAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: api.DeploymentStage().StageArn(),
		WebAclArn:   acl.AttrArn(),
	})
}
