package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/bench/api"
	"github.com/startmsg/chatbackend/infra/local/partitionlimit"
	"github.com/startmsg/chatbackend/shared/contacts"
	"github.com/startmsg/chatbackend/shared/ddbstore"
)

// Targets 5 and 6: values many contacts share (the search index's hot
// keys).
const (
	// maxCommonRatio: by_custom_field p50 for a value all of the large
	// tenant's contacts share ≤ 1.5× that for a value 5 of them have.
	maxCommonRatio = 1.5
	// bulkImport is target 6's number of contacts, all with one value,
	// created at importPace a second against a limit of
	// partitionlimit.PerSecond writes a second per partition.
	bulkImport = 10000
	importPace = 4000
)

// commonSide is one value of target 5.
type commonSide struct {
	label    string
	path     string
	want     int
	tokens   []string
	took     []time.Duration
	calls    []api.Call
	statuses map[int]int
}

// measureCommon is target 5: in the large tenant, page 1 of the search for
// the tier every contact has vs that for a code 5 contacts have, requests
// interleaved.
func (e *env) measureCommon(ctx context.Context, large *fixture, contactsN int, o options) (api.Target, error) {
	rare := &commonSide{label: "rare", want: matchesPerValue,
		path: "/v1/contact/by_custom_field?" + url.Values{"name": {"code"}, "value": {codeValue(contactsN / matchesPerValue / 3)}, "page": {"1"}}.Encode()}
	common := &commonSide{label: "common", want: contactsN,
		path: "/v1/contact/by_custom_field?" + url.Values{"name": {"tier"}, "value": {commonValue}, "page": {"1"}}.Encode()}
	for _, s := range []*commonSide{rare, common} {
		var err error
		if s.tokens, err = e.tokens(ctx, large, api.TokensNeeded(o.warmup+o.n, perToken)); err != nil {
			return api.Target{}, err
		}
		answers, err := e.prime(ctx, s.path, s.tokens)
		if err != nil {
			return api.Target{}, err
		}
		for _, a := range answers {
			if err := checkPage(a.body, min(s.want, contacts.PerPage), s.want); err != nil {
				return api.Target{}, fmt.Errorf("search for the %s value: %w", s.label, err)
			}
		}
		s.statuses = map[int]int{}
	}
	for i := range o.warmup + o.n {
		measured := i >= o.warmup
		if i == o.warmup {
			e.rec.Start()
		}
		order := []*commonSide{rare, common}
		if i%2 == 1 {
			order = []*commonSide{common, rare}
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
			s.calls = append(s.calls, e.rec.Since(from)...)
		}
	}
	e.rec.Stop()
	sr, sc := api.Summarize(rare.took), api.Summarize(common.took)
	var invalid []string
	for _, s := range []*commonSide{rare, common} {
		if bad := o.n - s.statuses[http.StatusOK]; bad > 0 {
			invalid = append(invalid, fmt.Sprintf("%d of %d measured searches for the %s value did not answer 200 (statuses %v)", bad, o.n, s.label, s.statuses))
		}
	}
	t := api.NewTarget(fmt.Sprintf("Common value: GET /v1/contact/by_custom_field p50, a value %d contacts share vs one %d have", contactsN, matchesPerValue), "ms",
		api.MS(sc.P50), api.MS(sr.P50), maxCommonRatio, strings.Join(invalid, "; "))
	t.What = fmt.Sprintf("p50 of %d searches for tier=%s, held by all %d contacts of the tenant (p90 %.3f, p99 %.3f ms)", o.n, commonValue, contactsN, sc.P90MS, sc.P99MS)
	t.Baseline = fmt.Sprintf("p50 of %d searches for a code held by %d contacts of the same tenant (p90 %.3f, p99 %.3f ms)", o.n, matchesPerValue, sr.P90MS, sr.P99MS)
	t.Notes = []string{
		fmt.Sprintf("the %d-contact tenant of target 3; page 1 (%d contacts), channel token; every priming answer had the value's exact total (%d and %d)", contactsN, contacts.PerPage, contactsN, matchesPerValue),
		fmt.Sprintf("the index spreads each value over %d shards by contact ID; a search reads the %d count items (one BatchGetItem: the total) and queries every shard, all at once, and merges their pages", ddbstore.IndexShards, ddbstore.IndexShards),
		fmt.Sprintf("%d warm-up searches per value first; then the two alternate, the order flipping each iteration", o.warmup),
	}
	for _, s := range []*commonSide{rare, common} {
		t.Notes = append(t.Notes, fmt.Sprintf("%s value: DynamoDB calls per search %s; in-path SDK p50 %s",
			s.label, api.FormatCounts(api.CountOps(s.calls, notDirect, label), o.n), perLabelP50(s.calls, nil)))
	}
	return t, nil
}

// checkPage checks a by_custom_field answer: n contacts, total want.
func checkPage(body []byte, n, total int) error {
	var v struct {
		Data []json.RawMessage `json:"data"`
		Meta struct {
			Total int `json:"total"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if len(v.Data) != n || v.Meta.Total != total {
		return fmt.Errorf("got %d contacts, total %d; want %d and %d", len(v.Data), v.Meta.Total, n, total)
	}
	return nil
}

// measureBulk is target 6: bulkImport contacts of a fresh tenant, all with
// the same tier, created through ddbstore.Contacts.CreateContact over a
// client that refuses, as DynamoDB does, more than
// partitionlimit.PerSecond writes a second to one partition. The seconds
// are the import's own: the i-th create is sent at i/importPace s (the
// emulator writes far slower than DynamoDB; the limit is judged at the
// pace of a real import, many Lambda instances at once). Value: the
// busiest partition's writes in one second, against the limit.
func (e *env) measureBulk(ctx context.Context, workers int) (api.Target, error) {
	f, err := e.newFixture(ctx, "import")
	if err != nil {
		return api.Target{}, err
	}
	cfg := e.stack.AWSConfig()
	var sent atomic.Int64
	start := time.Unix(1_800_000_000, 0)
	lim := partitionlimit.New(dynamodb.NewFromConfig(cfg), partitionlimit.PerSecond, func() time.Time {
		return start.Add(time.Duration(sent.Load()) * time.Second / importPace)
	})
	store := &ddbstore.Contacts{API: lim, Table: e.d.DataTable, OpsTable: e.d.OpsTable}
	base := time.Now().Unix() - bulkImport
	var throttled atomic.Int64
	var first atomic.Pointer[error]
	t0 := time.Now()
	err = bench.Parallel(ctx, workers, bulkImport, func(ctx context.Context, i int) error {
		sent.Store(int64(i))
		c := contacts.Contact{
			ID: contacts.NewContactID(), TenantID: f.tenantID, ChannelID: f.channelID,
			Fields: map[string]string{}, Custom: map[string]string{f.fields["tier"].ID: commonValue},
			Tags: []string{}, CreatedAt: base + int64(i), UpdatedAt: base + int64(i), Version: 1,
		}
		if err := store.CreateContact(ctx, c); err != nil {
			var pte *ddbtypes.ProvisionedThroughputExceededException
			if errors.As(err, &pte) {
				throttled.Add(1)
				first.CompareAndSwap(nil, &err)
				return nil // count them all
			}
			return err
		}
		return nil
	})
	if err != nil {
		return api.Target{}, fmt.Errorf("bulk import: %w", err)
	}
	took := time.Since(t0)
	peak, hot := lim.Peak()
	invalid := ""
	if n := throttled.Load(); n > 0 {
		invalid = fmt.Sprintf("%d of %d creates throttled (first: %v)", n, bulkImport, *first.Load())
	}
	// The value's total must be exact.
	page, err := store.Search(ctx, contacts.Query{TenantID: f.tenantID, ChannelID: f.channelID, FieldKey: contacts.CustomKey(f.fields["tier"].ID), ValueKey: commonValue, Limit: 1})
	if err != nil {
		return api.Target{}, fmt.Errorf("bulk import: search: %w", err)
	}
	if page.Total != bulkImport-int(throttled.Load()) && invalid == "" {
		invalid = fmt.Sprintf("the value's total is %d after %d creates", page.Total, bulkImport)
	}
	t := api.NewTarget(fmt.Sprintf("Common value: bulk create of %d contacts with one value at %d/s, busiest partition's writes/s vs DynamoDB's per-partition limit", bulkImport, importPace),
		"writes/s", float64(peak), partitionlimit.PerSecond, 1.0, invalid)
	t.What = fmt.Sprintf("the most writes one partition took in one second of the import: %d (%s)", peak, hot)
	t.Baseline = fmt.Sprintf("the limit the test client enforces: %d writes a second per partition (more answer ProvisionedThroughputExceededException)", partitionlimit.PerSecond)
	t.Notes = []string{
		fmt.Sprintf("%d creates through ddbstore.Contacts.CreateContact (the contact, its entry and its count's ADD in one transaction) on %d goroutines; %d throttled; the value's total after: %d", bulkImport, workers, throttled.Load(), page.Total),
		fmt.Sprintf("seconds counted at the import's pace (create i sent at i/%d s): %.1f s of import; the emulator took %s", importPace, float64(bulkImport)/importPace, took.Round(time.Millisecond)),
		fmt.Sprintf("with one partition per value (no shards) the value's partition would take %d writes a second: every create writes it", importPace),
	}
	return t, nil
}
