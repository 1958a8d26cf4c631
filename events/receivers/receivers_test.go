package receivers_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/infra/local/emulators"
	"github.com/startmsg/chatbackend/infra/local/stacktest"
	"github.com/startmsg/chatbackend/shared/webhook"
)

func TestMain(m *testing.M) { emulators.Main(m) }

// delivery is one request the system sent, as the receiver got it.
type delivery struct {
	header http.Header
	body   []byte
}

// send posts d (changed by tamper, if given) to a receiver and returns the
// status it answered.
func send(t *testing.T, url string, d delivery, tamper func(h http.Header, body []byte) []byte) int {
	t.Helper()
	status, err := post(url, d, tamper)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func post(url string, d delivery, tamper func(h http.Header, body []byte) []byte) (int, error) {
	h, body := d.header.Clone(), bytes.Clone(d.body)
	if tamper != nil {
		body = tamper(h, body)
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for _, k := range []string{"Content-Type", "User-Agent", webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		if v := h.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// receiver is one running receiver process.
type receiver struct {
	name, url string
}

// start runs a receiver with the given secret and waits for its
// "listening on <url>" line.
func start(t *testing.T, name string, secret string, argv ...string) receiver {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "PORT=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s receiver: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return receiver{name: name, url: u}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s receiver did not start", name)
	}
	return receiver{}
}

// proxy sits between the dispatcher and a receiver: it records every
// genuine delivery and the status the receiver answered it.
type proxy struct {
	*httptest.Server
	mu       sync.Mutex
	target   string
	got      []delivery
	statuses []int
	arrived  chan struct{}
}

func newProxy(t *testing.T) *proxy {
	p := &proxy{arrived: make(chan struct{}, 100)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		d := delivery{header: r.Header.Clone(), body: body}
		status, err := post(target, d, nil)
		if err != nil {
			status = http.StatusBadGateway
		}
		p.mu.Lock()
		p.got, p.statuses = append(p.got, d), append(p.statuses, status)
		p.mu.Unlock()
		w.WriteHeader(status)
		p.arrived <- struct{}{}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) to(r receiver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = r.url
}

// next waits for the next delivery and returns it with the receiver's answer.
func (p *proxy) next(t *testing.T) (delivery, int) {
	t.Helper()
	select {
	case <-p.arrived:
	case <-time.After(90 * time.Second):
		t.Fatal("no delivery arrived")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[len(p.got)-1], p.statuses[len(p.statuses)-1]
}

// tampered are deliveries a receiver must refuse.
var tampered = map[string]func(h http.Header, body []byte) []byte{
	"body changed":  func(_ http.Header, b []byte) []byte { return bytes.Replace(b, []byte("@"), []byte("@x"), 1) },
	"body extended": func(_ http.Header, b []byte) []byte { return append(b, ' ') },
	"signature changed": func(h http.Header, b []byte) []byte {
		sig := []byte(h.Get(webhook.HeaderSignature))
		for i := range sig {
			if sig[i] >= 'A' && sig[i] <= 'Z' { // inside every v1,<base64>
				sig[i] = 'A' + (sig[i]-'A'+1)%26
			}
		}
		h.Set(webhook.HeaderSignature, string(sig))
		return b
	},
	"id changed": func(h http.Header, b []byte) []byte { h.Set(webhook.HeaderID, h.Get(webhook.HeaderID)+"x"); return b },
	"timestamp changed": func(h http.Header, b []byte) []byte {
		h.Set(webhook.HeaderTimestamp, h.Get(webhook.HeaderTimestamp)+"0")
		return b
	},
	"signature removed": func(h http.Header, b []byte) []byte { h.Del(webhook.HeaderSignature); return b },
	"signature forged": func(h http.Header, b []byte) []byte {
		h.Set(webhook.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"=")
		return b
	},
}

// TestReceiversVerifyRealDeliveries runs the Node and Go receivers as
// processes behind a real connection: the API, the stream, the trigger
// router, the queue and the dispatcher deliver to them. They must accept
// every genuine delivery, before and during a secret rotation (two
// signatures), and refuse tampered copies and other secrets.
func TestReceiversVerifyRealDeliveries(t *testing.T) {
	// The project's Node: the one pinned in infra/node, or Node 20+ on PATH.
	nodeBin, err := emulators.Node("../../infra/local")
	if err != nil {
		t.Fatal(err)
	}
	installNode(t)
	goBin := filepath.Join(t.TempDir(), "receiver")
	if out, err := exec.Command("go", "build", "-o", goBin, "./go").CombinedOutput(); err != nil {
		t.Fatalf("build the Go receiver: %v\n%s", err, out)
	}
	runners := map[string][]string{"node": {nodeBin, "node/server.js"}, "go": {goBin}}

	s := stacktest.New(t)
	tn := s.NewTenant("Shop", "messenger")
	auth := "Bearer " + tn.Token
	p := newProxy(t)
	r := s.Do("POST", "/v1/connections", auth, map[string]any{"name": "CRM", "url": p.URL + "/webhook", "triggers": []string{"email"}})
	if r.Status != 201 {
		t.Fatalf("create connection: %d %s", r.Status, r.Body)
	}
	connID, _ := stacktest.Path(r.JSON, "data.id").(string)
	oldSecret, _ := stacktest.Path(r.JSON, "data.secret").(string)
	s.Pipeline()

	old := map[string]receiver{}
	stranger := map[string]receiver{}
	for name, argv := range runners {
		old[name] = start(t, name, oldSecret, argv...)
		stranger[name] = start(t, name, webhook.NewSecret(), argv...)
	}

	// Each receiver gets a genuine delivery through the pipeline.
	var genuine delivery
	contactID := ""
	for i, name := range []string{"node", "go"} {
		p.to(old[name])
		email := []string{"first@example.com", "second@example.com"}[i]
		if contactID == "" {
			r = s.Do("POST", "/v1/contact", auth, map[string]any{"custom_fields": []map[string]any{{"name": "email", "value": email}}})
			contactID, _ = stacktest.Path(r.JSON, "data.id").(string)
		} else {
			r = s.Do("PUT", "/v1/contact/"+contactID, auth, map[string]any{"custom_fields": []map[string]any{{"name": "email", "value": email}}})
		}
		if r.Status != 200 {
			t.Fatalf("write contact: %d %s", r.Status, r.Body)
		}
		d, status := p.next(t)
		if status/100 != 2 || !bytes.Contains(d.body, []byte(email)) {
			t.Fatalf("%s receiver answered a genuine delivery %d: %s %s", name, status, d.header, d.body)
		}
		genuine = d
	}
	check := func(t *testing.T, d delivery, accept, refuse map[string]receiver) {
		t.Helper()
		for name, rc := range accept {
			if st := send(t, rc.url, d, nil); st/100 != 2 {
				t.Errorf("%s receiver refused a genuine delivery: %d", name, st)
			}
			for what, f := range tampered {
				if st := send(t, rc.url, d, f); st != 400 {
					t.Errorf("%s receiver answered a delivery with its %s %d, want 400", name, what, st)
				}
			}
		}
		for name, rc := range refuse {
			if st := send(t, rc.url, d, nil); st != 400 {
				t.Errorf("%s receiver with another secret answered %d, want 400", name, st)
			}
		}
	}
	check(t, genuine, old, stranger)

	// Rotation: the old secret keeps signing for 24 h beside the new one.
	r = s.Do("POST", "/v1/connections/"+connID+"/secret", auth, nil)
	newSecret, _ := stacktest.Path(r.JSON, "data.secret").(string)
	if r.Status != 200 || !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	fresh := map[string]receiver{}
	for name, argv := range runners {
		fresh[name] = start(t, name, newSecret, argv...)
	}
	for i, name := range []string{"node", "go"} {
		for j, rc := range []receiver{old[name], fresh[name]} {
			p.to(rc)
			// A new value each time (the email trigger fires on a change):
			// the receivers' ports may end alike.
			email := fmt.Sprintf("%s-%d@example.com", []string{"third", "fourth"}[i], j)
			r = s.Do("PUT", "/v1/contact/"+contactID, auth, map[string]any{"custom_fields": []map[string]any{{"name": "email", "value": email}}})
			if r.Status != 200 {
				t.Fatalf("write contact: %d %s", r.Status, r.Body)
			}
			d, status := p.next(t)
			if sigs := strings.Fields(d.header.Get(webhook.HeaderSignature)); len(sigs) != 2 {
				t.Fatalf("during a rotation a delivery carries two signatures: %q", d.header.Get(webhook.HeaderSignature))
			}
			if status/100 != 2 || !bytes.Contains(d.body, []byte(email)) {
				t.Fatalf("%s receiver answered a genuine delivery during the rotation %d", name, status)
			}
			genuine = d
		}
	}
	both := map[string]receiver{"node old": old["node"], "go old": old["go"], "node new": fresh["node"], "go new": fresh["go"]}
	check(t, genuine, both, stranger)
}

// installNode installs the Node receiver's pinned packages (npm ci) unless
// make deps did.
func installNode(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("node/node_modules/standardwebhooks/package.json"); err == nil {
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = "node"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in events/receivers/node: %v\n%s", err, out)
	}
}
