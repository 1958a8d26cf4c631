# Chat backend: `make run` (the whole system locally) and `make test`
# (everything). See README.md.

SHELL := /bin/bash
GO    ?= go
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
LDFLAGS := -s -w -buildid=
LOCAL := infra/local
STAGE ?= dev
# jsii prints a banner on every CDK call under Node 20; the project pins Node 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help deps run test build synth deploy bench invoke openapi fmt vet fuzz clean

help:
	@echo "make run      the whole system on http://127.0.0.1:8080 (emulators, gateway, pollers)"
	@echo "make test     vet, unit, integration (emulators), CDK assertion and entry-path tests"
	@echo "make build    dist/<fn>/bootstrap for linux/arm64, one per function"
	@echo "make synth    CloudFormation template into cdk.out/ (offline)"
	@echo "make deploy   deploy with the CDK CLI (needs AWS credentials)"
	@echo "make bench    cold-init and size benchmarks against a baseline"
	@echo "make invoke   FN=<function> EVENT=<file>: a sample event through one handler (make run's stack)"
	@echo "make openapi  rewrite shared/routes/openapi.json from the route table and the handlers' types"

# The emulators (dynoxide, fauxqs) come from npm, pinned by package-lock.json.
$(LOCAL)/node_modules/.installed: $(LOCAL)/package.json $(LOCAL)/package-lock.json
	cd $(LOCAL) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(LOCAL)/node_modules/.installed
	$(GO) mod download
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
	  || { echo "wrk is missing: sudo apt-get install -y wrk"; exit 1; }

run: deps
	@mkdir -p .local/bin
	$(GO) build -o .local/bin/run ./infra/local/run
	./.local/bin/run

test: deps vet
	$(GO) test -count=1 -timeout 20m ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

build: $(addprefix dist/,$(addsuffix /bootstrap,$(FUNCTIONS)))

dist/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags lambda.norpc -ldflags="$(LDFLAGS)" -o $@ ./functions/$*

FORCE:

synth: build
	CDK_OUTDIR=cdk.out STAGE=$(STAGE) $(GO) run ./infra
	@echo "wrote cdk.out/ChatBackend-$(STAGE).template.json"

deploy: build
	cd infra && npm ci --no-audit --no-fund --loglevel=error && npx cdk deploy -c stage=$(STAGE) ChatBackend-$(STAGE)

bench: build deps
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing wrk (Debian package) for apibench's throughput runs"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || echo "make bench: could not install wrk; apibench skips its wrk runs"; \
	  else \
	    echo "make bench: wrk is missing; install it with: sudo apt-get install -y wrk (apibench skips its wrk runs without it)"; \
	  fi; \
	fi
	@rc=0; \
	echo "$(GO) run ./infra/bench/cmd/coldstart -dist dist"; \
	$(GO) run ./infra/bench/cmd/coldstart -dist dist || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/apibench $(APIBENCH_FLAGS)"; \
	$(GO) run ./infra/bench/cmd/apibench $(APIBENCH_FLAGS) || rc=$$?; \
	echo "$(GO) run ./infra/bench/cmd/connectorbench $(CONNECTORBENCH_FLAGS)"; \
	$(GO) run ./infra/bench/cmd/connectorbench $(CONNECTORBENCH_FLAGS) || rc=$$?; \
	exit $$rc

# A sample event through one function's handler, against `make run`'s stack:
#   make invoke FN=me EVENT=events/apigw/me.json
invoke:
	$(GO) run ./infra/local/invoke -fn "$(FN)" -event "$(EVENT)"

openapi:
	$(GO) test ./shared/routes/apidoc -run TestOpenAPIMatchesTable -update

clean:
	rm -rf dist cdk.out
