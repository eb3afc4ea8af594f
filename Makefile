# qless-router — run `make help` for the targets.
GO        ?= go
PKGS      ?= ./...
BIN       := bin/qless-router
SHARDS    ?= 3
ROUTERS   ?= 3
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
COMPOSE   ?= docker-compose -f deploy/docker-compose.yml -p qless-router

.PHONY: help build test test-short lint bench run script fuzz clean images compose-up compose-down chaos chaos-short chaos-failover

help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/qless-router.
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/qless-router

test: ## Every test with -race against real redis-server processes (installs redis-server if missing), then chaos-short and chaos-failover in Docker.
	./scripts/ensure-redis.sh
	$(GO) vet $(PKGS)
	$(GO) vet -tags chaos ./chaos
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) chaos-short
	$(MAKE) chaos-failover

test-short: ## Quick run without -race.
	./scripts/ensure-redis.sh
	$(GO) test -count=1 $(PKGS)

lint: ## gofmt, go vet and staticcheck.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

bench: build ## Benchmarks: go test -bench for the script, and `qless-router bench` direct vs router.
	./scripts/ensure-redis.sh
	$(GO) test -run XXX -bench . -benchtime 1x ./lua ./ring ./internal/bench
	$(BIN) bench --local

run: build ## Start a local cluster: $(SHARDS) redis shards, $(ROUTERS) routers and the dashboard.
	./scripts/ensure-redis.sh
	$(BIN) dev --shards $(SHARDS) --routers $(ROUTERS)

script: build ## Print the assembled qless Lua script.
	@$(BIN) script

fuzz: ## Run each fuzz target for 20s.
	$(GO) test -run XXX -fuzz FuzzLocate -fuzztime 20s ./ring
	$(GO) test -run XXX -fuzz FuzzCommand -fuzztime 20s ./router/resp
	$(GO) test -run XXX -fuzz FuzzRoute -fuzztime 20s ./core

clean: ## Remove build output.
	rm -rf bin deploy/.build

images: ## Build the Docker images qless-router:dev and qless-redis:dev locally (FROM scratch, no registry).
	./deploy/build-images.sh

compose-up: images build ## Start the docker-compose cluster (3 shards, 3 routers; RESP 127.0.0.1:6380-6382) and wait until it serves.
	$(COMPOSE) up -d
	./deploy/compose-wait.sh

compose-down: ## Stop the docker-compose cluster and remove its containers, network and volumes.
	$(COMPOSE) down -v

chaos-short: images ## Short chaos run in Docker (about 2 minutes): kill routers and shards under load, check every job.
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -tags chaos -count=1 -timeout 10m -v -run 'TestVerify|TestChaos$$' ./chaos -chaos.profile=short

chaos: images ## Long chaos run in Docker (several minutes, more kill rounds and jobs).
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -tags chaos -count=1 -timeout 40m -v -run 'TestVerify|TestChaos$$' ./chaos -chaos.profile=long

chaos-failover: images ## Chaos with a replica and Sentinel per shard and --wait-replicas 1: kill and cut off primaries under load, check no acknowledged job is lost (~90 s).
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -tags chaos -count=1 -timeout 20m -v -run 'TestChaosFailover$$' ./chaos -chaos.profile=short
