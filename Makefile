# Berth: the two commands a newcomer needs are `make demo` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# ASan + UBSan + libFuzzer build (clang): `make test` runs the fuzzers briefly from it,
# `make test-sanitize` runs every test in it, `make fuzz` fuzzes for longer.
SANITIZE_DIR ?= build-asan
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS ?= 600

# What `make demo` runs: the hub, the agent, the gateway and berthctl, not every test and benchmark.
DEMO_TARGETS = berth-hub berth-agent berthctl berth-gateway

.PHONY: all deps configure build build-demo test demo bench clean format fuzz fuzz-smoke test-sanitize configure-sanitize

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900
	$(MAKE) fuzz-smoke

$(SANITIZE_DIR)/build.ninja:
	cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DBERTH_FUZZ=ON -DBERTH_BUILD_BENCH=OFF

configure-sanitize: deps $(SANITIZE_DIR)/build.ninja

# Every fuzz target for FUZZ_SMOKE_SECONDS (part of `make test`).
fuzz-smoke: configure-sanitize
	cmake --build $(SANITIZE_DIR) -j $(JOBS) --target fuzz_targets
	bash scripts/fuzz.sh $(SANITIZE_DIR) $(FUZZ_SMOKE_SECONDS)

# Every fuzz target for FUZZ_SECONDS (default 10 min each; FUZZ_SECONDS=3600 for an hour).
fuzz: configure-sanitize
	cmake --build $(SANITIZE_DIR) -j $(JOBS) --target fuzz_targets
	bash scripts/fuzz.sh $(SANITIZE_DIR) $(FUZZ_SECONDS)

# The unit and end-to-end tests built with ASan and UBSan (CI runs it after `make test`).
test-sanitize: configure-sanitize
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp \
	  ctest --output-on-failure -j $(JOBS) --timeout 1800 -LE bench

build-demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(DEMO_TARGETS)

demo: build-demo
	bash scripts/demo.sh

bench: build
	bash scripts/bench.sh

format:
	find api policies workspace placement hub member-agent cli tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
