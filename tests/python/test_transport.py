"""Graph transport is faithful: with its graph rewrites off, ts_cpu gives
bit-identical results to the in-tree backend in every case, whether graphs
cross as IR text (the default) or as archives; with them on
(the default) it matches the in-tree backend and eager within float
tolerance (a matmul reading a transposed view may round differently)."""
import pytest

import cases_transport
from differential import close, identical, run_backend

CASES = sorted(n for n in dir(cases_transport) if n.startswith("case_"))
RANDOM_CASES = {"case_random_after_manual_seed"}


@pytest.fixture(scope="module")
def results(build_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transport")
    return {backend: run_backend(backend, "cases_transport", tmp)
            for backend in ("eager", "intree", "ts_cpu", "ts_cpu_noopt", "ts_cpu_noopt_archive")}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("backend", ["ts_cpu_noopt", "ts_cpu_noopt_archive"])
def test_ts_cpu_without_rewrites_equals_in_tree_backend(results, backend, case):
    intree_status, intree = results["intree"][case]
    status, ours = results[backend][case]
    assert intree_status == "ok", f"in-tree backend failed: {intree}"
    assert status == "ok", ours
    assert identical(ours, intree)


@pytest.mark.parametrize("case", CASES)
def test_ts_cpu_matches_in_tree_backend(results, case):
    _, intree = results["intree"][case]
    status, ours = results["ts_cpu"][case]
    assert status == "ok", ours
    assert close(ours, intree, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(set(CASES) - RANDOM_CASES))
def test_ts_cpu_matches_eager(results, case):
    status, ours = results["ts_cpu"][case]
    eager_status, eager = results["eager"][case]
    assert status == eager_status == "ok", (ours, eager)
    assert close(ours, eager, rtol=1e-4, atol=1e-5)


def test_reseeding_repeats_random_ops(results):
    status, values = results["ts_cpu"]["case_random_after_manual_seed"]
    assert status == "ok", values
    dropout, again = values[0], values[-1]
    assert identical(dropout, again)
    assert 0 < (dropout == 0).sum() < dropout.numel(), "dropout dropped nothing or everything"


def test_manual_seed_reaches_the_plugin(build_dir):
    from conftest import run_ok
    values = run_ok("""
        import torch, torch._lazy.metrics as metrics, ltc_plugins
        ltc_plugins.init()
        torch.manual_seed(7)
        torch.manual_seed(2**64 - 1)
        ltc_plugins.manual_seed(3)
        print({"seeds": metrics.counter_value("PluginSetRngSeed"),
               "torch_seed": torch.initial_seed()})
    """).values()
    # ts_cpu seeds the process's CPU generator, so torch sees the seed that
    # only went to the plugin.
    assert values == {"seeds": 3, "torch_seed": 3}
