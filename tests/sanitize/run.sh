#!/usr/bin/env bash
# make test-sanitize: builds the project with sanitizers in a build tree of
# its own and runs the tests there.
#
#   tests/sanitize/run.sh address [gtest|pytest]  ASan+UBSan: the whole tree,
#       every ctest test, and the end-to-end pytest files below with the
#       sanitizer runtimes preloaded into Debian's Python.
#   tests/sanitize/run.sh address core  ASan+UBSan over the tests labelled
#       no_libtorch (loader, ABI, adapter, graph reader, ref_cpu), building
#       only what they need: what CI runs, in minutes.
#   tests/sanitize/run.sh thread [gtest|pytest]   TSan: the loader, adapter,
#       graph and ts_cpu gtests, and the host's threaded pytest file.
# With gtest or pytest, only that half runs.
# Environment: BUILD (build-asan, build-tsan), JOBS (2), PYTHON
# (/usr/bin/python3), PYTEST_FILES (replaces the list below).
#
# Every sanitizer report goes to a file under $BUILD/sanitizer-reports, not
# only to stderr: tests that expect a child process to fail (a bad plugin, a
# refused setting) would otherwise pass with a report in the child's output.
# A run passes only if the tests pass and that folder stays empty.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=$PWD/tests/sanitize
mode=${1:?usage: tests/sanitize/run.sh address|thread [gtest|pytest|core]}
part=${2:-all}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}

case $mode in
  address)
    BUILD=${BUILD:-build-asan}
    sanitize=address,undefined
    runtimes="libasan.so libubsan.so"
    targets=all
    ctest_filter=.
    # This tree has no ts_cuda (LTC_TS_CUDA=OFF above: nvcc's host code is
    # not instrumented here), and this test checks that it is installed.
    deselect="--deselect tests/python/test_host_backend_selection.py::test_moved_install_tree_trains_like_eager"
    pytest_files=${PYTEST_FILES:-"test_host_training.py test_host_backend_selection.py
      test_transport.py test_extract_compiled_graph.py test_host_profiler_threads.py"}
    ;;
  thread)
    BUILD=${BUILD:-build-tsan}
    sanitize=thread
    runtimes=libtsan.so
    # Only what the TSan job runs: LibTorch is not instrumented, so the
    # LibTorch-heavy suites (ref_cpu's kernels, conformance) would test
    # nothing TSan can see.
    targets="loader_tests abi_next_header_c abi_next_host_test abi_next_plugin_test
      graph_reader_test ts_backend_test plugin_api_dlpack_aten_test plugin_api_header_c
      plugin_api_header_cxx ltc_host ltc_ts_cpu ltc_test_lazy_flags"
    ctest_filter='^(loader|abi|graph|ts|plugin_api)\.'
    # With the lazy core's thread pool on, LibTorch hands each sync to its
    # worker through MultiWait and condition variables in code TSan cannot
    # see into; every report that variant gives is between LibTorch's own
    # frames (README, Reliability).
    deselect="--deselect tests/python/test_host_profiler_threads.py::test_four_threads_with_mark_step_each[worker_thread]"
    pytest_files=${PYTEST_FILES:-test_host_profiler_threads.py}
    ;;
  *) echo "tests/sanitize/run.sh: unknown mode '$mode' (address or thread)" >&2; exit 2 ;;
esac
label=()
if [ "$part" = core ]; then
  if [ "$mode" != address ]; then
    echo "tests/sanitize/run.sh: core is a part of address only" >&2
    exit 2
  fi
  targets="loader_tests ltc_test_plugins ltc-plugins plugin_api_header_c plugin_api_header_cxx
    graph_reader_test abi_next_plugin_test abi_next_host_test abi_next_header_c
    ref_cpu_interpreter_test ref_cpu_plugin_test ltc_ref_cpu ltc_cts_test_dependencies"
  label=(-L no_libtorch)
fi

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_INSTALL_LIBDIR=lib -DLTC_TS_CUDA=OFF \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DLTC_SANITIZE=$sanitize
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$JOBS" --target $targets

reports=$PWD/$BUILD/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error: the first report ends the process, so a test never goes on
# in a corrupted heap. detect_leaks: LSan at every exit. The ODR check is
# off because every plugin links its own hidden copy of the C++ adapter:
# same names, separate objects, by design (see cmake/LtcPlugin.cmake).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_odr_violation=0:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$HERE/tsan.supp:log_path=$reports/tsan"

check_reports() {
  if [ -n "$(ls -A "$reports")" ]; then
    echo "tests/sanitize/run.sh: sanitizer reports from $1:" >&2
    for report in "$reports"/*; do echo "== $report" >&2; cat "$report" >&2; done
    exit 1
  fi
}

if [ "$part" != pytest ]; then
  (cd "$BUILD" && ctest --output-on-failure -j"$JOBS" -R "$ctest_filter" ${label[@]+"${label[@]}"} -E DeathTest)
  check_reports ctest
  # A death test's child crashes on purpose, and the sanitizer says so; the
  # test itself checks that it died, so its report goes to stderr only.
  (cd "$BUILD" && ASAN_OPTIONS=${ASAN_OPTIONS%:log_path=*} TSAN_OPTIONS=${TSAN_OPTIONS%:log_path=*} \
    ctest --output-on-failure ${label[@]+"${label[@]}"} -R DeathTest)
fi

if [ "$part" = all ] || [ "$part" = pytest ]; then
  compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
  preload=
  for runtime in $runtimes; do
    preload="$preload $(readlink -f "$("$compiler" -print-file-name="$runtime")")"
  done
  # The interpreter the tests run, and sys.executable in each, so the child
  # interpreters they start get it too: Python with the runtimes of the
  # compiler that built the tree preloaded, into Python processes only
  # (site/sitecustomize.py).
  python_wrapper=$PWD/$BUILD/sanitizer-python
  printf '#!/bin/bash\nLD_PRELOAD="%s" PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}%s" exec -a "$0" "%s" "$@"\n' \
    "${preload# }" "$HERE/site" "$PYTHON" > "$python_wrapper"
  chmod +x "$python_wrapper"
  # Python's own allocator hands out objects from arenas LSan does not
  # scan; with plain malloc, LSan sees what Python objects point to.
  # malloc_context_size=2 keeps one caller per allocation, so that an entry
  # in lsan-python.supp (matched against any frame of the stack) suppresses
  # only what Python or LibTorch allocated itself, never our code that they
  # called. Rerun a report with a larger value to see its whole stack.
  files=()
  for file in $pytest_files; do files+=("tests/python/$file"); done
  PYTHONMALLOC=malloc ASAN_OPTIONS="$ASAN_OPTIONS:malloc_context_size=2" \
    LSAN_OPTIONS="suppressions=$HERE/lsan-python.supp:print_suppressions=0" \
    LTC_BUILD_DIR="$PWD/$BUILD" PYTHONPATH="$PWD/$BUILD/lib/python3/dist-packages" \
    "$python_wrapper" -m pytest -q -rs -p no:cacheprovider "${files[@]}" $deselect "${@:3}"
  check_reports pytest
fi
