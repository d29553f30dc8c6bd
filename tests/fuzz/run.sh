#!/bin/sh
# Runs libFuzzer targets for a bounded time each and prints their figures:
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# FUZZ_RUNS=N (with FUZZ_SEED, default 1) bounds each run to N inputs from a
# fixed seed as well: what make test does, so that its result is the same
# on every machine (a time bound explores more on a faster one).
# Each target starts from its checked-in seeds (tests/fuzz/corpus/<target>)
# and grows a working corpus in BUILD_DIR/fuzz/corpus/<target>, kept between
# runs; the checked-in one is never written. Fails when any target crashes,
# leaks or trips a sanitizer: its input is in BUILD_DIR/fuzz/artifacts/.
set -u
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
work=$build/fuzz
mkdir -p "$work/artifacts" "$work/logs"
# A fuzzer process keeps one CPU busy; LibTorch's thread pools would add more.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
failed=""
printf '%-18s %10s %8s %6s %7s %7s  %s\n' target executions exec/s cov corpus crashes result
for target in "$@"; do
  mkdir -p "$work/corpus/$target"
  log=$work/logs/$target.log
  rm -f "$work/artifacts/$target-"*
  # -rss_limit_mb: LibTorch under ASan needs more than libFuzzer's 2 GB default.
  "$build/bin/$target" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS -seed=${FUZZ_SEED:-1}} \
    -print_final_stats=1 -rss_limit_mb=6144 \
    -timeout=60 -artifact_prefix="$work/artifacts/$target-" \
    "$work/corpus/$target" "$here/corpus/$target" >"$log" 2>&1
  status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  # The last status line: "#N DONE cov: C ft: F corp: K/..."
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(ls "$work/corpus/$target" | wc -l)
  crashes=$(ls "$work/artifacts" | grep -c "^$target-")
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status; $log)"
    failed="$failed $target"
  fi
  printf '%-18s %10s %8s %6s %7s %7s  %s\n' "$target" "${executions:-?}" "${rate:-?}" \
    "${cov:-?}" "$corpus" "$crashes" "$result"
done
if [ -n "$failed" ]; then
  echo "fuzzing found a crash in:$failed; the inputs are in $work/artifacts/" >&2
  exit 1
fi
