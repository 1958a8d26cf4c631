package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/startmsg/chatbackend/shared/limits"
)

// TestReadmeExample: the capacity example in the README is what `make
// capacity` prints for the flags it names today, row for row.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	at := strings.Index(readme, "\n## Capacity\n")
	if at < 0 {
		t.Fatal(`README.md has no "## Capacity" section`)
	}
	section := readme[at+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	re := regexp.MustCompile("make capacity\\s+TENANTS=(\\d+)\\s+CONTACTS=(\\d+)\\s+EVENTS=([0-9.]+)`")
	mm := re.FindStringSubmatchIndex(section)
	if mm == nil {
		t.Fatal("the Capacity section names no example (`make capacity TENANTS=… CONTACTS=… EVENTS=…`)")
	}
	arg := func(i int) string { return section[mm[2*i]:mm[2*i+1]] }
	tenants, _ := strconv.Atoi(arg(1))
	contacts, _ := strconv.Atoi(arg(2))
	events, _ := strconv.ParseFloat(arg(3), 64)

	m, err := loadMeasured()
	if err != nil {
		t.Fatal(err)
	}
	// The flags' defaults, as main sets them.
	in := input{Tenants: tenants, Contacts: contacts, Events: events, Reads: events, Connections: 1, APIMs: 30, RouterMs: 50,
		WebhookMs: 300, ContactBytes: 2500, DispatcherConcurrency: 50, Limits: limits.Defaults()}
	var out strings.Builder
	report(&out, in, m)
	printed := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		printed[l] = true
	}
	rows := 0
	for _, l := range strings.Split(section[mm[1]:], "\n") {
		if !strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "Lambda concurrency:") {
			continue
		}
		rows++
		if !printed[l] {
			t.Errorf("README.md's capacity example has %q, which `make capacity TENANTS=%d CONTACTS=%d EVENTS=%s` no longer prints:\n%s",
				l, tenants, contacts, arg(3), out.String())
		}
	}
	if rows < 15 {
		t.Errorf("found %d rows in README.md's capacity example; the test lost them", rows)
	}
}
