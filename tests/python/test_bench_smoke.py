"""`make bench` in its smoke mode: the harness runs every workload on every
backend and writes a well-formed table, JSON report and chart. Checks shapes
and counts only, never a time: benchmarks do not pass or fail on speed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD_DIR

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
import workloads  # noqa: E402


@pytest.fixture(scope="module")
def smoke(build_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--out", str(out),
         "--build", str(BUILD_DIR)],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout, out


def test_table_has_a_row_per_workload_and_the_budget(smoke):
    stdout, _ = smoke
    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith("| workload"))
    for name in workloads.DEFAULT_BACKENDS:
        assert f"{name} ms" in header
    assert "ts_cpu/in_tree" in header and "ts_cpu/eager" in header
    assert any(line.startswith("| workload | size | eager CPU ms") for line in lines)
    for case in workloads.SMOKE_CASES:
        assert any(line.startswith(f"| {case.workload} | {case.size} |") for line in lines)
    assert any(line.startswith("| in_tree | 1 MiB |") for line in lines), "transfer table"
    assert any(line.startswith("| ts_cpu |") and "host library load" in line
               for line in lines), "init table"
    assert "Budget (ts_cpu_noopt vs in_tree, this run):" in stdout
    assert "Machine: " in stdout and "OpenBLAS" in stdout


def test_json_report_is_complete(smoke):
    _, out = smoke
    report = json.loads((out / "bench.json").read_text())
    assert report["settings"]["smoke"] is True
    assert any("openblas" in path for path in report["machine"]["blas"])
    steps = report["summary"]["steps"]
    for case in workloads.SMOKE_CASES:
        for name in workloads.DEFAULT_BACKENDS:
            entry = steps[f"{case.workload} {case.size} {name}"]
            assert entry["p25_s"] <= entry["median_s"] <= entry["p75_s"]
            assert entry["cpu_p25_s"] <= entry["cpu_median_s"] <= entry["cpu_p75_s"]
            assert entry["first_step_median_s"] > 0
            if name != "eager":
                assert entry["fallbacks"] == {}, "every op of the workloads is lowered"
                assert entry["timed_compiles"] == 0, "warm-up compiles every graph"
    raw_steps = report["raw"]["step"]
    assert len(raw_steps) == len(workloads.SMOKE_CASES) * len(workloads.DEFAULT_BACKENDS)
    assert all(len(r["step_s"]) == 2 and r["threads"] == 2 for r in raw_steps)
    for case in workloads.SMOKE_CASES:
        losses = [r["loss"] for r in raw_steps if r["workload"] == case.workload]
        assert losses == pytest.approx([losses[0]] * len(losses), rel=1e-4), \
            f"every backend trains the same {case.workload} to the same loss"

    lazy = {name for name in workloads.DEFAULT_BACKENDS if name != "eager"}
    transfer = report["summary"]["transfer"]
    assert set(transfer) == lazy
    for entry in transfer.values():
        assert entry["bytes"] == 2**20
        assert entry["payload_copies"]["memcpy"] == 1
        for what in ("memcpy", "upload", "download"):
            assert entry[what]["gb_s"] > 0
    assert set(report["summary"]["init"]) == lazy

    checks = report["budget"]["checks"]
    assert report["budget"]["plugin"] == "ts_cpu_noopt", "the budget is for rewrites off"
    assert len(checks) == 3 * len(workloads.SMOKE_CASES) + 3, "wall, CPU, first step"
    assert all(isinstance(c["pass"], bool) for c in checks)


def test_chart_is_a_png(smoke):
    _, out = smoke
    data = (out / "step_times.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_cuda_backends_are_skipped_with_a_message_without_a_gpu(build_dir, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: the CUDA backends run in the default set")
    assert not set(workloads.CUDA_BACKENDS) & set(workloads.DEFAULT_BACKENDS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--out", str(tmp_path),
         "--build", str(BUILD_DIR), "--backends", "eager,eager_cuda,ts_cuda",
         "--workloads", "mlp"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "sees no CUDA GPU; skipping the CUDA backends (eager_cuda, ts_cuda)" in done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("| workload"))
    assert "eager ms" in header and "cuda" not in header
