# mlscale Makefile. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
K8S_BIN   := $(BIN)/k8s
TOOLS_BIN := $(BIN)/tools

# Versions of the control plane built from source (see hack/tools/*/go.mod).
KUBE_VERSION := v1.37.2
KUBE_MAJOR   := 1
KUBE_MINOR   := 37
ETCD_VERSION := v3.6.16

GOLANGCI_LINT_VERSION  := v2.15.0
CONTROLLER_GEN_VERSION := v0.20.1
ACTIONLINT_VERSION     := v1.7.12

# golangci-lint is built from the Go module proxy into bin/tools; the file
# name carries the version, so that a version bump builds it again.
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# actionlint (the GitHub Actions workflow checker) likewise.
ACTIONLINT    := $(TOOLS_BIN)/actionlint-$(ACTIONLINT_VERSION)

# Version stamped into bin/mlscale (`mlscale version`).
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_LDFLAGS := -X github.com/mlscale/mlscale/internal/cli.version=$(VERSION)

# go-nvml's headers mark some NVML calls deprecated; gcc would print
# hundreds of lines of warnings at every cgo build. Nothing else changes.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

# `make test` runs the whole suite. envtest finds kube-apiserver and etcd
# through KUBEBUILDER_ASSETS; pass extra flags with GOTESTFLAGS (e.g. -race, -run X).
TEST_TIMEOUT ?= 30m
GOTESTFLAGS  ?=

KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(KUBE_MAJOR) \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: build
build: ## Build bin/mlscale (the one in-cluster binary and CLI).
	$(GO) build -ldflags '$(GO_LDFLAGS)' -o $(BIN)/mlscale ./cmd/mlscale

.PHONY: build-demo
build-demo: ## Build bin/mlscale-demo (the local test bed behind make demo; never in the image).
	$(GO) build -ldflags '$(GO_LDFLAGS)' -o $(BIN)/mlscale-demo ./cmd/mlscale-demo

# Extra arguments for `make demo`, e.g. DEMO_ARGS="--once -f my-app.yaml".
DEMO_ARGS ?=

.PHONY: demo
demo: build-demo control-plane ## The main job: local control plane + mlscale, apply config/samples, show the KEDA objects (Ctrl-C stops).
	$(BIN)/mlscale-demo $(DEMO_ARGS)

.PHONY: test
test: control-plane prometheus helm ## Run the whole test suite (builds the control plane and installs the test servers first, once).
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) test -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...

# `make e2e-keda` runs mlscale against the real KEDA (test/e2ekeda and
# test/kedaenv, which skip unless MLSCALE_E2E_KEDA=1 and fail, not skip,
# when a binary is missing). See docs/e2e-keda.md.
E2E_KEDA_TIMEOUT ?= 20m

.PHONY: e2e-keda
e2e-keda: control-plane kube-controller-manager keda rabbitmq prometheus ## Run the e2e suite with the real KEDA operator and webhooks, the HPA controller and RabbitMQ.
	MLSCALE_E2E_KEDA=1 KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) test -count=1 -timeout $(E2E_KEDA_TIMEOUT) $(GOTESTFLAGS) ./test/kedaenv ./test/e2ekeda

# `make e2e-loop` closes the loop on a simulated GPU cluster: kube-scheduler
# and kwok's fake GPU and CPU nodes next to the e2e-keda pieces, pods Ready
# after a cold start, demand replayed into Prometheus (test/e2eloop, which
# skips unless MLSCALE_E2E_LOOP=1 and fails when a binary is missing). Its
# four parallel tests mostly wait (-parallel 4: the prediction scenario's
# clock starts with it). See docs/e2e-loop.md.
E2E_LOOP_TIMEOUT ?= 25m

.PHONY: e2e-loop
e2e-loop: control-plane kube-controller-manager kube-scheduler kwok keda rabbitmq prometheus ## Run the closed-loop suite: pods on fake GPU nodes (kwok), scarcity, prediction, a webhook outage.
	MLSCALE_E2E_LOOP=1 KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) test -count=1 -parallel 4 -timeout $(E2E_LOOP_TIMEOUT) $(GOTESTFLAGS) ./test/e2eloop

# `make bench-admission` drives mlscale's two webhooks and an allow-all
# floor (same TLS, same review, same clients) on the local control plane
# and prints the ratios against the goals; `make bench-scale` measures the
# manager's memory, admission latency and convergence with 10,000
# workloads (about 15 minutes). See docs/performance.md. Flags go in
# BENCH_ADMISSION_ARGS, e.g. "-clients 16 -duration 8s -rounds 2".
BENCH_ADMISSION_ARGS ?=

.PHONY: bench-admission
bench-admission: control-plane ## Measure admission against an allow-all webhook: reviews/s, p50, p99 and the ratios (docs/performance.md).
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) run ./hack/benchadmission $(BENCH_ADMISSION_ARGS)

.PHONY: bench-scale
bench-scale: control-plane ## Measure the manager with 10,000 workloads: memory, admission latency, a 1,000-workload burst (docs/performance.md).
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) test -count=1 -timeout 90m ./test/e2e -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x

# `make fuzz` runs every fuzz target of the repository, one after the
# other, for FUZZTIME each (default 10m; FUZZ=FuzzName runs only that one).
# It uses Go $(FUZZ_GO_TOOLCHAIN) from the module proxy: Go 1.26's fuzz
# coordinator can end a run that found nothing with a spurious "context
# deadline exceeded" at the -fuzztime boundary (go.dev/issue/75804, fixed in
# Go 1.27); the rest of the build stays on the repository's Go. New
# crashers land in the package's testdata/fuzz/ as usual (hack/fuzz.sh).
# See docs/development.md.
FUZZTIME          ?= 10m
FUZZ              ?=
FUZZ_GO_TOOLCHAIN ?= go1.27.3
FUZZ_PARALLEL     ?= 2

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 10m) each; FUZZ=FuzzName for one.
	GO=$(GO) GOTOOLCHAIN=$(FUZZ_GO_TOOLCHAIN) FUZZTIME=$(FUZZTIME) FUZZ=$(FUZZ) FUZZ_PARALLEL=$(FUZZ_PARALLEL) hack/fuzz.sh

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (built into bin/tools once) with .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## Check the GitHub Actions workflows in .github/workflows with actionlint (built into bin/tools once).
	$(ACTIONLINT) -no-color .github/workflows/*.yml

.PHONY: fmt
fmt: ## Format the Go sources with gofmt.
	gofmt -s -w $$($(GO_FILES))

.PHONY: fmt-check
fmt-check: ## Fail when a Go source is not gofmt-formatted.
	@out=$$(gofmt -s -l $$($(GO_FILES))); if [ -n "$$out" ]; then echo "not gofmt-formatted (run make fmt):"; echo "$$out"; exit 1; fi

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

# The Go sources of the repository, without build outputs.
GO_FILES := find . -name '*.go' -not -path './bin/*' -not -path './.git/*'

##@ Tools (built from the Go module proxy, cached under bin/tools)

.PHONY: tools
tools: $(GOLANGCI_LINT) $(ACTIONLINT) ## Build the development tools into bin/tools (once).

$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS_BIN)/golangci-lint $@
	ln -sf $(notdir $@) $(TOOLS_BIN)/golangci-lint

$(ACTIONLINT):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(TOOLS_BIN)/actionlint $@

##@ Control plane (built from source, cached under bin/k8s)

.PHONY: control-plane
control-plane: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd ## Build kube-apiserver and etcd from source into bin/k8s (once).

$(K8S_BIN)/kube-apiserver: hack/tools/kube/go.mod hack/tools/kube/go.sum
	@mkdir -p $(K8S_BIN)
	cd hack/tools/kube && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(K8S_BIN)/etcd: hack/tools/etcd/go.mod hack/tools/etcd/go.sum
	@mkdir -p $(K8S_BIN)
	cd hack/tools/etcd && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ go.etcd.io/etcd/server/v3

# kube-controller-manager comes from its own tools module (the same
# k8s.io/kubernetes version and replace block as hack/tools/kube; its extra
# dependencies would otherwise change hack/tools/kube/go.sum and rebuild
# kube-apiserver). Only the KEDA e2e suite needs it, so control-plane does
# not build it.
.PHONY: kube-controller-manager
kube-controller-manager: $(K8S_BIN)/kube-controller-manager ## Build kube-controller-manager from source into bin/k8s (once; for make e2e-keda).

$(K8S_BIN)/kube-controller-manager: hack/tools/kube-controller-manager/go.mod hack/tools/kube-controller-manager/go.sum
	@mkdir -p $(K8S_BIN)
	cd hack/tools/kube-controller-manager && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/kube-controller-manager

# kube-scheduler comes from a tools module of its own for the same reason
# (same k8s.io/kubernetes version and replace block, so it shares the build
# cache with kube-apiserver and kube-controller-manager). Only the simulated
# cluster of make e2e-loop and mlscale-demo --with-keda need it.
.PHONY: kube-scheduler
kube-scheduler: $(K8S_BIN)/kube-scheduler ## Build kube-scheduler from source into bin/k8s (once; for make e2e-loop).

$(K8S_BIN)/kube-scheduler: hack/tools/kube-scheduler/go.mod hack/tools/kube-scheduler/go.sum
	@mkdir -p $(K8S_BIN)
	cd hack/tools/kube-scheduler && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/kube-scheduler

# kwok's controller (sigs.k8s.io/kwok, the version of hack/tools/kwok/go.mod)
# simulates the fake nodes of make e2e-loop and the lifecycle of the pods
# scheduled on them (test/kedaenv's Stages: Ready after a cold start).
KWOK_BIN := $(BIN)/kwok

.PHONY: kwok
kwok: $(KWOK_BIN)/kwok ## Build kwok's controller (sigs.k8s.io/kwok) into bin/kwok (once; for make e2e-loop).

$(KWOK_BIN)/kwok: hack/tools/kwok/go.mod hack/tools/kwok/go.sum
	@mkdir -p $(KWOK_BIN)
	cd hack/tools/kwok && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ sigs.k8s.io/kwok/cmd/kwok

##@ KEDA (built from source, cached under bin/keda)

# KEDA's operator, admission webhooks and metrics adapter come from the tools
# module hack/tools/keda, which must require the KEDA version of go.mod.
KEDA_BIN      := $(BIN)/keda
KEDA_VERSION  := $(shell awk '$$1 == "github.com/kedacore/keda/v2" { print $$2; exit }' go.mod)
KEDA_LDFLAGS  := -s -w -X github.com/kedacore/keda/v2/version.Version=$(KEDA_VERSION) -X github.com/kedacore/keda/v2/version.GitCommit=$(KEDA_VERSION)
KEDA_BUILD     = @mkdir -p $(KEDA_BIN); cd hack/tools/keda && set -x && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(KEDA_LDFLAGS)' -o $@

.PHONY: keda
keda: keda-version-check $(KEDA_BIN)/keda-operator $(KEDA_BIN)/keda-admission-webhooks $(KEDA_BIN)/keda-adapter ## Build KEDA's operator, admission webhooks and metrics adapter from source into bin/keda (once).

# The binaries depend on the tools module only (not on go.mod, which changes
# often); this check fails when the two KEDA versions drift apart.
.PHONY: keda-version-check
keda-version-check:
	@tools=$$(cd hack/tools/keda && $(GO) list -m -f '{{.Version}}' github.com/kedacore/keda/v2); \
	if [ "$$tools" != "$(KEDA_VERSION)" ]; then echo "hack/tools/keda requires KEDA $$tools, go.mod $(KEDA_VERSION): update hack/tools/keda/go.mod"; exit 1; fi

$(KEDA_BIN)/keda-operator: hack/tools/keda/go.mod hack/tools/keda/go.sum
	$(KEDA_BUILD) github.com/kedacore/keda/v2/cmd/operator

$(KEDA_BIN)/keda-admission-webhooks: hack/tools/keda/go.mod hack/tools/keda/go.sum
	$(KEDA_BUILD) github.com/kedacore/keda/v2/cmd/webhooks

$(KEDA_BIN)/keda-adapter: hack/tools/keda/go.mod hack/tools/keda/go.sum
	$(KEDA_BUILD) github.com/kedacore/keda/v2/cmd/adapter

##@ Helm chart (charts/mlscale)

# helm is built from helm.sh/helm/v3 through the Go module proxy by the tools
# module hack/tools/helm into bin/helm, once (test/helm runs it).
HELM := $(BIN)/helm

.PHONY: helm
helm: $(HELM) ## Build helm (helm.sh/helm/v3, hack/tools/helm) into bin/helm (once).

$(HELM): hack/tools/helm/go.mod hack/tools/helm/go.sum
	@mkdir -p $(BIN)
	cd hack/tools/helm && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ helm.sh/helm/v3/cmd/helm

.PHONY: chart-docs
chart-docs: ## Regenerate the chart's values.schema.json and README.md from values.yaml; copy config/rbac, config/webhook and deploy/prometheus into it.
	$(GO) run ./hack/chartdocs/cmd -chart charts/mlscale -root .

.PHONY: chart-docs-check
chart-docs-check: ## Fail when the chart's generated files (schema, README, copies of config/) are stale.
	$(GO) run ./hack/chartdocs/cmd -chart charts/mlscale -root . -check

##@ Test servers (Debian packages, installed once)

# apt-get runs as root, or through sudo when there is one; a machine that
# already has the commands skips the install.
APT_INSTALL := DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: prometheus
prometheus: ## Install Debian's prometheus package (prometheus + promtool) for the integration tests (once).
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then \
		echo "prometheus: $$(prometheus --version 2>&1 | head -1)"; \
	else \
		$(APT_INSTALL) update -qq && $(APT_INSTALL) install -y -qq --no-install-recommends prometheus; \
	fi

# Debian's package starts no server here (the tests start their own on
# loopback ports); rabbitmq-server and rabbitmqctl live in /usr/sbin.
.PHONY: rabbitmq
rabbitmq: ## Install Debian's rabbitmq-server package for make e2e-keda (once).
	@if PATH="$$PATH:/usr/sbin" command -v rabbitmq-server >/dev/null && PATH="$$PATH:/usr/sbin" command -v rabbitmqctl >/dev/null; then \
		echo "rabbitmq-server: $$(dpkg-query -W -f='$${Version}' rabbitmq-server 2>/dev/null || echo installed)"; \
	else \
		$(APT_INSTALL) update -qq && $(APT_INSTALL) install -y -qq --no-install-recommends rabbitmq-server; \
	fi

##@ Manifests (generated from +kubebuilder markers by controller-gen)

# controller-gen is built from the Go module proxy into bin/tools; the file
# name carries the version, so that a version bump builds it again.
CONTROLLER_GEN := $(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)

$(CONTROLLER_GEN):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(TOOLS_BIN)/controller-gen $@

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate config/rbac/role.yaml and config/webhook/manifests.yaml from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role webhook paths="./webhook/...;./predictor/..." \
		output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook

.PHONY: manifests-check
manifests-check: manifests ## Fail when the generated manifests in config/ are stale (or new and uncommitted).
	@if [ -n "$$(git status --porcelain -- config/rbac config/webhook)" ]; then \
		git status --short -- config/rbac config/webhook; git diff -- config/rbac config/webhook; \
		echo "config/ is stale: run 'make manifests' and commit the result"; exit 1; fi
