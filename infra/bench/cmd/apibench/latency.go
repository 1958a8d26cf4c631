package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

const (
	// maxGetRatio: GET /v1/contact/{id} p50 ≤ 1.5× its DynamoDB calls' p50s.
	maxGetRatio = 1.5
	// maxSearchRatio: by_custom_field p50 with the large tenant ≤ 1.2× with
	// the small one.
	maxSearchRatio = 1.2
)

// getInputs are the DynamoDB calls GET /v1/contact/{id} makes, as the
// handler made them (captured by the recorder from a real request).
type getInputs struct {
	cred    *dynamodb.GetItemInput    // authorizer: CRED#<hash>
	rate    *dynamodb.UpdateItemInput // rate limit: ADD on RL#<credential>#<window>
	contact *dynamodb.GetItemInput    // CONTACT#<tenant>#<id>
	fields  *dynamodb.QueryInput      // TENANT#<tenant>, SK begins_with FIELD#
}

func captureGetInputs(calls []api.Call) (getInputs, error) {
	var in getInputs
	for _, c := range calls {
		switch v := c.Input.(type) {
		case *dynamodb.GetItemInput:
			if strings.HasPrefix(pkOf(v), "CRED#") {
				in.cred = v
			} else if strings.HasPrefix(pkOf(v), "CONTACT#") {
				in.contact = v
			}
		case *dynamodb.UpdateItemInput:
			if strings.HasPrefix(pkOf(v), "RL#") {
				in.rate = v
			}
		case *dynamodb.QueryInput:
			if strings.HasPrefix(pkOf(v), "TENANT#") {
				in.fields = v
			}
		}
	}
	if in.cred == nil || in.rate == nil || in.contact == nil || in.fields == nil {
		return in, fmt.Errorf("GET /v1/contact/{id} did not make the expected calls (credential GetItem, RL# UpdateItem, contact GetItem, fields Query); it made: %s",
			api.FormatCounts(api.CountOps(calls, nil, label), 0))
	}
	return in, nil
}

// pkOf is the partition key an input reads or writes ("" if none).
func pkOf(input any) string {
	s := func(av types.AttributeValue) string {
		if v, ok := av.(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	switch v := input.(type) {
	case *dynamodb.GetItemInput:
		return s(v.Key["PK"])
	case *dynamodb.UpdateItemInput:
		return s(v.Key["PK"])
	case *dynamodb.QueryInput:
		return s(v.ExpressionAttributeValues[":pk"])
	case *dynamodb.BatchGetItemInput:
		for _, ka := range v.RequestItems {
			if len(ka.Keys) > 0 {
				return s(ka.Keys[0]["PK"])
			}
		}
	}
	return ""
}

// label names a call by operation and key prefix: "Query IDX#".
func label(c api.Call) string {
	pk := pkOf(c.Input)
	if i := strings.IndexByte(pk, '#'); i >= 0 {
		return c.Op + " " + pk[:i+1]
	}
	return c.Op
}

// tenantOf is the tenant whose item a call touches, "" if unknown.
func (e *env) tenantOf(c api.Call) string {
	pk := pkOf(c.Input)
	parts := strings.SplitN(pk, "#", 3)
	if len(parts) < 2 {
		return ""
	}
	if parts[0] == "IDX" && len(parts) == 3 && (strings.HasPrefix(parts[1], "~") || strings.HasPrefix(parts[1], "=")) {
		// A sharded search entry or count: IDX#~<shard>#<t>#…, IDX#=<shard>#<t>#…
		parts = strings.SplitN(parts[2], "#", 2)
		return parts[0]
	}
	switch parts[0] {
	case "TENANT", "IDX", "CONTACT":
		return parts[1]
	case "RL":
		e.credMu.Lock()
		defer e.credMu.Unlock()
		return e.credTenant[parts[1]]
	}
	return ""
}

func notDirect(c api.Call) bool { return !c.Direct }

// ddbTime is how long a GET of a contact waited on DynamoDB: its calls one
// after another, except the rate-limit UpdateItem, the contact GetItem and
// the fields Query, which run at once (the middleware counts a read-only
// route's call while the handler reads; contactapi's getWithFields runs
// its two reads together).
func ddbTime(calls []api.Call) time.Duration {
	var seq, rate, get, query time.Duration
	for _, c := range calls {
		switch label(c) {
		case "UpdateItem RL#":
			rate += c.Took
		case "GetItem CONTACT#":
			get += c.Took
		case "Query TENANT#":
			query += c.Took
		default:
			seq += c.Took
		}
	}
	return seq + max(rate, get, query)
}

// measureGet is target 1.
func (e *env) measureGet(ctx context.Context, f *fixture, contactID string, o options) (api.Target, getInputs, error) {
	path := "/v1/contact/" + url.PathEscape(contactID)
	tokens, err := e.tokens(ctx, f, api.TokensNeeded(o.warmup+o.n, perToken))
	if err != nil {
		return api.Target{}, getInputs{}, err
	}
	// The first token's first request, recorded: the calls to replay.
	e.rec.Start()
	r, err := e.get(ctx, path, tokens[0])
	calls := e.rec.Stop()
	if err != nil {
		return api.Target{}, getInputs{}, err
	}
	if r.status != http.StatusOK {
		return api.Target{}, getInputs{}, fmt.Errorf("GET %s: %d %s", path, r.status, r.body)
	}
	in, err := captureGetInputs(calls)
	if err != nil {
		return api.Target{}, in, err
	}
	if _, err := e.prime(ctx, path, tokens[1:]); err != nil {
		return api.Target{}, in, err
	}

	direct := api.Direct(ctx)
	ddb := e.d.StoreAPI() // the handlers' own DynamoDB client
	var (
		total, overhead, inPath      []time.Duration
		rate, cred, pair, get, query []time.Duration
		statuses                     = map[int]int{}
		gatewayCalls                 []api.Call
	)
	rateIn := *in.rate
	var dials int64
	for i := range o.warmup + o.n {
		measured := i >= o.warmup
		if i == o.warmup {
			e.rec.Start()
			dials = e.dials.Load()
		}
		gw := func() error {
			from := e.rec.Len()
			r, err := e.get(ctx, path, tokens[i/perToken])
			if err != nil {
				return err
			}
			if !measured {
				if r.status != http.StatusOK {
					return fmt.Errorf("warm-up GET %s: %d %s", path, r.status, r.body)
				}
				return nil
			}
			statuses[r.status]++
			total = append(total, r.took)
			own := e.rec.Since(from)
			gatewayCalls = append(gatewayCalls, own...)
			d := ddbTime(own)
			inPath = append(inPath, d)
			overhead = append(overhead, r.took-d)
			return nil
		}
		base := func() error {
			// The rate-limit ADD on an RL# item of the benchmark's own,
			// a fresh one every perToken calls as the tokens get.
			rateIn.Key = map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: fmt.Sprintf("RL#apibench-baseline-%d#0", i/perToken)},
				"SK": in.rate.Key["SK"],
			}
			wall, rd, gd, qd, err := timeCalls(direct, ddb, &rateIn, in.contact, in.fields)
			if err != nil {
				return err
			}
			t := time.Now()
			if _, err := ddb.GetItem(direct, in.cred); err != nil {
				return fmt.Errorf("baseline credential GetItem: %w", err)
			}
			cd := time.Since(t)
			if measured {
				rate, pair, get, query, cred = append(rate, rd), append(pair, wall), append(get, gd), append(query, qd), append(cred, cd)
			}
			return nil
		}
		first, second := gw, base
		if i%2 == 1 {
			first, second = base, gw
		}
		if err := first(); err != nil {
			e.rec.Stop()
			return api.Target{}, in, err
		}
		if err := second(); err != nil {
			e.rec.Stop()
			return api.Target{}, in, err
		}
	}
	e.rec.Stop()
	dials = e.dials.Load() - dials

	st, sr, sp, sg, sq, sc := api.Summarize(total), api.Summarize(rate), api.Summarize(pair), api.Summarize(get), api.Summarize(query), api.Summarize(cred)
	baseline := sp.P50
	invalid := ""
	if bad := o.n - statuses[http.StatusOK]; bad > 0 {
		invalid = fmt.Sprintf("%d of %d measured requests did not answer 200 (statuses %v)", bad, o.n, statuses)
	}
	counts := api.CountOps(gatewayCalls, notDirect, label)
	if n := counts["GetItem CRED#"]; n > 0 && invalid == "" {
		invalid = fmt.Sprintf("%d measured requests ran the authorizer although every token was primed", n)
	}
	t := api.NewTarget("GET /v1/contact/{id} p50 through the local gateway vs its DynamoDB calls", "ms",
		api.MS(st.P50), api.MS(baseline), maxGetRatio, invalid)
	t.What = fmt.Sprintf("p50 of %d sequential requests (p90 %.3f, p99 %.3f ms), keep-alive client", o.n, st.P90MS, st.P99MS)
	t.Baseline = fmt.Sprintf("p50 of {UpdateItem RL# ‖ GetItem contact ‖ Query fields} run at once, as the middleware and getWithFields run them: %.3f ms", sp.P50MS)
	ipSum := api.Summarize(inPath)
	ohSum := api.Summarize(overhead)
	t.Notes = []string{
		fmt.Sprintf("%d warm-up requests first; then each iteration sends one request through the gateway and runs the baseline calls once, in alternating order; statuses of measured requests: %v", o.warmup, statuses),
		fmt.Sprintf("tokens: %d, each for at most %d requests (+1 that primed the authorizer cache), under the limit of 100/min", len(tokens), perToken),
		fmt.Sprintf("baseline calls are the handler's own inputs (captured by an SDK middleware from a real request), replayed with the handlers' own client (e.d.StoreAPI(), the lean DynamoDB client) against the same emulator; the UpdateItem goes to RL#apibench-baseline-<n> items"),
		fmt.Sprintf("baseline parts: UpdateItem RL# p50 %.3f ms, GetItem contact p50 %.3f ms and Query fields p50 %.3f ms (each inside the concurrent three)", sr.P50MS, sg.P50MS, sq.P50MS),
		fmt.Sprintf("credential GetItem (authorizer) p50 %.3f ms is NOT in the baseline: with the %s cache the authorizer runs once per token per %s; every token was primed before measuring, so the measured requests made %d credential GetItems (with it the baseline would be %.3f ms, ratio %.2f×)",
			sc.P50MS, authCacheTTL, authCacheTTL, counts["GetItem CRED#"], api.MS(baseline+sc.P50), api.Ratio(api.MS(st.P50), api.MS(baseline+sc.P50))),
		fmt.Sprintf("DynamoDB calls per measured request (recorder middleware): %s", api.FormatCounts(counts, o.n)),
		fmt.Sprintf("breakdown per request: time waiting on DynamoDB inside the request (max(UpdateItem, GetItem, Query), SDK-timed) p50 %.3f ms; the rest (HTTP client+server, gateway, authorizer cache, proxy event, adapter, middleware, JSON) p50 %.3f ms, p90 %.3f ms",
			ipSum.P50MS, ohSum.P50MS, ohSum.P90MS),
		fmt.Sprintf("in-path SDK p50 by call: %s", perLabelP50(gatewayCalls, nil)),
		fmt.Sprintf("new connections the handlers' client opened to dynoxide while measuring (gateway and baseline calls, %d iterations): %d", o.n, dials),
	}
	return t, in, nil
}

// timeCalls runs the rate-limit UpdateItem and the fields Query on
// goroutines and the contact GetItem on this one, as the middleware and
// contactapi's getWithFields do for a read-only route, and returns the
// wall time and each call's own time.
func timeCalls(ctx context.Context, ddb ddbstore.API, u *dynamodb.UpdateItemInput, g *dynamodb.GetItemInput, q *dynamodb.QueryInput) (wall, update, get, query time.Duration, err error) {
	type res struct {
		d   time.Duration
		err error
	}
	uch, qch := make(chan res, 1), make(chan res, 1)
	start := time.Now()
	go func() {
		t := time.Now()
		_, err := ddb.UpdateItem(ctx, u)
		uch <- res{time.Since(t), err}
	}()
	go func() {
		t := time.Now()
		_, err := ddb.Query(ctx, q)
		qch <- res{time.Since(t), err}
	}()
	t := time.Now()
	_, gerr := ddb.GetItem(ctx, g)
	get = time.Since(t)
	ur, qr := <-uch, <-qch
	wall = time.Since(start)
	for _, e := range []struct {
		what string
		err  error
	}{{"UpdateItem", ur.err}, {"GetItem", gerr}, {"Query", qr.err}} {
		if e.err != nil {
			return 0, 0, 0, 0, fmt.Errorf("baseline %s: %w", e.what, e.err)
		}
	}
	return wall, ur.d, get, qr.d, nil
}

// perLabelP50 is "label p50 ms" for each label of the kept calls.
func perLabelP50(calls []api.Call, keep func(api.Call) bool) string {
	by := map[string][]time.Duration{}
	for _, c := range calls {
		if c.Direct || (keep != nil && !keep(c)) {
			continue
		}
		by[label(c)] = append(by[label(c)], c.Took)
	}
	var keys []string
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f ms", k, api.Summarize(by[k]).P50MS))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// searchSide is one tenant of target 3.
type searchSide struct {
	f        *fixture
	contacts int
	path     string
	tokens   []string
	took     []time.Duration
	overhead []time.Duration
	calls    []api.Call
	statuses map[int]int
}

// measureSearch is target 3: the same search shape in a small and a large
// tenant, requests interleaved.
func (e *env) measureSearch(ctx context.Context, small, large *searchSide, o options) (api.Target, error) {
	for _, s := range []*searchSide{small, large} {
		// A value in the middle of the tenant's codes: matchesPerValue
		// contacts have it.
		value := codeValue(s.contacts / matchesPerValue / 2)
		s.path = "/v1/contact/by_custom_field?" + url.Values{"name": {"code"}, "value": {value}, "page": {"1"}}.Encode()
		var err error
		if s.tokens, err = e.tokens(ctx, s.f, api.TokensNeeded(o.warmup+o.n, perToken)); err != nil {
			return api.Target{}, err
		}
		answers, err := e.prime(ctx, s.path, s.tokens)
		if err != nil {
			return api.Target{}, err
		}
		for _, a := range answers {
			if err := checkSearch(a.body, matchesPerValue); err != nil {
				return api.Target{}, fmt.Errorf("search in the %s tenant: %w", s.f.label, err)
			}
		}
		s.statuses = map[int]int{}
	}
	var dials int64
	for i := range o.warmup + o.n {
		measured := i >= o.warmup
		if i == o.warmup {
			e.rec.Start()
			dials = e.dials.Load()
		}
		order := []*searchSide{small, large}
		if i%2 == 1 {
			order = []*searchSide{large, small}
		}
		for _, s := range order {
			from := e.rec.Len()
			r, err := e.get(ctx, s.path, s.tokens[i/perToken])
			if err != nil {
				e.rec.Stop()
				return api.Target{}, err
			}
			if !measured {
				if r.status != http.StatusOK {
					e.rec.Stop()
					return api.Target{}, fmt.Errorf("warm-up search: %d %s", r.status, r.body)
				}
				continue
			}
			s.statuses[r.status]++
			s.took = append(s.took, r.took)
			own := e.rec.Since(from)
			s.calls = append(s.calls, own...)
			var d time.Duration
			for _, c := range own {
				d += c.Took // a search's calls run one after another
			}
			s.overhead = append(s.overhead, r.took-d)
		}
	}
	e.rec.Stop()
	dials = e.dials.Load() - dials

	ss, sl := api.Summarize(small.took), api.Summarize(large.took)
	invalid := ""
	for _, s := range []*searchSide{small, large} {
		if bad := o.n - s.statuses[http.StatusOK]; bad > 0 {
			invalid += fmt.Sprintf("%d of %d measured searches in the %s tenant did not answer 200 (statuses %v); ", bad, o.n, s.f.label, s.statuses)
		}
	}
	invalid = strings.TrimSuffix(invalid, "; ")
	t := api.NewTarget(fmt.Sprintf("GET /v1/contact/by_custom_field p50: %d contacts in the tenant vs %d", large.contacts, small.contacts), "ms",
		api.MS(sl.P50), api.MS(ss.P50), maxSearchRatio, invalid)
	t.What = fmt.Sprintf("p50 of %d searches in the %d-contact tenant (p90 %.3f, p99 %.3f ms)", o.n, large.contacts, sl.P90MS, sl.P99MS)
	t.Baseline = fmt.Sprintf("p50 of %d searches in the %d-contact tenant (p90 %.3f, p99 %.3f ms)", o.n, small.contacts, ss.P90MS, ss.P99MS)
	t.Notes = []string{
		fmt.Sprintf("both tenants in the same table; the same query shape: custom field \"code\" (text) = a value held by exactly %d contacts of the tenant's channel, page 1, channel token; every priming answer had total=%d and %d contacts", matchesPerValue, matchesPerValue, matchesPerValue),
		fmt.Sprintf("%d warm-up searches per tenant first; then the two tenants alternate, the order flipping each iteration; the SDK client opened %d new connections to dynoxide meanwhile", o.warmup, dials),
	}
	for _, s := range []*searchSide{small, large} {
		oh := api.Summarize(s.overhead)
		t.Notes = append(t.Notes,
			fmt.Sprintf("%d-contact tenant: DynamoDB calls per search %s; in-path SDK p50 %s; time outside DynamoDB p50 %.3f ms",
				s.contacts, api.FormatCounts(api.CountOps(s.calls, notDirect, label), o.n), perLabelP50(s.calls, nil), oh.P50MS))
	}
	return t, nil
}

// checkSearch checks a by_custom_field answer: want contacts, total want.
func checkSearch(body []byte, want int) error {
	var v struct {
		Data []json.RawMessage `json:"data"`
		Meta struct {
			Total int `json:"total"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if len(v.Data) != want || v.Meta.Total != want {
		return fmt.Errorf("got %d contacts, total %d; want %d and %d", len(v.Data), v.Meta.Total, want, want)
	}
	return nil
}

// dynamoGetBody is the JSON body of a GetItem for the same item as in,
// for sending without the SDK.
func dynamoGetBody(in *dynamodb.GetItemInput) (string, error) {
	key := map[string]map[string]string{}
	for k, av := range in.Key {
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("key %s is not a string", k)
		}
		key[k] = map[string]string{"S": s.Value}
	}
	b, err := json.Marshal(map[string]any{
		"TableName":      aws.ToString(in.TableName),
		"Key":            key,
		"ConsistentRead": aws.ToBool(in.ConsistentRead),
	})
	return string(b), err
}
