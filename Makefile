# switchyard: the whole set-up is `make run` and `make test`.
GO        ?= go
BIN       := bin/switchyard
CONFIG    ?= examples/quickstart
DATA      ?= ./data
SINK      ?= 127.0.0.1:9000
FUZZTIME  ?= 15s
PKGS      := ./...
PROMTOOL  ?= promtool
# --version prints these (cmd/switchyard/version.go); without git, the Go
# toolchain's build info is the fallback.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build run sink publish-example test test-short vet fmt-check lint rules-check bench fuzz peer-report parity-report schema docs clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/switchyard

# The quickstart: embedded NATS + the router on examples/quickstart (the
# console and admin endpoints on 127.0.0.1:8088, the Segment HTTP intake on
# 127.0.0.1:8080), and a local sink on $(SINK) printing every request the
# destinations send.
# Send a first event from another terminal: README.md's quickstart.
run: build
	@echo "switchyard quickstart: sink on http://$(SINK), intake on http://127.0.0.1:8080, console on http://127.0.0.1:8088/ (user: any, password: quickstart-admin-token) (Ctrl-C stops both)"
	@$(BIN) sink --listen $(SINK) & sink=$$!; \
	trap 'kill $$sink 2>/dev/null' EXIT INT TERM; \
	$(BIN) serve --config $(CONFIG) --data $(DATA)

sink: build
	$(BIN) sink --listen $(SINK) --headers

# Publish the quickstart's sample events to the running quickstart.
publish-example: build
	$(BIN) publish --config $(CONFIG) --source web $(CONFIG)/events.ndjson

# The full suite, with the race detector. Node.js tests (a real Segment
# client) install their npm packages on first run.
test: vet fmt-check lint rules-check
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

# golangci-lint v2 (.golangci.yml), built from the Go module proxy into
# bin/ on first use (about a minute), then reused.
GOLANGCI_VERSION := v2.15.0
GOLANGCI := bin/golangci-lint-$(GOLANGCI_VERSION)
$(GOLANGCI):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin/.golangci $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv bin/.golangci/golangci-lint $@ && rmdir bin/.golangci

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The Prometheus alerting rules: promtool checks them, and runs their unit
# tests (each alert firing on a synthetic series). CI installs promtool
# (.ci/run) and fails without it; locally it is skipped with a note.
rules-check:
	@if ! command -v $(PROMTOOL) >/dev/null 2>&1; then \
	  if [ "$$CI" = true ]; then echo "rules-check: promtool not found (.ci/run installs Debian's prometheus package)"; exit 1; fi; \
	  echo "rules-check: promtool not found, skipping the alert rule checks (apt-get install prometheus)"; exit 0; \
	fi; \
	$(PROMTOOL) check rules deploy/prometheus/switchyard-alerts.yml && \
	$(PROMTOOL) test rules deploy/prometheus/switchyard-alerts.test.yml

# Each fuzzer briefly (CI); run longer locally with FUZZTIME=10m.
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

bench:
	$(GO) run ./bench $(BENCHFLAGS)

peer-report:
	$(GO) test ./internal/peercorpus -run TestPeerReport -count=1 -v -update

# docs/segment-parity.md: the catalog against Segment's own destinations
# (needs Node.js; installs the oracle's pinned npm packages on first run).
parity-report:
	$(GO) test ./internal/parity -run TestSegmentParity -count=1 -v -update

schema: build
	$(BIN) schema --out docs/schema

clean:
	rm -rf bin $(DATA)
