"""The torch._lazy API works unchanged: each program gives the same results
and counters under ts_cpu as under the in-tree backend."""
import pytest

import cases_lazy_api
from differential import identical, run_backend

CASES = sorted(n for n in dir(cases_lazy_api) if n.startswith("case_"))


@pytest.fixture(scope="module")
def results(build_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lazy_api")
    return {backend: run_backend(backend, "cases_lazy_api", tmp)
            for backend in ("intree", "ts_cpu")}


@pytest.mark.parametrize("case", CASES)
def test_same_as_in_tree_backend(results, case):
    intree_status, intree = results["intree"][case]
    status, ours = results["ts_cpu"][case]
    assert intree_status == "ok", f"in-tree backend failed: {intree}"
    assert status == "ok", ours
    assert identical(ours, intree), f"ts_cpu: {ours}\nin-tree: {intree}"


def test_programs_did_real_work(results):
    _, counters = results["ts_cpu"]["case_compile_counters"]
    assert counters["UncachedCompile"] >= 2 and counters["CachedCompile"] >= 2, counters
    _, closures = results["ts_cpu"]["case_step_closures"]
    assert closures[:2] == [0, 2] and closures[3] == "second"
    _, dumps = results["ts_cpu"]["case_dump_ir_text_and_backend"]
    assert "aten::mm" in dumps["backend"] and dumps["text"]
