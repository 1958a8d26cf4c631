// Command capacity prints what a deployment needs for N tenants of M
// contacts each, every tenant making E contact events per second (a contact
// write through the API that fires its connections' webhooks) and R contact
// reads per second: DynamoDB request units, SQS requests, Lambda
// invocations and concurrency, API requests, the monthly cost at us-east-1
// on-demand prices, and the limits that bind first with the setting that
// raises each. The per-request call counts come from calls.json, which
// TestMeasuredCalls measures through the real handlers on the emulators.
//
//	go run ./infra/capacity -tenants 100 -contacts 50000 -events 1
//	make capacity TENANTS=100 CONTACTS=50000 EVENTS=1
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/startmsg/chatbackend/shared/limits"
)

// Unit prices, us-east-1, on-demand, in USD (AWS's public price lists as
// of 2025: DynamoDB on-demand after its November 2024 reduction). Free
// tiers are left out. Check aws.amazon.com/pricing before relying on them.
const (
	PricesAsOf       = "2025 (us-east-1 public on-demand prices; free tiers left out)"
	priceRRU         = 0.125 / 1e6  // DynamoDB read request unit
	priceWRU         = 0.625 / 1e6  // DynamoDB write request unit
	priceStorageGB   = 0.25         // DynamoDB standard storage, per GB-month
	priceSQS         = 0.40 / 1e6   // SQS standard, per request (64 KB chunk)
	priceLambdaReq   = 0.20 / 1e6   // Lambda, per invocation
	priceLambdaGBs   = 0.0000133334 // Lambda arm64, per GB-second
	priceAPIGateway  = 3.50 / 1e6   // API Gateway REST API, per request (first 333 M)
	priceWAFRequest  = 0.60 / 1e6   // WAF, per request inspected
	priceWAFFixed    = 5.0 + 3*1.0  // WAF, web ACL + its three rules (rate, body size, body without length), per month
	secondsPerMonth  = 30 * 24 * 3600
	apiMemoryGB      = 0.25 // infra/stack.go defaultMemoryMB
	routerMemoryGB   = 0.25
	dispatchMemoryGB = 0.5 // queueConsumerMemoryMB
)

// AWS's and the stack's own limits that the table checks.
const (
	stageThrottle      = 100  // API Gateway stage: requests/s (infra/api.go throttleRate)
	credentialPerMin   = 100  // calls per minute per credential (wiring.RateLimit)
	accountConcurrency = 1000 // Lambda's default regional concurrency
	tableOnDemandMax   = 40000
	wafPer5Min         = 1000 // per address (infra/walls.go DefaultWAFRateLimit)
	dispatchBatch      = 10   // the dispatcher's batch (routes.EventFunctions)
)

type input struct {
	Tenants, Contacts          int
	Events, Reads              float64 // per tenant per second
	Connections                float64 // deliveries per event
	APIMs, RouterMs, WebhookMs float64
	ContactBytes               float64
	DispatcherConcurrency      int
	Limits                     limits.Limits
}

func main() {
	in := input{Limits: limits.Defaults()}
	flag.IntVar(&in.Tenants, "tenants", 100, "tenants (N)")
	flag.IntVar(&in.Contacts, "contacts", 50000, "contacts per tenant (M)")
	flag.Float64Var(&in.Events, "events", 1, "contact events per tenant per second (E): API writes that fire webhooks")
	reads := flag.Float64("reads", -1, "contact reads (GET) per tenant per second (default: as many as events)")
	flag.Float64Var(&in.Connections, "connections", 1, "webhook deliveries per event (connections whose trigger fires)")
	flag.Float64Var(&in.APIMs, "api-ms", 30, "API function duration, ms")
	flag.Float64Var(&in.RouterMs, "router-ms", 50, "trigger router duration per stream batch, ms")
	flag.Float64Var(&in.WebhookMs, "webhook-ms", 300, "receivers' answer time, ms (the dispatcher waits for it)")
	flag.Float64Var(&in.ContactBytes, "contact-bytes", 2500, "bytes stored per contact (item and its search entries)")
	flag.IntVar(&in.DispatcherConcurrency, "dispatcher-concurrency", 50, "the stage's dispatcherConcurrency (prod default 50)")
	flag.Parse()
	in.Reads = *reads
	if in.Reads < 0 {
		in.Reads = in.Events
	}
	m, err := loadMeasured()
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		os.Exit(1)
	}
	if in.Tenants < 1 || in.Contacts < 0 || in.Events < 0 || in.Reads < 0 || in.Connections < 0 {
		fmt.Fprintln(os.Stderr, "capacity: -tenants must be at least 1, the others not negative")
		os.Exit(2)
	}
	report(os.Stdout, in, m)
}

func sum(flow map[string]Calls, f func(Calls) float64) float64 {
	t := 0.0
	for _, c := range flow {
		t += f(c)
	}
	return t
}

// report writes the table.
func report(w io.Writer, in input, m Measured) {
	n := float64(in.Tenants)
	events, reads := n*in.Events, n*in.Reads
	deliveries := events * in.Connections
	ev, rd := m.Flows["event"], m.Flows["read"]
	disp := ev["dispatcher"]
	evNoDisp := func(f func(Calls) float64) float64 { return sum(ev, f) - f(disp) }
	rru := events*evNoDisp(func(c Calls) float64 { return c.RRU }) + deliveries*disp.RRU + reads*sum(rd, func(c Calls) float64 { return c.RRU })
	wru := events*evNoDisp(func(c Calls) float64 { return c.WRU }) + deliveries*disp.WRU + reads*sum(rd, func(c Calls) float64 { return c.WRU })
	// SQS: the functions' own requests, and per delivery the event source
	// mapping's receive and delete (batches of one at worst).
	sqs := events*evNoDisp(func(c Calls) float64 { return c.SQS }) + deliveries*(disp.SQS+2) + reads*sum(rd, func(c Calls) float64 { return c.SQS })
	apiReqs := events + reads
	invocations := apiReqs + events + deliveries // API functions, router (a batch per record at worst), dispatcher (a batch per delivery at worst)
	apiConc := apiReqs * in.APIMs / 1000
	routerConc := events * in.RouterMs / 1000
	dispConc := math.Ceil(deliveries * in.WebhookMs / 1000 / dispatchBatch) // full batches, attempts in parallel
	storageGB := n * float64(in.Contacts) * in.ContactBytes / 1e9

	fmt.Fprintf(w, "Capacity for %d tenants × %d contacts, %.3g events/s and %.3g reads/s per tenant, %.3g deliveries per event\n",
		in.Tenants, in.Contacts, in.Events, in.Reads, in.Connections)
	fmt.Fprintf(w, "(call counts: infra/capacity/calls.json, measured; unit prices: %s)\n\n", PricesAsOf)
	fmt.Fprintln(w, "| resource | per second | per month (30 d) | USD per month |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	row := func(name string, perSec, price float64) float64 {
		cost := perSec * secondsPerMonth * price
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, num(perSec), num(perSec*secondsPerMonth), money(cost))
		return cost
	}
	total := 0.0
	total += row("API requests (API Gateway REST)", apiReqs, priceAPIGateway)
	total += row("WAF requests inspected", apiReqs, priceWAFRequest)
	total += priceWAFFixed
	total += row("DynamoDB read request units", rru, priceRRU)
	total += row("DynamoDB write request units", wru, priceWRU)
	total += row("SQS requests", sqs, priceSQS)
	total += row("Lambda invocations", invocations, priceLambdaReq)
	gbs := apiReqs*in.APIMs/1000*apiMemoryGB + events*in.RouterMs/1000*routerMemoryGB + deliveries*in.WebhookMs/1000*dispatchMemoryGB/dispatchBatch
	total += row("Lambda GB-seconds (arm64)", gbs, priceLambdaGBs)
	storage := storageGB * priceStorageGB
	total += storage
	fmt.Fprintf(w, "| DynamoDB storage (%.0f B per contact) | | %s GB | %s |\n", in.ContactBytes, num(storageGB), money(storage))
	fmt.Fprintf(w, "| WAF web ACL and rules | | | %s |\n", money(priceWAFFixed))
	fmt.Fprintf(w, "| **total** | | | **%s** |\n\n", money(total))
	fmt.Fprintf(w, "Lambda concurrency: API %s, trigger router %s, dispatcher %s (of its %d reserved).\n\n",
		num(apiConc), num(routerConc), num(dispConc), in.DispatcherConcurrency)

	type limit struct {
		name    string
		used    float64
		max     float64
		setting string
	}
	perTenantAPI := (in.Events + in.Reads) * 60
	ls := []limit{
		{"API Gateway stage throttle (requests/s)", apiReqs, stageThrottle, "throttleRate/throttleBurst in infra/api.go (and the account's API Gateway quota, 10,000/s)"},
		{"calls per minute per credential (one token per tenant)", perTenantAPI, credentialPerMin, "more tokens per tenant, or wiring.RateLimit"},
		{"WAF requests per 5 min per address (one address per tenant)", (in.Events + in.Reads) * 300, wafPer5Min, "-c wafRateLimit=N"},
		{"deliveries/s per tenant", in.Events * in.Connections, float64(in.Limits.DeliveriesPerSecond), "-c deliveriesPerSecond=N (LIMIT_DELIVERIES_PER_SECOND)"},
		{"contacts per tenant", float64(in.Contacts), float64(in.Limits.ContactsPerTenant), "-c contactsPerTenant=N (LIMIT_CONTACTS_PER_TENANT)"},
		{"dispatcher concurrency", dispConc, float64(in.DispatcherConcurrency), "-c dispatcherConcurrency=N (after raising the account's concurrency)"},
		{"Lambda unreserved concurrency (API, authorizer, router, intake)", apiConc + routerConc, float64(accountConcurrency - in.DispatcherConcurrency), "Service Quotas: Lambda concurrent executions"},
		{"DynamoDB read units/s, both tables (the on-demand maximum is per table)", rru, tableOnDemandMax, "Service Quotas: table-level read throughput, or the table's on-demand maximum"},
		{"DynamoDB write units/s, both tables (the on-demand maximum is per table)", wru, tableOnDemandMax, "Service Quotas: table-level write throughput"},
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].used/ls[i].max > ls[j].used/ls[j].max })
	fmt.Fprintln(w, "| limit (binds first at the top) | needed | limit | use | raised by |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- |")
	for _, l := range ls {
		mark := ""
		if l.used > l.max {
			mark = " **over**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f %%%s | %s |\n", l.name, num(l.used), num(l.max), 100*l.used/l.max, mark, l.setting)
	}
}

// num formats a quantity for the table: three significant digits, with
// thousands separators.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e9:
		return fmt.Sprintf("%.3g G", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3g M", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3g k", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func money(v float64) string {
	if v < 10 {
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.0f", v)
}
