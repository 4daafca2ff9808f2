# kindred's tasks. `make test` builds the test bed (cached) and runs every test.
GO       ?= go
FUZZTIME ?= 5m
BIN      ?= kindred
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X kindred.dev/kindred/internal/cli.Version=$(VERSION)

# Test-bed processes; none may outlive a test run.
TESTBED_PROCS := etcd|kube-apiserver|kube-controll|kube-scheduler|kwok

.PHONY: release build test unit testbed blackhole lint cross fuzz bench check-leaks clean demo-sim test-kind e2e-image check-docker-leaks

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

# Release binaries for every platform kindred supports, stamped with
# VERSION, and their SHA256SUMS, in dist/.
RELEASE ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
release:
	@rm -rf dist && mkdir -p dist
	@set -e; for p in $(RELEASE); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "== $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o dist/kindred-$(VERSION)-$$os-$$arch$$ext .; \
	done
	@cd dist && sha256sum kindred-* > SHA256SUMS && cat SHA256SUMS

# The simulated cluster's binaries, built from the Go module proxy into a
# cache keyed by version: 15-30 minutes the first time, instant after. In CI
# (CI=true, as root) it also blackholes the cluster address ranges; on a
# contributor's machine that is `make blackhole`, never a side effect.
testbed:
	@testbed/build.sh >/dev/null
	@if [ "$${CI:-}" = true ] && [ "$$(id -u)" = 0 ]; then testbed/network.sh; \
	else echo "testbed: no blackhole routes added (they change this machine's routing); tests that need them skip; see make blackhole"; fi

# Blackhole routes for 10.96.0.0/12, 10.244.0.0/16, 192.168.0.0/16 and
# 10.0.0.0/24 (testbed/network.sh), so no cluster address leaves this
# machine: the tests that send traffic to cluster ranges need them. This
# changes the machine's routing (192.168.0.0/16 may be your LAN); remove
# them with `ip route del blackhole RANGE`.
blackhole:
	testbed/network.sh

test: testbed e2e-image
	KINDRED_TESTBED_DIR="$$(testbed/build.sh)" KINDRED_BENCH_TOOLS="$$(testbed/bench/build.sh)" env $$(testbed/e2e/build.sh) $(GO) test -count=1 -timeout 50m ./...
	@# Every benchmark's code, once, at its smallest size, so none can rot
	@# (make bench runs them in full); figures are printed, not kept.
	KINDRED_TESTBED_DIR="$$(testbed/build.sh)" KINDRED_BENCH_TOOLS="$$(testbed/bench/build.sh)" KINDRED_BENCH_SIZES=10 KINDRED_BENCH_RUNS=1 \
		env $$(testbed/e2e/build.sh) $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./pkg/... ./internal/...
	@$(MAKE) -s check-leaks
	@testbed/e2e/tidy.sh

# The reference stack on a simulated cluster, with the real upstream charts
# and manifests (../shared/upstream) as the chart mirror: up, up again (all
# unchanged), status, down.
demo-sim: testbed build
	KINDRED_TESTBED_DIR="$$(testbed/build.sh)" testbed/demo-sim.sh ./$(BIN)

# Unit tests only: no test bed, seconds.
unit:
	$(GO) test -short ./...

# kindredtest's reapers stop shared clusters within seconds of the last
# test process exiting, so wait that long before calling anything a leak.
check-leaks:
	@for i in $$(seq 60); do \
		left=$$(ps -eo pid,stat,comm | awk '$$2 !~ /^Z/ && $$3 ~ /^($(TESTBED_PROCS))$$/'); \
		[ -z "$$left" ] && exit 0; sleep 0.5; \
	done; echo "test-bed processes left running:"; echo "$$left"; exit 1

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Other platforms: the binary builds and every package (tests included)
# vets for each, and kindredtest's test binary builds for macOS, so a
# Linux-only call cannot land. The first run compiles the dependency graph
# once per platform (a few minutes each); later runs are cached.
CROSS ?= darwin/arm64 darwin/amd64 windows/amd64 linux/arm64
cross:
	@set -e; for p in $(CROSS); do \
		os=$${p%/*}; arch=$${p#*/}; echo "== $$os/$$arch"; \
		GOOS=$$os GOARCH=$$arch $(GO) vet ./...; \
		GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null .; \
	done
	GOOS=darwin GOARCH=arm64 $(GO) test -c -o /dev/null ./pkg/kindredtest

# Fuzz the stack loader; the corpus that found bugs stays in
# pkg/stack/testdata/fuzz.
fuzz:
	$(GO) test ./pkg/stack -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)

# Benchmarks, side by side in one run: the simulated cluster's start-up;
# kindred against helmfile and a serial helm script (built once by
# testbed/bench/build.sh, about 10 minutes) on a balanced and an unbalanced
# graph; generated stacks of 10, 50 and 200 components; readiness by
# watching against polling; and kindred's kind cluster step against kind's
# CLI on the e2e node image. Medians go to bench/out/results.json, and
# bench/table.sh turns them into the README's table. About 40 minutes.
bench: testbed e2e-image
	KINDRED_TESTBED_DIR="$$(testbed/build.sh)" KINDRED_BENCH_TOOLS="$$(testbed/bench/build.sh)" KINDRED_BENCH_OUT="$(CURDIR)/bench/out/results.json" \
		env $$(testbed/e2e/build.sh) $(GO) test -run '^$$' -p 1 -bench . -benchtime 1x -timeout 120m ./pkg/... ./internal/...
	@testbed/e2e/tidy.sh

clean:
	rm -rf $(BIN) dist

# The real-kind tests alone, on the node image built here (cached by its
# inputs; cold: about 25 minutes for its Go binaries).
test-kind: e2e-image
	env $$(testbed/e2e/build.sh) $(GO) test -count=1 -timeout 30m -v -run '^TestKind' ./internal/cli ./pkg/kindredtest
	@testbed/e2e/tidy.sh

e2e-image: testbed
	@testbed/e2e/build.sh >/dev/null

# What the tests made in Docker must be gone: containers, networks beyond
# Docker's own three, and volumes.
check-docker-leaks:
	@for i in $$(seq 60); do [ -z "$$(docker ps -aq)" ] && break; sleep 0.5; done; \
	left=$$(docker ps -aq; docker volume ls -q; docker network ls --format '{{.Name}}' | grep -vxE 'bridge|host|none'); \
	if [ -n "$$left" ]; then echo "left in Docker after the tests:"; docker ps -a; docker volume ls; docker network ls; exit 1; fi
