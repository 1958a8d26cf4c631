package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/startmsg/chatbackend/shared/routes"
)

// The scheduler's ticker (routes.EventFunction Source "schedule"): a rule
// invokes it every minute; one invocation at a time (reserved concurrency
// 1), each within scheduleTimeout, and none retried or kept waiting
// (the next minute's tick reads from the same durable cursor, so a lost
// tick loses nothing).
const (
	sourceSchedule       = routes.SourceSchedule
	scheduleTimeout      = 60 * time.Second
	scheduleRate         = time.Minute
	scheduleEventMaxAge  = 60 * time.Second // the least EventBridge and Lambda allow
	scheduleConcurrency  = 1
	schedulerDeadMessage = "scheduler: dead" // scheduler.Releaser's log line for a buried item
	// SchedulerMetricNamespace is where the dead items' metric goes.
	SchedulerMetricNamespace = "ChatBackend/Scheduler"
)

// addSchedule invokes fn every minute (an EventBridge rule, no retries:
// the next tick does the work of a lost one), turns off Lambda's own
// async retries (a failed tick would otherwise run again beside the next
// one), and alarms when an item dies (its handler failed every attempt:
// the item is kept under DUE#DEAD) or when ticks keep failing.
func (b *backend) addSchedule(fn awslambda.Function, spec fnSpec) {
	cid := constructID(spec.name)
	scope := awscdk.Stack_Of(fn) // the function's nested stack
	age := awscdk.Duration_Seconds(jsii.Number(scheduleEventMaxAge.Seconds()))
	rule := awsevents.NewRule(scope, jsii.String(cid+"Schedule"), &awsevents.RuleProps{
		Description: jsii.String(spec.name + ": every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Seconds(jsii.Number(scheduleRate.Seconds()))),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0),
		MaxEventAge:   age,
	}))
	fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{RetryAttempts: jsii.Number(0), MaxEventAge: age})
	suppress(rule, true, nag("Serverless-EventBusDLQ",
		"A scheduled tick that cannot be delivered needs no dead-letter queue: the next minute's tick reads from the same durable "+
			"cursor in DynamoDB, so nothing is lost."))
	suppress(fn, true, nag("Serverless-LambdaAsyncFailureDestination",
		"A failed tick needs no failure destination: the next minute's tick reads from the same durable cursor; failures raise "+
			"the ticker's errors alarm."))

	awslogs.NewMetricFilter(scope, jsii.String(cid+"DeadFilter"), &awslogs.MetricFilterProps{
		LogGroup:        fn.LogGroup(),
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(`"` + schedulerDeadMessage + `"`)),
		MetricNamespace: jsii.String(SchedulerMetricNamespace),
		MetricName:      jsii.String("DeadItems"),
		MetricValue:     jsii.String("1"),
	})
	five := awscdk.Duration_Minutes(jsii.Number(5))
	awscloudwatch.NewAlarm(scope, jsii.String(cid+"DeadItemsAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("A scheduled item's handler failed every attempt: the item is kept under DUE#DEAD on the operations table"),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(SchedulerMetricNamespace), MetricName: jsii.String("DeadItems"),
			Period: five, Statistic: jsii.String("Sum"),
		}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	awscloudwatch.NewAlarm(scope, jsii.String(cid+"ErrorsAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("The scheduler's ticks failed for 15 minutes: due items are not being released"),
		Metric:             fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(3),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}
