"""ts_cuda is honest about where it cannot run: without a GPU, or with a
LibTorch built without CUDA (Debian's), it still loads, says why, and a
preference list falls back to ts_cpu with a warning."""
import pytest

from conftest import ABI, run_ok, run_python


@pytest.fixture(scope="module")
def ts_cuda(build_dir):
    rows = run_ok("""
        import ltc_plugins
        print({"rows": ltc_plugins.plugins()})
    """).values()["rows"]
    matches = [row for row in rows if row["name"] == "ts_cuda"]
    assert len(matches) == 1, f"ts_cuda is not built or not found: {rows}"
    row = matches[0]
    if row["available"]:
        pytest.skip("ts_cuda is available on this machine (GPU and CUDA LibTorch); "
                    "its GPU behaviour is tested by tests/gpu/run.sh")
    return row


def test_listed_as_unavailable_with_the_reason(ts_cuda):
    assert ts_cuda["abi"] == ABI and ts_cuda["path"].endswith("libltc_ts_cuda.so")
    reason = ts_cuda["reason"]
    assert "NVIDIA driver" in reason or "CUDA" in reason, reason


def test_cli_lists_it_with_the_reason(ts_cuda, build_dir):
    import subprocess
    listing = subprocess.run([str(build_dir / "bin" / "ltc-plugins"), "list"],
                             capture_output=True, text=True, check=True).stdout
    line = next(line for line in listing.splitlines() if line.startswith("ts_cuda"))
    assert "unavailable: " + ts_cuda["reason"] in line


def test_requesting_it_fails_with_the_reason(ts_cuda):
    result = run_python("""
        import ltc_plugins
        ltc_plugins.init()
    """, env={"LTC_BACKEND": "ts_cuda"})
    assert result.returncode != 0
    assert "ts_cuda: " in result.stderr
    assert "unavailable: " + ts_cuda["reason"] in result.stderr


def test_preference_list_falls_back_to_ts_cpu_with_a_warning(ts_cuda):
    result = run_ok("""
        import torch, torch._lazy, ltc_plugins
        name = ltc_plugins.init()
        x = torch.ones(3).to("lazy") * 2
        torch._lazy.mark_step()
        print({"name": name, "sum": x.sum().item()})
    """, env={"LTC_BACKEND": "ts_cuda,ts_cpu"})
    assert result.values() == {"name": "ts_cpu", "sum": 6.0}
    warning = [line for line in result.stderr.splitlines() if "warn" in line]
    assert warning and ts_cuda["reason"] in warning[0]
