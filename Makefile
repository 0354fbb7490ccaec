# Developer entry points; CI runs .ci/run, which uses the same commands.
GO      ?= go
BIN     ?= bin/smpp-hlr-gateway
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# A number of executions per target (Nx), not a duration: with a duration,
# Go's fuzzing coordinator can race its own deadline on a loaded machine
# and fail with a bare "context deadline exceeded" and no failing input.
FUZZTIME ?= 100000x

.PHONY: build test fuzz interop bench demo lint check-deploy

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/smpp-hlr-gateway

# The test command of README.md.
test:
	$(GO) test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags interop ./test/interop/

# A short pass of every native fuzz target.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Interoperability with third-party SMPP clients (installs them first).
interop:
	bash test/interop/install.sh
	$(GO) test -tags interop -count=1 -v ./test/interop/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

demo:
	$(GO) run ./cmd/smpp-hlr-gateway demo

check-deploy:
	sh deploy/check.sh
	bash deploy/check-metrics.sh
