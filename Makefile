# make demo   installs what is missing, builds, trains a model on `lazy`
# make test   installs what is missing, builds, runs every test
# make deps   installs the Debian packages this project needs, if missing,
#             and the Python packages Debian lacks (from PyPI, pinned)
# make conformance-full   the differential conformance suite on every sample
# make bench  builds, then measures eager vs in-tree lazy vs plugins (bench/run.py)
# make test-torch2   build and test against PyTorch 2.11 (pip wheel, once)

PYTHON   ?= /usr/bin/python3
BUILD    ?= build
JOBS     ?= 2
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
PYTHONPATH_BUILD := $(CURDIR)/$(BUILD)/lib/python3/dist-packages

DEB_PACKAGES := cmake ninja-build g++ ccache pkg-config \
  libtorch-dev python3-torch libboost-dev libspdlog-dev libgtest-dev \
  libdlpack-dev libopenblas-dev python3-pytest python3-sklearn python3-yaml \
  libopenblas0-pthread python3-matplotlib python3-pip

# Not in Debian; PyTorch's OpInfo database (tests/conformance) imports it.
PIP_PACKAGES := expecttest==0.1.6

.PHONY: deps build test test-torch2 conformance-full demo bench install clean

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	LTC_BUILD_DIR=$(CURDIR)/$(BUILD) PYTHONPATH=$(PYTHONPATH_BUILD) \
	  $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/python

# The same build and tests against PyTorch 2.11's LibTorch (a ~5 GB wheel
# from PyPI, installed once into .venv-torch2), loading the ref_cpu binary
# of this build.
test-torch2: build
	REF_CPU_FROM=$(BUILD)/lib/ltc-plugins tests/torch2/run.sh

conformance-full: build
	LTC_BUILD_DIR=$(CURDIR)/$(BUILD) PYTHONPATH=$(PYTHONPATH_BUILD) LTC_CONFORMANCE_SAMPLES=all \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python/test_conformance.py

demo: build
	PYTHONPATH=$(PYTHONPATH_BUILD) $(PYTHON) examples/train_digits.py

bench: build
	$(PYTHON) bench/run.py --build $(CURDIR)/$(BUILD) $(BENCH_ARGS)

install: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf $(BUILD)
