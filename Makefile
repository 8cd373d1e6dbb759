# Fluxo: one static binary for CDC from MySQL/MariaDB to Kafka.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test demo bench vet fmt deploy-check

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/fluxo ./cmd/fluxo

# The test command (CI runs exactly this through .ci/run).
test:
	scripts/deps.sh test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 18m ./...
	promtool check rules deploy/prometheus/alerts.yaml
	$(MAKE) --no-print-directory deploy-check

# The deployment artifacts (deploy/, docker-compose.yml, Dockerfile) checked
# by tools/deploycheck, a module of its own: Kubernetes manifests decoded
# strictly into the k8s.io/api types, the compose file loaded by compose-go,
# the Dockerfile by BuildKit's parser, the systemd unit by systemd-analyze,
# and every fluxo config they carry by fluxo's own config package.
deploy-check:
	cd tools/deploycheck && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) run . -root ../..

# Starts a throwaway MariaDB, an in-process Kafka broker and registry,
# streams some changes and prints them decoded.
demo:
	scripts/deps.sh demo
	$(GO) run ./cmd/fluxo-demo

# Catch-up throughput and memory (MariaDB binlog, PostgreSQL pgoutput), full
# loads, incremental snapshots under a writer, start-up with many tables,
# and fluxo sink into file:// Parquet.
bench:
	$(GO) run ./cmd/fluxo-bench -source mysql
	$(GO) run ./cmd/fluxo-bench -source postgres
	$(GO) run ./cmd/fluxo-bench -mode fullload -source postgres -repeat 5
	$(GO) run ./cmd/fluxo-bench -mode fullload -source mysql -repeat 5
	$(GO) run ./cmd/fluxo-bench -mode snapshot -source mysql
	$(GO) run ./cmd/fluxo-bench -mode snapshot -source postgres
	$(GO) run ./cmd/fluxo-bench -mode latency -source mysql
	$(GO) run ./cmd/fluxo-bench -mode tables -source mysql -tables 1000
	$(GO) run ./cmd/fluxo-bench -mode tables -source postgres -tables 1000
	$(GO) run ./cmd/fluxo-bench -mode sink -repeat 2

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
