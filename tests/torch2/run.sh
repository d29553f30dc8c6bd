#!/usr/bin/env bash
# Builds this project against the LibTorch inside a PyTorch 2.x wheel from
# PyPI and runs its tests there: what `make test` does against Debian's
# LibTorch 1.13. The wheel (with its CUDA libraries, about 5 GB) goes into a
# virtual environment, created once. Pinned to 2.11.x, the version on the GPU
# machines this project can use.
#
#   tests/torch2/run.sh [pytest arguments]
# Environment: BASE_PYTHON (makes the venv; default Debian's /usr/bin/python3,
# not whichever python3 is first on PATH), VENV
# (.venv-torch2), TORCH_SPEC (torch==2.11.0), TORCHVISION_SPEC
# (torchvision==0.26.0), BUILD (build-torch2),
# REF_CPU_FROM (build/lib/ltc-plugins: the ref_cpu binary to test).
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE_PYTHON=${BASE_PYTHON:-/usr/bin/python3}
VENV=${VENV:-.venv-torch2}
TORCH_SPEC=${TORCH_SPEC:-torch==2.11.0}
# The torchvision built for that torch (tests/python/model_zoo.py).
TORCHVISION_SPEC=${TORCHVISION_SPEC:-torchvision==0.26.0}
BUILD=${BUILD:-build-torch2}

if [ ! -x "$VENV/bin/python" ]; then "$BASE_PYTHON" -m venv "$VENV"; fi
PYTHON="$PWD/$VENV/bin/python"
if ! "$PYTHON" -c 'import torch, torchvision, pytest, expecttest, matplotlib, sklearn, scikit_build_core' \
    2>/dev/null; then
  echo "tests/torch2/run.sh: installing $TORCH_SPEC into $VENV"
  "$PYTHON" -m pip install -q "$TORCH_SPEC" "$TORCHVISION_SPEC" numpy pytest expecttest==0.1.6 \
    matplotlib scikit-learn scikit-build-core==0.11.6
fi
"$PYTHON" -c 'import torch; print("testing against torch", torch.__version__)'

# The torch package directory as the prefix, not its share/cmake: then
# TorchConfig's find_library(torch) looks in its lib/ before the system's,
# where Debian's LibTorch 1.13 would otherwise be the one found and reported.
# LTC_CTS_PYTHON: the CTS's Python tiers run in the venv's torch 2.x.
torch_dir=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DCMAKE_PREFIX_PATH="$torch_dir" -DLTC_CTS_PYTHON="$PYTHON"
grep -q "^TORCH_LIBRARY:FILEPATH=$torch_dir/lib/libtorch.so$" "$BUILD/CMakeCache.txt" || {
  echo "tests/torch2/run.sh: FAILED: CMake found another LibTorch than $torch_dir's:" >&2
  grep "^TORCH_LIBRARY:" "$BUILD/CMakeCache.txt" >&2
  exit 1
}
cmake --build "$BUILD" -j"${JOBS:-2}"
(cd "$BUILD" && ctest --output-on-failure -j"${JOBS:-2}")
# ref_cpu links no LibTorch: the binary the 1.13 build made (make build),
# where there is one, is the one tests/python/test_ref_cpu.py loads here.
REF_CPU_FROM=${REF_CPU_FROM:-build/lib/ltc-plugins}
if [ -f "$REF_CPU_FROM/libltc_ref_cpu.so" ]; then
  export LTC_TEST_REF_CPU_DIR="$(cd "$REF_CPU_FROM" && pwd)"
  echo "tests/torch2/run.sh: ref_cpu from $LTC_TEST_REF_CPU_DIR"
fi
# The wheels, against this torch (pinned to it), for tests/python/test_wheels.py.
"$PYTHON" packaging/wheels/build_wheels.py --out "$PWD/$BUILD/wheels" \
  --build-dir "$PWD/$BUILD-wheel" --jobs "${JOBS:-2}"
LTC_BUILD_DIR="$PWD/$BUILD" PYTHONPATH="$PWD/$BUILD/lib/python3/dist-packages" \
  LTC_TEST_WHEEL_DIR="$PWD/$BUILD/wheels" LTC_TEST_WHEEL_PYTHON="$PYTHON" \
  "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/python "$@"
