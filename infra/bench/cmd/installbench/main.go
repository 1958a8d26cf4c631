// Command installbench is the sender installations' part of `make bench`
// (seed 004): on a fresh in-memory emulator stack it queues -n messages
// through POST /add_message (the local gateway, as make run serves it)
// for an installation that is offline, then lets it come online: one
// puller pulls (max 100, lease 120 s) and acks them in batches of 50
// (POST …/acks, both batches at once) until the queue is empty. It checks that every message
// arrived exactly once and in order (strictly increasing seq), and
// measures pull + ack in messages per second (target ≥ 500/s), beside the
// same DynamoDB calls alone in the same run (the store's reads, leases and
// batch acks for another n messages, no HTTP, no handler).
//
//	go run ./infra/bench/cmd/installbench [-n 10000] [-concurrency 8] [-json out.json]
//
// It exits 1 when a target is missed, 2 when it cannot run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/startmsg/chatbackend/infra/bench"
	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/gateway"
	"github.com/startmsg/chatbackend/infra/local/provision"
	"github.com/startmsg/chatbackend/shared/appenv"
	"github.com/startmsg/chatbackend/shared/installations"
	"github.com/startmsg/chatbackend/shared/messages"
	"github.com/startmsg/chatbackend/shared/phone"
	"github.com/startmsg/chatbackend/shared/registry"
	"github.com/startmsg/chatbackend/shared/tenancy"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// Target is the pull + ack rate the installed sender must reach locally.
const Target = 500.0

// Result is the run's outcome (-json).
type Result struct {
	N              int     `json:"n"`
	Concurrency    int     `json:"concurrency"`
	QueuePerSec    float64 `json:"queue_per_s"`
	PullAckPerSec  float64 `json:"pull_ack_per_s"`
	DDBAlonePerSec float64 `json:"ddb_calls_alone_per_s"`
	Ratio          float64 `json:"ratio_to_ddb_alone"`
	Pulls          int     `json:"pulls"`
	Delivered      int     `json:"delivered"`
	Duplicates     int     `json:"duplicates"`
	OutOfOrder     int     `json:"out_of_order"`
	Missing        int     `json:"missing"`
	Target         float64 `json:"target_per_s"`
	Pass           bool    `json:"pass"`
}

func main() {
	n := flag.Int("n", 10000, "messages queued while the installation is offline")
	conc := flag.Int("concurrency", 8, "add_message calls and acks in flight at once")
	out := flag.String("json", "", "write the result as JSON here")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	res, err := run(context.Background(), *n, *conc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "installbench:", err)
		os.Exit(2)
	}
	fmt.Printf("sender installations (seed 004), %d messages queued offline, then online:\n", res.N)
	fmt.Printf("  add_message (offline)     %8.0f messages/s\n", res.QueuePerSec)
	fmt.Printf("  pull + ack (HTTP)         %8.0f messages/s  (target ≥ %.0f)\n", res.PullAckPerSec, Target)
	fmt.Printf("  same DynamoDB calls alone %8.0f messages/s  (ratio %.2f)\n", res.DDBAlonePerSec, res.Ratio)
	fmt.Printf("  delivered %d in %d pulls: duplicates %d, out of order %d, missing %d\n", res.Delivered, res.Pulls, res.Duplicates, res.OutOfOrder, res.Missing)
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "installbench:", err)
			os.Exit(2)
		}
	}
	if !res.Pass {
		fmt.Println("installbench: FAIL")
		os.Exit(1)
	}
	fmt.Println("installbench: PASS")
}

func run(ctx context.Context, n, conc int) (Result, error) {
	res := Result{N: n, Concurrency: conc, Target: Target}
	d, stop, err := stack(ctx)
	if err != nil {
		return res, err
	}
	defer func() { stop() }() // the stack of the moment
	cfg, err := gateway.LocalConfig(d, registry.All(), "installbench-admin-key-0123456789", 0)
	if err != nil {
		return res, err
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		return res, err
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}

	svc := &installations.Service{Store: d.InstallationStore(), Now: time.Now, Phone: phone.NormalizeDialled}
	yes, name := true, "bench"
	inst, secret, err := svc.Create(ctx, "ten_bench", "ch_bench", "IL", installations.Input{Name: &name, UseAPI: &yes})
	if err != nil {
		return res, err
	}

	// Offline: n messages through add_message.
	ids := make([]string, n)
	start := time.Now()
	if err := parallel(n, conc, func(i int) error {
		body := fmt.Sprintf(`{"UUID":%q,"ToMobileNumber":"972501234567","Message":"message%%20%d"}`, inst.UUID, i)
		var out struct {
			Data installations.Added `json:"data"`
		}
		if err := call(client, "POST", srv.URL+"/add_message", "", body, &out); err != nil {
			return err
		}
		ids[i] = out.Data.ID
		return nil
	}); err != nil {
		return res, err
	}
	res.QueuePerSec = float64(n) / time.Since(start).Seconds()

	// Online: pull and ack until empty.
	seen := map[string]int{}
	var lastSeq int64
	start = time.Now()
	for {
		var page struct {
			Data []installations.Pulled `json:"data"`
		}
		if err := call(client, "GET", srv.URL+"/v1/installations/"+inst.UUID+"/messages?max=100&lease=120", "Bearer "+secret, "", &page); err != nil {
			return res, err
		}
		if len(page.Data) == 0 {
			break
		}
		res.Pulls++
		for _, p := range page.Data {
			seen[p.ID]++
			if p.Seq <= lastSeq {
				res.OutOfOrder++
			}
			lastSeq = p.Seq
		}
		chunks := (len(page.Data) + installations.MaxAcks - 1) / installations.MaxAcks
		if err := parallel(chunks, conc, func(c int) error {
			part := page.Data[c*installations.MaxAcks : min((c+1)*installations.MaxAcks, len(page.Data))]
			body := struct {
				Acks []installations.AckInput `json:"acks"`
			}{}
			for _, p := range part {
				body.Acks = append(body.Acks, installations.AckInput{ID: p.ID, Lease: p.Lease, Status: "sent"})
			}
			b, _ := json.Marshal(body)
			var out struct {
				Data []installations.AckResult `json:"data"`
			}
			if err := call(client, "POST", srv.URL+"/v1/installations/"+inst.UUID+"/acks", "Bearer "+secret, string(b), &out); err != nil {
				return err
			}
			for _, r := range out.Data {
				if r.Code != 200 {
					return fmt.Errorf("ack %s: %d %s", r.ID, r.Code, r.Error)
				}
			}
			return nil
		}); err != nil {
			return res, err
		}
	}
	res.PullAckPerSec = float64(len(seen)) / time.Since(start).Seconds()
	for _, id := range ids {
		switch c := seen[id]; {
		case c == 0:
			res.Missing++
		case c > 1:
			res.Duplicates += c - 1
		}
		res.Delivered += min(seen[id], 1)
	}

	// The same DynamoDB calls alone, on emulators of their own started
	// afresh (on the first ones, they would run on tables and a stream
	// twice as full as the HTTP run had, which slows every write): an
	// installation's n entries (stored directly, untimed), then per pull
	// the installation's read, the pull's record, the head and the lease;
	// per message its ack (with the installation's read each ack's
	// authentication makes).
	stop()
	d, stop, err = stack(ctx)
	if err != nil {
		return res, err
	}
	store := d.InstallationStore()
	svc = &installations.Service{Store: store, Now: time.Now, Phone: phone.NormalizeDialled}
	other, _, err := svc.Create(ctx, "ten_bench", "ch_bench", "IL", installations.Input{Name: &name, UseAPI: &yes})
	if err != nil {
		return res, err
	}
	if err := parallel(n, conc, func(i int) error {
		m := messages.Message{ID: tenancy.NewID("msg"), TenantID: "ten_bench", ChannelID: "ch_bench", Direction: messages.Outbound,
			Type: messages.TypeText, Text: &messages.Text{Body: "x"}, To: "+972501234567", Status: messages.StatusQueued,
			InstallationID: other.UUID, CreatedAt: time.Now().UnixMilli()}
		_, err := store.Enqueue(ctx, other.UUID, m, installations.Entry{MessageID: m.ID, TenantID: m.TenantID, To: m.To, Text: "x", CreatedAt: m.CreatedAt}, nil)
		return err
	}); err != nil {
		return res, err
	}
	var acked atomic.Int64
	start = time.Now()
	for {
		now := time.Now()
		if _, err := store.GetInstallation(ctx, other.UUID); err != nil {
			return res, err
		}
		if err := store.Seen(ctx, other.UUID, now); err != nil {
			return res, err
		}
		head, err := store.Head(ctx, other.UUID, 100)
		if err != nil {
			return res, err
		}
		if len(head) == 0 {
			break
		}
		for i := range head {
			head[i].Lease = fmt.Sprintf("%d.bench%d", head[i].Seq, now.UnixNano())
		}
		if n, err := store.Lease(ctx, other.UUID, head, "", now, now.Add(2*time.Minute)); err != nil || n != len(head) {
			return res, fmt.Errorf("baseline lease: %d of %d, %v", n, len(head), err)
		}
		chunks := (len(head) + installations.MaxAcks - 1) / installations.MaxAcks
		if err := parallel(chunks, conc, func(c int) error {
			part := head[c*installations.MaxAcks : min((c+1)*installations.MaxAcks, len(head))]
			if _, err := store.GetInstallation(ctx, other.UUID); err != nil {
				return err
			}
			items := make([]installations.AckItem, len(part))
			for i, e := range part {
				items[i] = installations.AckItem{ID: e.MessageID, Seq: e.Seq, Lease: e.Lease, Status: messages.StatusSent}
			}
			errs, err := store.AckMany(ctx, "ten_bench", other.UUID, items, time.Now())
			if err != nil {
				return err
			}
			for i, e := range errs {
				if e != nil {
					return fmt.Errorf("baseline ack %s: %w", items[i].ID, e)
				}
			}
			acked.Add(int64(len(part)))
			return nil
		}); err != nil {
			return res, err
		}
	}
	res.DDBAlonePerSec = float64(acked.Load()) / time.Since(start).Seconds()
	if res.DDBAlonePerSec > 0 {
		res.Ratio = res.PullAckPerSec / res.DDBAlonePerSec
	}
	res.Pass = res.PullAckPerSec >= Target && res.Duplicates == 0 && res.OutOfOrder == 0 && res.Missing == 0 && res.Delivered == n
	return res, nil
}

// stack starts in-memory emulators with the two tables; stop stops them
// (once, however often it is called).
func stack(ctx context.Context) (*wiring.Env, func(), error) {
	emu, err := emulators.Start(ctx, emulators.Options{})
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	stop := func() { once.Do(emu.Stop) }
	vars := map[string]string{appenv.TableName: "installbench", appenv.OpsTableName: "installbench-ops", appenv.Stage: "bench"}
	d := wiring.FromConfig(emu.AWSConfig(), func(k string) string { return vars[k] })
	if err := provision.EnsureTables(ctx, d.DDB, vars[appenv.TableName], vars[appenv.OpsTableName]); err != nil {
		stop()
		return nil, nil, err
	}
	return d, stop, nil
}

// call sends one request and decodes a 200 answer into out (nil: drop it).
func call(c *http.Client, method, url, auth, body string, out any) error {
	var r io.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// parallel runs f(0..n-1) on up to conc goroutines; the first error wins.
func parallel(n, conc int, f func(i int) error) error {
	return bench.Parallel(context.Background(), conc, n, func(_ context.Context, i int) error { return f(i) })
}
