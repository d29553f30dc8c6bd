"""ts_cuda on a GPU: the end-to-end training loop and the transport and
torch._lazy cases, against eager CUDA and against the in-tree backend with
LTC_TS_CUDA=1. Where there is no GPU (CI), every test here is skipped and
says why (`pytest -rs`); tests/gpu/run.sh runs them on a GPU machine."""
import pytest

import cases_transport
from conftest import run_ok
from differential import close, run_backend

CASES = sorted(n for n in dir(cases_transport) if n.startswith("case_"))
# Drawn from generators whose use differs between backends on CUDA.
RANDOM_CASES = {"case_random_after_manual_seed"}


@pytest.fixture(scope="module")
def gpu(build_dir):
    info = run_ok("""
        import torch, ltc_plugins
        rows = [r for r in ltc_plugins.plugins() if r["name"] == "ts_cuda"]
        print({"cuda": torch.cuda.is_available(), "ts_cuda": rows[0] if rows else None})
    """).values()
    if not info["cuda"]:
        pytest.skip("no CUDA GPU is visible to this torch "
                    f"(ts_cuda says: {info['ts_cuda'] and info['ts_cuda']['reason']})")
    assert info["ts_cuda"] is not None, "ts_cuda was not built"
    assert info["ts_cuda"]["available"], f"a GPU is present but ts_cuda is not: {info['ts_cuda']}"


TRAIN = """
import torch, training
{init}
losses, weights = training.run({device!r})
print({{"losses": losses, "weights": weights,
       "gpu_bytes": torch.cuda.memory_allocated()}})
"""


def test_training_on_ts_cuda_matches_eager_cuda_and_in_tree(gpu):
    eager = run_ok(TRAIN.format(init="", device="cuda")).values()
    in_tree = run_ok(TRAIN.format(
        init="import torch._lazy.ts_backend; torch._lazy.ts_backend.init()", device="lazy"),
        env={"LTC_TS_CUDA": "1"}).values()
    ours = run_ok(TRAIN.format(init="import ltc_plugins; ltc_plugins.init('ts_cuda')",
                               device="lazy")).values()
    assert ours["gpu_bytes"] > 0, "ts_cuda's buffers should live on the GPU"
    for reference in (eager, in_tree):
        assert close(ours["losses"], reference["losses"], rtol=1e-4, atol=1e-5)
        assert close(ours["weights"], reference["weights"], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def transport(gpu, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_transport")
    return {backend: run_backend(backend, "cases_transport", tmp)
            for backend in ("eager_cuda", "intree_cuda", "ts_cuda")}


@pytest.mark.parametrize("case", sorted(set(CASES) - RANDOM_CASES))
def test_ts_cuda_transport_case(transport, case):
    status, ours = transport["ts_cuda"][case]
    assert status == "ok", ours
    for reference in ("eager_cuda", "intree_cuda"):
        ref_status, expected = transport[reference][case]
        if ref_status == "ok":
            assert close(ours, expected, rtol=1e-4, atol=1e-5), reference


TRANSFERS = """
import torch, torch._lazy, ltc_plugins
ltc_plugins.init("ts_cuda")
mib = 2**20
base = torch.arange(6 * 4, dtype=torch.float32).reshape(6, 4)
tensors = {
    # Several 4 MiB staging blocks, the last one partly filled.
    "multi_chunk": torch.randn((10 * mib + 12) // 4),
    # Dense but not contiguous: copied with its strides.
    "transposed": torch.randn(300, 500).t(),
    # Neither: made contiguous on the host first.
    "expanded": torch.randn(1, 700).expand(64, 700),
    "strided_slice": torch.randn(1000, 37)[::3, 5:],
    "offset_view": torch.randn(4096)[17:2000],
    "bool": torch.rand(10001) > 0.5,
    "int64": torch.randint(-2**40, 2**40, (3333,)),
    "float64": torch.randn(77, 3, dtype=torch.float64),
    "empty": torch.empty(0, 5),
    "zero_dim": torch.tensor(3.5),
}
report = {}
for name, host in tensors.items():
    expected = host.clone()
    on_device = host.to("lazy")
    back = on_device.cpu()  # device data straight back: upload, download
    computed = (on_device * 1).cpu()  # through a graph on the GPU
    torch._lazy.mark_step()
    report[name] = [torch.equal(back, expected), torch.equal(computed, expected)]
# Uploads right behind graphs that still run, re-using freed device memory:
# each must land before the graph that reads it, and after the one before.
ok = True
for i in range(30):
    x = torch.full((mib,), float(i)).to("lazy")
    y = (x * 2 + 1).sum()
    torch._lazy.mark_step()
    ok = ok and y.item() == (2 * i + 1) * mib
report["interleaved"] = [ok]
torch._lazy.wait_device_ops()
print(report)
"""


def test_transfers_are_exact_for_every_layout_and_size(gpu):
    report = run_ok(TRANSFERS).values()
    failed = {name: flags for name, flags in report.items() if not all(flags)}
    assert not failed, f"round trips that changed the data: {failed}"
