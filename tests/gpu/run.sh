#!/usr/bin/env bash
# GPU proof for ts_cuda. Run on a machine with an NVIDIA GPU and a CUDA
# build of PyTorch 2.x (PYTHON, default python3): builds this project
# against that torch's LibTorch, runs ctest, the GPU tests (ts_cuda against
# eager CUDA and the in-tree backend with LTC_TS_CUDA=1), the end-to-end
# tests, and ltc-plugin-cts against ts_cuda (the ABI tier, the ops tier on a
# few ops, the models tier).
#
# Needs, besides torch: cmake, ninja, a C++17 compiler, the CUDA Toolkit, and
# the headers of Boost (>= 1.74), spdlog, GoogleTest and DLPack (Debian:
# libboost-dev libspdlog-dev libgtest-dev libdlpack-dev), found through
# CMAKE_PREFIX_PATH or the system.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
BUILD=${BUILD:-build-gpu}

if ! "$PYTHON" -c 'import torch'; then
  echo "tests/gpu/run.sh: FAILED: $PYTHON cannot import torch (set PYTHON)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "tests/gpu/run.sh: SKIPPED: $PYTHON's torch sees no CUDA GPU here" >&2
  exit 0
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
      "GPU", torch.cuda.get_device_name(0))'

# The torch directory as the prefix, so that its lib/ is searched before any
# other LibTorch on the system (as in tests/torch2/run.sh).
torch_prefix=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
# LTC_CTS_PYTHON: the ctest tests of the CTS's Python tiers run in this torch.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_PREFIX_PATH="$torch_prefix${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" \
  -DLTC_CTS_PYTHON="$(command -v "$PYTHON")"
cmake --build "$BUILD" -j"$(nproc)"
(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)")

export LTC_BUILD_DIR="$PWD/$BUILD" PYTHONPATH="$PWD/$BUILD/lib/python3/dist-packages"
"$PYTHON" -m pytest -q -rs -p no:cacheprovider \
  tests/python/test_gpu_ts_cuda.py tests/python/test_host_training.py \
  tests/python/test_transport.py tests/python/test_lazy_api.py \
  tests/python/test_ts_cuda_availability.py

# The conformance kit against ts_cuda by path, as a vendor runs it; each
# exits non-zero when a check fails (77 if ts_cuda says it cannot run here).
cts=("$BUILD/bin/ltc-plugin-cts" --plugin "$PWD/$BUILD/lib/ltc-plugins/libltc_ts_cuda.so")
"${cts[@]}" --tier abi
"${cts[@]}" --tier ops --python "$PYTHON" \
  --ops add mul nn.functional.relu sum matmul nn.functional.conv2d
"${cts[@]}" --tier models --python "$PYTHON"
