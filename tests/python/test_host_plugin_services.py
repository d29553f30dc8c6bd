"""What ABI 2.0 gives a plugin and its user, end to end through the host:
client options, the plugin's log lines and trace events, and devices
(lazy:N is ordinal N)."""
from conftest import TEST_PLUGIN_DIR, run_ok, run_python

TRAIN = """
import torch, torch._lazy, ltc_plugins
name = ltc_plugins.init("ts_cpu", options={options!r})
w = torch.ones(4, 4, device="lazy")
y = (w @ w).relu().sum()
torch._lazy.mark_step()
print({{"name": name, "sum": y.item()}})
"""


def test_options_reach_ts_cpu(build_dir):
    result = run_python(TRAIN.format(options={"optimize": False, "pool_mb": 64}),
                        env={"SPDLOG_LEVEL": "ltc=debug"})
    assert result.returncode == 0, result.stderr
    assert result.values() == {"name": "ts_cpu", "sum": 64.0}
    assert "creating a client with optimize=false, pool_mb=64" in result.stderr


def test_unknown_option_fails_init_naming_the_known_ones(build_dir):
    result = run_python(TRAIN.format(options={"colour": "blue"}))
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert "init failed: unknown option 'colour'" in result.stderr
    assert "optimize" in result.stderr and "pool_mb" in result.stderr


def test_bad_option_value_is_named(build_dir):
    result = run_python(TRAIN.format(options={"pool_mb": -1}))
    assert result.returncode != 0
    assert "pool_mb" in result.stderr


def test_option_of_an_unsupported_python_type_is_refused(build_dir):
    result = run_python(TRAIN.format(options={"pool_mb": [1]}))
    assert result.returncode != 0
    assert "option 'pool_mb' is a list" in result.stderr


def test_options_from_the_environment_scoped_to_a_plugin(build_dir):
    result = run_python(TRAIN.format(options={}),
                        env={"LTC_PLUGIN_OPTIONS": "ts_cpu.pool_mb=32,other.x=1",
                             "SPDLOG_LEVEL": "ltc=debug"})
    assert result.returncode == 0, result.stderr
    assert "creating a client with pool_mb=32" in result.stderr


def test_init_again_with_other_options_is_refused(build_dir):
    values = run_ok("""
        import ltc_plugins
        ltc_plugins.init("ts_cpu", options={"pool_mb": 64})
        same = ltc_plugins.init("ts_cpu", options={"pool_mb": 64})
        try:
            ltc_plugins.init("ts_cpu", options={"pool_mb": 65})
            error = ""
        except RuntimeError as e:
            error = str(e)
        print({"same": same, "error": error})
    """).values()
    assert values["same"] == "ts_cpu"
    assert "already in use with pool_mb=64" in values["error"]
    assert "pool_mb=65" in values["error"]


def test_plugin_log_lines_reach_the_ltc_logger(build_dir):
    result = run_python(TRAIN.format(options={}), env={"SPDLOG_LEVEL": "ltc=debug"})
    assert result.returncode == 0, result.stderr
    # ts_cpu logs each compile through the host's log service.
    assert "ts_cpu: compiled" in result.stderr
    quiet = run_python(TRAIN.format(options={}), env={"SPDLOG_LEVEL": "ltc=warn"})
    assert quiet.returncode == 0, quiet.stderr
    assert "ts_cpu: compiled" not in quiet.stderr


def test_plugin_trace_events_show_in_the_profiler(build_dir):
    values = run_ok("""
        import torch, torch._lazy, ltc_plugins
        from torch.profiler import profile
        ltc_plugins.init("ts_cpu")
        x = torch.randn(8, 8)
        with profile() as prof:
            y = (x.to("lazy") @ x.to("lazy")).relu()
            torch._lazy.mark_step()
            torch._lazy.wait_device_ops()
        names = sorted({e.name for e in prof.events()
                        if e.name.startswith(("ts_cpu::", "ltc::"))})
        print({"names": names})
    """).values()
    assert "ts_cpu::graph_rewrites" in values["names"]
    assert "ts_cpu::run_graph" in values["names"]
    assert "ltc::compile" in values["names"] and "ltc::execute" in values["names"]


def test_lazy_device_n_is_plugin_ordinal_n(build_dir):
    """ts_two_devices is ts_cpu's client with two CPU devices. The adapter
    refuses arguments on another device than the executable's, so each
    result below proves the graph was compiled for the device it ran on,
    including the same graph on both devices."""
    values = run_ok("""
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init("ts_two_devices")
        results = []
        for device in ["lazy:1", "lazy:0", "lazy:1"]:
            x = torch.arange(6.0).reshape(2, 3).to(device)
            y = (x * 2 + 1).sum()
            torch._lazy.mark_step()
            results.append((str(y.device), y.item()))
        print({"results": results})
    """, env={"LTC_PLUGIN_PATH": str(TEST_PLUGIN_DIR / "ts_two_devices")}).values()
    assert values["results"] == [("lazy:1", 36.0), ("lazy:0", 36.0), ("lazy:1", 36.0)]


def test_an_int_option_out_of_int64_range_is_named(build_dir):
    result = run_python(TRAIN.format(options={"pool_mb": 1 << 70}))
    assert result.returncode != 0
    assert "option pool_mb" in result.stderr and "int options are 64-bit" in result.stderr
