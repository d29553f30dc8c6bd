"""Differential conformance: every OpInfo op on `lazy`, each backend in a
process of its own, compared case by case (cts/python/, the runner and
comparer ltc-plugin-cts --tier ops runs against any plugin):

  ts_cpu       vs the in-tree TorchScript backend: differs nowhere;
  ts_portable  (tests/plugins: ts_cpu reading only ltc-graph-v1, rebuilt into
               TorchScript) vs the in-tree backend: differs nowhere, so the
               host's portable export carries every graph faithfully;
  ref_cpu      (kernels of its own, no LibTorch) vs eager: every case is the
               same within tolerance or refused with UNIMPLEMENTED.

What fails under both is listed, not hidden.

LTC_CONFORMANCE_SAMPLES: samples per op and dtype besides the 0-dim,
zero-size and non-contiguous ones (default 2), or `all` (make
conformance-full). LTC_CONFORMANCE_DTYPES: comma-separated dtypes instead of
run_ops.DTYPES. LTC_CONFORMANCE_OPS: space-separated OpInfo names to run
instead of all.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BUILD_DIR, TEST_PLUGIN_DIR, child_env

CONFORMANCE = Path(__file__).resolve().parents[2] / "cts" / "python"
sys.path.insert(0, str(CONFORMANCE))

import compare  # noqa: E402
import run_ops  # noqa: E402

# Backend -> extra environment of its runner.
RUNNERS = {
    "intree": {},
    "ts_cpu": {},
    # Rewrites off: nothing but the format between the lowering and the run.
    "ts_portable": {"LTC_PLUGIN_PATH": str(TEST_PLUGIN_DIR / "ts_portable"),
                    "LTC_TS_OPTIMIZE": "0"},
    "ref_cpu": {},
}
# Seconds for all runners with the default samples (they take 10 to 15
# minutes side by side on two cores); every sample takes about eight times
# as long.
TIMEOUT_S = 3600
# What the host says when none of a plugin's formats carries a graph.
NOT_CARRIED = "which cannot carry this graph"


def runner_args():
    samples = os.environ.get("LTC_CONFORMANCE_SAMPLES", str(run_ops.DEFAULT_SAMPLES))
    dtypes = os.environ.get("LTC_CONFORMANCE_DTYPES", ",".join(run_ops.DTYPES))
    args = ["--all-samples"] if samples == "all" else ["--samples", samples]
    args += ["--dtypes", dtypes]
    ops = os.environ.get("LTC_CONFORMANCE_OPS", "").split()
    if ops:
        args += ["--ops", *ops]
    return args, samples, dtypes, ops


def header(reference, candidate, samples, dtypes, ops, seconds):
    subset = ("every sample" if samples == "all" else
              f"the first {samples} samples per op and dtype, plus the first with a "
              "0-dim tensor, the first with a zero-size tensor and a non-contiguous "
              "variant (LTC_CONFORMANCE_SAMPLES=all, `make conformance-full`: every "
              "sample)")
    return "\n".join([
        f"Differential conformance, {reference} vs {candidate}: "
        f"{'the ops ' + ' '.join(ops) if ops else 'every op'} of PyTorch's OpInfo "
        "database (function variant), forward and backward,",
        f"dtypes {dtypes.replace(',', ', ')} where supported (else the first of "
        f"{', '.join(run_ops.EXTRA_DTYPES)}); {subset}.",
        f"All backends ran side by side in {seconds:.0f} s; full report: "
        f"{BUILD_DIR / 'conformance-report.txt'}",
    ])


class Runs:
    """Every runner's records, and the comparisons made of them."""

    def __init__(self, build_dir, records, seconds):
        self.build_dir, self.records, self.seconds = build_dir, records, seconds
        self.args, self.samples, self.dtypes, self.ops = runner_args()
        self.reports = {}

    def compare(self, reference, candidate, independent=False):
        ref = (compare.eager_reference(self.records[candidate]) if reference == "eager"
               else self.records[reference])
        comparison = compare.Comparison(ref, self.records[candidate], ref_name=reference,
                                        cand_name=candidate, independent=independent,
                                        lazy=self.records["intree"] if independent else None)
        text = header(reference, candidate, self.samples, self.dtypes, self.ops, self.seconds)
        self.reports[candidate] = comparison.report(text)
        (self.build_dir / "conformance-report.txt").write_text(
            "\n\n".join(self.reports.values()) + "\n")
        return comparison, text

    def expected_ops(self):
        return {run_ops.op_key(op) for op in run_ops.load_op_db()
                if not self.ops or run_ops.op_key(op) in self.ops}


@pytest.fixture(scope="module")
def runs(build_dir):
    out = build_dir / "conformance"
    out.mkdir(exist_ok=True)
    args, samples, _, _ = runner_args()
    started = time.monotonic()
    runners = {
        backend: subprocess.Popen(
            [sys.executable, str(CONFORMANCE / "run_ops.py"), backend,
             str(out / f"{backend}.records"), *args],
            env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for backend, env in RUNNERS.items()
    }
    timeout = TIMEOUT_S * (10 if samples == "all" else 1)
    try:
        logs = {backend: runner.communicate(timeout=timeout)[0]
                for backend, runner in runners.items()}
    finally:
        for runner in runners.values():
            if runner.poll() is None:
                runner.terminate()
                runner.wait()
    seconds = time.monotonic() - started
    for backend, runner in runners.items():
        assert runner.returncode == 0, f"run_ops.py {backend} failed:\n{logs[backend]}"
    return Runs(build_dir, {backend: compare.load(out / f"{backend}.records")
                            for backend in runners}, seconds)


def errors(records):
    for record in records.values():
        if record.get("error"):
            yield record["op"], record["error"]
        for key, case in record["cases"].items():
            if case and case.get("ok") is False:
                yield f"{record['op']} {'/'.join(key)}", case["error"]


def test_ts_cpu_differs_from_the_in_tree_backend_in_no_op(runs, capsys):
    comparison, text = runs.compare("intree", "ts_cpu")
    with capsys.disabled():
        print("\n" + comparison.table(text))
    assert set(comparison.ops) == runs.expected_ops(), "ops without a record from either backend"
    differ = comparison.ops_with(compare.DIFFER)
    assert not differ, (f"ts_cpu differs from the in-tree backend in {differ}; "
                        f"see {runs.build_dir / 'conformance-report.txt'}")


def test_portable_export_carries_every_graph_faithfully(runs, capsys):
    comparison, text = runs.compare("intree", "ts_portable")
    with capsys.disabled():
        print("\n" + comparison.table(text))
    not_carried = [(case, error) for case, error in errors(runs.records["ts_portable"])
                   if NOT_CARRIED in error]
    assert not not_carried, f"graphs ltc-graph-v1 did not carry: {not_carried[:5]}"
    assert set(comparison.ops) == runs.expected_ops(), "ops without a record from either backend"
    differ = comparison.ops_with(compare.DIFFER)
    assert not differ, (f"ltc-graph-v1 rebuilt into TorchScript differs from the in-tree "
                        f"backend in {differ}; see {runs.build_dir / 'conformance-report.txt'}")


def test_ref_cpu_is_eager_or_refuses(runs, capsys):
    comparison, text = runs.compare("eager", "ref_cpu", independent=True)
    with capsys.disabled():
        print("\n" + comparison.table(text))
    assert set(comparison.ops) == runs.expected_ops(), "ops without a record from ref_cpu"
    not_carried = [(case, error) for case, error in errors(runs.records["ref_cpu"])
                   if NOT_CARRIED in error]
    assert not not_carried, f"graphs ltc-graph-v1 did not carry: {not_carried[:5]}"
    differ = comparison.ops_with(compare.DIFFER)
    assert not differ, (f"ref_cpu differs from eager in {differ}; "
                        f"see {runs.build_dir / 'conformance-report.txt'}")
    if not runs.ops:
        # 557 on 1.13 (517 before run_ops.py stopped a failed case's error
        # from failing the next case too): fewer is a regression.
        assert len(comparison.ops_running()) >= 550, "ref_cpu runs fewer ops than it did"


def record(op, cases, **extra):
    """A run_ops.py record with `cases` {(dtype, case, kind): case record}."""
    return {"op": op, "cases": cases, "tags": {key: set() for key in cases},
            "inputs": {key[:2]: 1 for key in cases}, "samples": {}, "error": None,
            "tolerance": {}, **extra}


def ok(value, eager="bitwise", lazy="bitwise", eager_value=None):
    def recorded(tensor):
        return None if tensor is None else compare.decode(compare.encode(tensor))
    return {"ok": True, "value": recorded(value), "eager": eager, "lazy": lazy,
            "eager_value": recorded(eager_value)}


def failed(error, eager="bitwise"):
    return {"ok": False, "error": error, "eager": eager, "lazy": None}


def test_compare_tells_same_differ_and_both_fail():
    import torch
    key = ("float32", "0", "fwd")
    x = torch.tensor([1.0, 2.0, float("nan")])
    nudged = torch.tensor([1.0, 2.0 + 2e-7, float("nan")])
    ref = {
        "same": record("same", {key: ok(x)}),
        "bits": record("bits", {key: ok(x)}),
        "close": record("close", {key: ok(x, eager="close")}),
        "random": record("random", {key: ok(torch.zeros(3), eager="random")}),
        "random_shape": record("random_shape", {key: ok(torch.zeros(3), eager="random")}),
        "both": record("both", {key: failed("RuntimeError: no")}),
        "cand_fails": record("cand_fails", {key: ok(x)}),
        "ref_fails": record("ref_fails", {key: failed("RuntimeError: no")}),
        "strides": record("strides", {key: ok(torch.zeros(2, 3))}),
        "as_eager": record("as_eager", {key: ok(torch.zeros(3, 2).t())}),
        "not_as_eager": record("not_as_eager", {key: ok(torch.zeros(3, 2).t())}),
        "flaky": record("flaky", {key: ok(x)}),
        "inputs": record("inputs", {key: ok(x)}),
        "fixed": record("fixed", {key: failed("RuntimeError: not a lazy tensor")}),
        "fixed_wrong": record("fixed_wrong", {key: failed("RuntimeError: not a lazy tensor")}),
        "decomposed": record("decomposed", {key: ok(x)}, fallbacks={"aten::foo"}),
        "still_falls_back": record("still_falls_back", {key: ok(x)}, fallbacks={"aten::foo"}),
    }
    cand = {
        "same": record("same", {key: ok(x.clone())}),
        "bits": record("bits", {key: ok(nudged)}),
        "close": record("close", {key: ok(nudged)}),
        "random": record("random", {key: ok(torch.ones(3), eager="random")}),
        "random_shape": record("random_shape", {key: ok(torch.ones(4), eager="random")}),
        "both": record("both", {key: failed("RuntimeError: other")}),
        "cand_fails": record("cand_fails", {key: failed("RuntimeError: no")}),
        "ref_fails": record("ref_fails", {key: ok(x)}),
        "strides": record("strides", {key: ok(torch.zeros(3, 2).t())}),
        # Eager's layout where in-tree's differs: same; eager's bits only
        # where the case repeats bitwise.
        "as_eager": record("as_eager", {key: ok(torch.zeros(2, 3),
                                                eager_value=torch.zeros(2, 3))}),
        "not_as_eager": record("not_as_eager", {key: ok(torch.zeros(2, 3),
                                                        eager_value=torch.ones(2, 3))}),
        "flaky": record("flaky", {key: ok(x, lazy="random")}),
        "inputs": record("inputs", {key: ok(x)}, inputs={key[:2]: 2}),
        # In-tree fails, the host's gap kernel computes eager's result: fixed.
        "fixed": record("fixed", {key: ok(nudged, eager_value=x)}),
        "fixed_wrong": record("fixed_wrong", {key: ok(x + 1, eager_value=x)}),
        # In-tree ran eager's kernel; the host decomposed it, within tolerance.
        "decomposed": record("decomposed", {key: ok(nudged, eager_value=x)}, fallbacks=set()),
        "still_falls_back": record("still_falls_back", {key: ok(nudged, eager_value=x)},
                                   fallbacks={"aten::foo"}),
    }
    comparison = compare.Comparison(ref, cand)
    verdicts = {op: verdict for op, (verdict, _) in comparison.ops.items()}
    assert verdicts == {
        "same": compare.SAME, "bits": compare.DIFFER, "close": compare.SAME,
        "random": compare.SAME, "random_shape": compare.DIFFER,
        "both": compare.BOTH_FAIL, "cand_fails": compare.DIFFER,
        "ref_fails": compare.DIFFER, "strides": compare.DIFFER,
        "as_eager": compare.SAME, "not_as_eager": compare.DIFFER,
        "flaky": compare.DIFFER, "inputs": compare.DIFFER,
        "fixed": compare.FIXED, "fixed_wrong": compare.DIFFER,
        "decomposed": compare.SAME, "still_falls_back": compare.DIFFER,
    }
    table = comparison.table()
    assert "ops the same as eager, not as in-tree, in some case (1): as_eager" in table
    assert "ops that differ (10)" in table and "ops failing under both (1): both" in table
    assert "ops fixed by the host (1): fixed" in table


def test_compare_against_eager_takes_tolerance_and_refusals():
    import torch
    key = ("float32", "0", "fwd")
    x = torch.tensor([1.0, 2.0, 3.0])
    nudged = torch.tensor([1.0, 2.0 + 2e-7, 3.0])
    refused = failed("RuntimeError: ref_cpu: compile: UNIMPLEMENTED: aten::foo is not supported")
    runs = {
        "nudged": record("nudged", {key: ok(nudged, eager_value=x)}),
        "wrong": record("wrong", {key: ok(x + 1, eager_value=x)}),
        "wrong_dtype": record("wrong_dtype", {key: ok(x.double(), eager_value=x)}),
        "refused": record("refused", {key: refused}),
        "crashes": record("crashes", {key: failed("RuntimeError: ref_cpu: execute: INTERNAL")}),
        "eager_fails": record("eager_fails", {key: failed("RuntimeError: no", eager=None)}),
        "only_lazy_runs": record("only_lazy_runs", {key: ok(x, eager=None)}),
    }
    runs["lazy_core_fails"] = record("lazy_core_fails", {key: failed("RuntimeError: view")})
    runs["as_in_tree"] = record("as_in_tree", {key: ok(x + 1, eager_value=x)})
    in_tree = {"lazy_core_fails": record("lazy_core_fails", {key: failed("RuntimeError: view")}),
               "crashes": record("crashes", {key: ok(x)}),
               "as_in_tree": record("as_in_tree", {key: ok(nudged + 1)}),
               "wrong": record("wrong", {key: ok(x)})}
    comparison = compare.Comparison(compare.eager_reference(runs), runs, ref_name="eager",
                                    cand_name="ref_cpu", independent=True, lazy=in_tree)
    verdicts = {op: verdict for op, (verdict, _) in comparison.ops.items()}
    assert verdicts == {
        "nudged": compare.SAME, "wrong": compare.DIFFER, "wrong_dtype": compare.DIFFER,
        "refused": compare.REFUSED, "crashes": compare.DIFFER,
        "eager_fails": compare.BOTH_FAIL, "only_lazy_runs": compare.DIFFER,
        "lazy_core_fails": compare.BOTH_FAIL, "as_in_tree": compare.SAME,
    }
    assert comparison.ops_running() == ["as_in_tree", "nudged"]
    table = comparison.table()
    assert "ref_cpu runs 2 ops" in table and "refused" in table.splitlines()[0]
    assert "ops the same as in-tree, not as eager, in some case (1): as_in_tree" in table
