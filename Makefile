# A thin wrapper around CMake. The real build is CMakeLists.txt.
#
#   make run        install deps, build, start tock standalone with examples/
#   make test       install deps, build, run every test (ctest)
#   make sanitize   the tests again under ASan + UBSan (build-asan/)
#   make valgrind   the unit tests under valgrind memcheck
#   make fuzz       each fuzz target for FUZZ_SECONDS with its seed corpus
#   make bench      the benchmarks in bench/ (see bench/README.md)
#   make install    install libtock, headers, pkg-config file and programs

BUILD       ?= build
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
WERROR      ?= OFF
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test sanitize valgrind fuzz bench install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DTOCK_WERROR=$(WERROR) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# State (the SQLite file, the rendered config, ticks.log) goes to ./run, or
# to $(TOCK_RUN_DIR) when set; see scripts/run-standalone.sh.
run: build
	@scripts/run-standalone.sh $(BUILD)

# Timing-sensitive tests (firing lateness, process kills) share two cores
# with everything else in CI; a test counts as passed when one of two tries
# passes, and a failed try is still printed (--output-on-failure).
CTEST_RETRY ?= --repeat until-pass:2

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_RETRY)

sanitize: deps
	cmake -S . -B build-asan -DTOCK_SANITIZE=ON -DTOCK_WERROR=$(WERROR) \
	      -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_RETRY)

valgrind: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j $(JOBS) -T memcheck --repeat until-pass:3 \
	  --overwrite MemoryCheckCommand=$$(command -v valgrind) \
	  --overwrite MemoryCheckCommandOptions="--leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1"

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DTOCK_FUZZ=ON -DTOCK_BUILD_TESTS=OFF \
	  -DTOCK_WERROR=$(WERROR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" $(CMAKE_FLAGS)
	cmake --build build-fuzz -j $(JOBS)
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: build
	@bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
