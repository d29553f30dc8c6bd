# make demo   installs what is missing, builds, trains a model on `lazy`
# make test   installs what is missing, builds, runs every test
# make deps   installs the Debian packages this project needs, if missing,
#             and the Python packages Debian lacks (from PyPI, pinned)
# make conformance-full   the differential conformance suite on every sample
# make bench  builds, then measures eager vs in-tree lazy vs plugins (bench/run.py)
# make test-torch2   build and test against PyTorch 2.11 (pip wheel, once)
# make fuzz   fuzzes every parser of outside input FUZZ_SECONDS (300) each (tests/fuzz)
# make test-sanitize   every ctest and the end-to-end pytest files under ASan+UBSan+LSan
# make packages   Debian packages of the host, the Python package, the CLI, the
#             SDK and each plugin, in $(BUILD)/packages (packaging/), checked by lintian
# make wheels   Python wheels of the host and each plugin, in $(BUILD)/wheels,
#             pinned to the torch they are built against (packaging/wheels)
# make soak   builds, then trains the MLP 20,000 steps and the CNN 2,000 on ts_cpu,
#             showing RSS, live lazy tensors and the plugin's counts (tests/soak)

PYTHON   ?= /usr/bin/python3
BUILD    ?= build
JOBS     ?= 2
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
PYTHONPATH_BUILD := $(CURDIR)/$(BUILD)/lib/python3/dist-packages

DEB_PACKAGES := cmake ninja-build g++ ccache pkg-config \
  libtorch-dev python3-torch libboost-dev libspdlog-dev libgtest-dev \
  libdlpack-dev libopenblas-dev python3-pytest python3-sklearn python3-yaml \
  libopenblas0-pthread python3-matplotlib python3-pip clang libclang-rt-dev \
  dpkg-dev lintian python3-venv python3-packaging python3-torchvision

# Not in Debian; PyTorch's OpInfo database (cts/python/run_ops.py) imports it.
PIP_PACKAGES := expecttest==0.1.6

# The packages' tree, the wheels' and the test tree compile the same
# sources: let ccache share their objects (it would otherwise hash each build
# directory in), also across clones (paths under this one made relative).
export CCACHE_NOHASHDIR := 1
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: deps build packages wheels test test-torch2 conformance-full demo bench install clean soak \
  test-sanitize test-sanitize-thread fuzz fuzz-build fuzz-smoke

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(PYTHON) -c 'import expecttest' 2>/dev/null || { \
	  echo "make deps: installing" $(PIP_PACKAGES); \
	  $(SUDO) $(PYTHON) -m pip install -q --break-system-packages $(PIP_PACKAGES); \
	}

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja \
	  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
	  -DCMAKE_INSTALL_LIBDIR=lib

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j$(JOBS)

test: build packages wheels
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	LTC_BUILD_DIR=$(CURDIR)/$(BUILD) PYTHONPATH=$(PYTHONPATH_BUILD) LTC_TEST_PACKAGE_DIR=$(PACKAGE_DIR) \
	  LTC_TEST_WHEEL_DIR=$(WHEEL_DIR) LTC_TEST_WHEEL_PYTHON=$(abspath $(WHEEL_PYTHON)) \
	  $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/python
	$(MAKE) --no-print-directory fuzz-smoke

# libFuzzer targets, one per parser of outside input (tests/fuzz), in a
# clang ASan+UBSan build of their own. fuzz prints each target's executions,
# exec/s, coverage, corpus size and crashes; fuzz-smoke (part of test) runs
# each a fixed number of inputs from a fixed seed, the same on every machine
# (FUZZ_SMOKE_SECONDS bounds a very slow one). Both fail on any crash, leak or
# sanitizer report. FUZZ_TARGETS picks targets: the fuzz_ts_* two link
# LibTorch, take most of the build and run ~20 inputs a second.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 120
FUZZ_SMOKE_RUNS ?= 50000
FUZZ_SMOKE_TS_RUNS ?= 200
FUZZ_PARSER_TARGETS := fuzz_manifest fuzz_request fuzz_graph_reader
FUZZ_TS_TARGETS := fuzz_ts_archive fuzz_ts_ir
FUZZ_TARGETS ?= $(FUZZ_PARSER_TARGETS) $(FUZZ_TS_TARGETS)

$(FUZZ_BUILD)/build.ninja: CMakeLists.txt tests/fuzz/CMakeLists.txt
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
	  -DCMAKE_INSTALL_LIBDIR=lib -DLTC_BUILD_TESTS=OFF -DLTC_TS_CUDA=OFF -DLTC_FUZZ=ON

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) \
	  $(filter $(FUZZ_PARSER_TARGETS),$(FUZZ_TARGETS))
	FUZZ_RUNS=$(FUZZ_SMOKE_TS_RUNS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) \
	  $(filter $(FUZZ_TS_TARGETS),$(FUZZ_TARGETS))

# The same build and tests against PyTorch 2.11's LibTorch (a ~5 GB wheel
# from PyPI, installed once into .venv-torch2), loading the ref_cpu binary
# of this build.
test-torch2: build
	REF_CPU_FROM=$(BUILD)/lib/ltc-plugins tests/torch2/run.sh

# ASan+UBSan over the whole tree (test-sanitize), TSan over the loader,
# adapter and threaded tests (test-sanitize-thread), each in a build tree of
# its own; tests/sanitize/run.sh says what runs and why. SANITIZE_PART=gtest
# or pytest runs one half; SANITIZE_PART=core (CI) the no_libtorch tests.
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
test-sanitize: deps
	BUILD=$(ASAN_BUILD) JOBS=$(JOBS) PYTHON=$(PYTHON) tests/sanitize/run.sh address $(SANITIZE_PART)

# The TSan job on its own (README, Reliability: what it covers).
test-sanitize-thread: deps
	BUILD=$(TSAN_BUILD) JOBS=$(JOBS) PYTHON=$(PYTHON) tests/sanitize/run.sh thread $(SANITIZE_PART)

conformance-full: build
	LTC_BUILD_DIR=$(CURDIR)/$(BUILD) PYTHONPATH=$(PYTHONPATH_BUILD) LTC_CONFORMANCE_SAMPLES=all \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python/test_conformance.py

demo: build
	PYTHONPATH=$(PYTHONPATH_BUILD) $(PYTHON) examples/train_digits.py

bench: build
	$(PYTHON) bench/run.py --build $(CURDIR)/$(BUILD) $(BENCH_ARGS)

# Fails if a count grew after warm-up (SOAK_ARGS: e.g. --model cnn --steps 500).
soak: build
	PYTHONPATH=$(PYTHONPATH_BUILD) OMP_WAIT_POLICY=PASSIVE $(PYTHON) tests/soak/soak.py $(SOAK_ARGS)

# A tree of its own in Debian's layout (prefix /usr, libdir lib/<triplet>),
# without the tests; cpack makes one .deb per install component from it.
DEB_BUILD ?= build-deb
PACKAGE_DIR := $(CURDIR)/$(BUILD)/packages
$(DEB_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(DEB_BUILD) -G Ninja \
	  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
	  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib/$$(dpkg-architecture -qDEB_HOST_MULTIARCH) \
	  -DLTC_BUILD_TESTS=OFF -DLTC_PACKAGE_DIR=$(PACKAGE_DIR)

packages: deps $(DEB_BUILD)/build.ninja
	cmake --build $(DEB_BUILD) -j$(JOBS)
	rm -rf $(PACKAGE_DIR)
	cd $(DEB_BUILD) && cpack -G DEB
	lintian --fail-on error $(PACKAGE_DIR)/*.deb

# The wheels (packaging/wheels/build_wheels.py), against the torch of
# WHEEL_PYTHON: by default a venv over Debian's Python and its torch, with
# scikit-build-core from PyPI (pinned). One CMake tree of their own, in the
# wheels' layout.
WHEEL_BUILD ?= build-wheel
WHEEL_VENV ?= $(WHEEL_BUILD)/venv
WHEEL_PYTHON ?= $(WHEEL_VENV)/bin/python
WHEEL_DIR := $(CURDIR)/$(BUILD)/wheels
SKBUILD_SPEC := scikit-build-core==0.11.6
wheels: deps
	@[ -x $(WHEEL_PYTHON) ] || $(PYTHON) -m venv --system-site-packages $(WHEEL_VENV)
	@$(WHEEL_PYTHON) -c 'import scikit_build_core' 2>/dev/null || { \
	  echo "make wheels: installing $(SKBUILD_SPEC) into $(WHEEL_VENV)"; \
	  $(WHEEL_PYTHON) -m pip install -q $(SKBUILD_SPEC); \
	}
	$(WHEEL_PYTHON) packaging/wheels/build_wheels.py --out $(WHEEL_DIR) \
	  --build-dir $(CURDIR)/$(WHEEL_BUILD)/cmake --jobs $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf $(BUILD)
