# weir: the two commands that matter are `make run` and `make test`.
# Both install what is missing (Debian packages, the pinned control-plane
# binaries) before they do anything else.

BUILD_DIR ?= build
CMAKE_FLAGS ?=
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)

.PHONY: all deps tools build install unit e2e test faults model run bench lint format fuzz \
        fuzz-smoke tsan tsan-unit asan-e2e matrix cluster-up cluster-down clean bench-peers

all: build

deps:
	@hack/install-deps.sh

tools:
	@hack/build-tools.sh

$(BUILD_DIR)/build.ninja: | deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The kubectl plugin (README, "kubectl weir"): $(PREFIX)/bin/kubectl-weir. Builds
# only what it links.
install: deps $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target kubectl-weir
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX) --component Unspecified >/dev/null
	@echo "installed $(PREFIX)/bin/kubectl-weir; with $(PREFIX)/bin on the PATH: kubectl weir help"

unit: build
	@ctest --test-dir $(BUILD_DIR) -L unit -j $(JOBS) --output-on-failure

# e2e brings the control plane up if it is not, and takes it down again only
# if it started it.
e2e: build tools
	@hack/e2e.sh $(BUILD_DIR)

test: lint tools unit tsan-unit fuzz-smoke e2e asan-e2e

# An e2e subset on every supported Kubernetes release (hack/matrix.env), each
# built and cached like the pinned one, on kwok only (hack/matrix.sh; not in
# test or CI). One release of the whole suite: KUBERNETES_VERSION=v1.34.4 make e2e
matrix: build
	@hack/matrix.sh $(BUILD_DIR)

# libFuzzer targets (test/fuzz) in build-fuzz: at least 10^6 executions each;
# fuzz-smoke (part of test) replays the corpora and fuzzes each for 3 s.
fuzz: deps
	@JOBS=$(JOBS) nice -n 10 hack/fuzz.sh full

fuzz-smoke: deps
	@JOBS=$(JOBS) hack/fuzz.sh smoke

# Sanitizers (hack/sanitize.sh), each in its own build directory. tsan: the
# unit tests of controller/runtime, reconcile and kube under ThreadSanitizer
# (build-tsan), then the controller e2e tests with build-tsan's controller.
# test runs tsan-unit and asan-e2e: the controller e2e tests with an ASan +
# UBSan controller (build-asan).
tsan: build tools
	@JOBS=$(JOBS) hack/sanitize.sh tsan-unit
	@JOBS=$(JOBS) hack/sanitize.sh tsan-e2e $(BUILD_DIR)

tsan-unit: deps
	@JOBS=$(JOBS) hack/sanitize.sh tsan-unit

asan-e2e: build tools
	@JOBS=$(JOBS) hack/sanitize.sh asan-e2e $(BUILD_DIR)

# Every scenario of test/faults/faults_test.cc at every crash point and under
# 20 seeded fault schedules (make test runs a fixed sample: WEIR_FAULTS=ci).
faults: build tools
	@WEIR_FAULTS=full WEIR_EDITS=full E2E_JOBS=$${E2E_JOBS:-4} hack/e2e.sh $(BUILD_DIR) \
	  'FaultsTest|EditSequencesTest'

# The model checker (test/model) at its full bounds; make unit runs its CI
# sample. Builds only its own test and what it links.
model: deps $(BUILD_DIR)/build.ninja
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target model_test
	@WEIR_MODEL=full $(BUILD_DIR)/tests/model_test

run: build tools
	@hack/run.sh

bench: build
	@hack/bench.sh $(BUILD_DIR)

# weir beside Volcano's JobFlow, Argo Workflows and a raw Job loop, one at a
# time on fresh local control planes (hack/bench-peers.sh; builds the peers
# with hack/peers.sh). Long: hours at the default sizes; not part of test.
bench-peers: build
	@hack/bench-peers.sh $(BUILD_DIR)

lint: deps
	@hack/lint.sh

format: deps
	@hack/lint.sh --fix

cluster-up: tools
	@hack/cluster.sh up

cluster-down:
	@hack/cluster.sh down

clean:
	rm -rf $(BUILD_DIR) build-fuzz build-tsan build-asan
