"""Choosing a plugin: LTC_BACKEND, preference lists, paths, and the error a
user sees when nothing loads."""
import shutil

from conftest import ABI, PLUGIN_DIR, TEST_PLUGIN_DIR, run_ok, run_python


def torch_version():
    import torch
    return torch.__version__

INIT = """
import torch, torch._lazy, ltc_plugins
name = ltc_plugins.init({request!r})
x = torch.arange(6.0).to("lazy") * 2
torch._lazy.mark_step()
print({{"name": name, "backend": ltc_plugins.backend(), "sum": x.sum().item()}})
"""


def init(request="", env=None):
    return run_python(INIT.format(request=request), env=env)


def test_default_is_ts_cpu(build_dir):
    values = run_ok(INIT.format(request="")).values()
    assert values == {"name": "ts_cpu", "backend": "ts_cpu", "sum": 30.0}


def test_ltc_backend_names_the_plugin(build_dir):
    result = init(env={"LTC_BACKEND": "ts_cpu"})
    assert result.returncode == 0, result.stderr
    assert result.values()["name"] == "ts_cpu"


def test_absolute_path_to_shared_object(build_dir):
    path = str(PLUGIN_DIR / "libltc_ts_cpu.so")
    result = init(env={"LTC_BACKEND": path})
    assert result.returncode == 0, result.stderr
    assert result.values()["sum"] == 30.0


def test_preference_list_falls_back_with_a_warning(build_dir):
    result = init(env={"LTC_BACKEND": "no_such_backend,ts_cpu"})
    assert result.returncode == 0, result.stderr
    assert result.values()["name"] == "ts_cpu"
    assert "warn" in result.stderr and "no_such_backend: not found" in result.stderr


def test_preference_list_skips_a_plugin_whose_init_fails(build_dir):
    result = init(env={"LTC_BACKEND": "init_fails,ts_cpu",
                       "LTC_PLUGIN_PATH": str(TEST_PLUGIN_DIR / "init_fails")})
    assert result.returncode == 0, result.stderr
    assert result.values()["name"] == "ts_cpu"
    assert "frobnicator not connected" in result.stderr


def test_nothing_loads_explains_every_candidate(build_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    path = f"{TEST_PLUGIN_DIR / 'unavailable'}:{empty}"
    result = init("ts_missing,unavailable", env={"LTC_PLUGIN_PATH": path})
    assert result.returncode != 0
    error = result.stderr
    assert 'no LTC backend could be loaded for "ts_missing,unavailable"' in error
    assert str(empty) in error and str(PLUGIN_DIR) in error
    assert "ts_missing: not found" in error
    assert "unavailable: no test accelerator present" in error
    assert "Segmentation fault" not in error and "core dumped" not in error


def test_same_request_twice_returns_the_same_backend(build_dir):
    values = run_ok("""
        import ltc_plugins
        first = ltc_plugins.init("ts_cuda, ts_cpu")
        again = ltc_plugins.init("ts_cuda, ts_cpu")
        plain = ltc_plugins.init("ts_cpu")
        print({"names": [first, again, plain]})
    """).values()
    assert values["names"] == ["ts_cpu", "ts_cpu", "ts_cpu"]


def test_manifest_naming_another_plugin_is_rejected(build_dir, tmp_path):
    (tmp_path / "fast.ltcplugin").write_text(
        f"manifest = 1.0\nname = fast\nlibrary = {PLUGIN_DIR / 'libltc_ts_cpu.so'}\nabi = 2.0\n")
    result = init("fast", env={"LTC_PLUGIN_PATH": str(tmp_path)})
    assert result.returncode != 0
    assert "manifest name 'fast' does not match the plugin's name 'ts_cpu'" in result.stderr


def test_second_backend_in_one_process_is_refused(build_dir):
    result = run_python("""
        import ltc_plugins
        ltc_plugins.init("ts_cpu")
        try:
            ltc_plugins.init("ts_cuda")
        except RuntimeError as e:
            print({"error": str(e)})
    """)
    assert result.returncode == 0, result.stderr
    assert "already in use" in result.values()["error"]


def this_libtorch():
    return ".".join(torch_version().split(".")[:2])


def test_plugin_built_for_another_libtorch_is_refused_unloaded(build_dir, tmp_path):
    """ts_cpu's own library under a manifest that says it was built for
    LibTorch 99.0: refused by its manifest (loading it would run a second
    LibTorch's static initialisers, which aborts the process), by the host
    and by the CLI alike."""
    manifest = (PLUGIN_DIR / "ts_cpu.ltcplugin").read_text()
    manifest = manifest.replace(f"libtorch = {this_libtorch()}", "libtorch = 99.0")
    manifest = manifest.replace("library = libltc_ts_cpu.so",
                                f"library = {PLUGIN_DIR / 'libltc_ts_cpu.so'}")
    assert "libtorch = 99.0" in manifest
    (tmp_path / "ts_cpu.ltcplugin").write_text(manifest)
    reason = f"built for LibTorch 99.0, this host runs {this_libtorch()}"
    env = {"LTC_PLUGIN_PATH": str(tmp_path), "SPDLOG_LEVEL": "ltc=debug"}

    result = init("ts_cpu", env=env)
    assert result.returncode == 0, result.stderr
    assert result.values()["name"] == "ts_cpu", "the build's own ts_cpu comes next in the path"
    assert f"ts_cpu: {PLUGIN_DIR / 'libltc_ts_cpu.so'}: rejected: {reason}" in result.stderr
    assert f"{tmp_path / 'ts_cpu.ltcplugin'}: name ts_cpu, ABI {ABI}, LibTorch 99.0" in result.stderr

    rows = run_ok("""
        import ltc_plugins
        print({"rows": ltc_plugins.plugins()})
    """, env={"LTC_PLUGIN_PATH": str(tmp_path)}).values()["rows"]
    refused = [row for row in rows if row["reason"]][0]
    assert (refused["name"], refused["libtorch"], refused["reason"]) == ("ts_cpu", "99.0", reason)

    import subprocess
    listing = subprocess.run([str(build_dir / "bin" / "ltc-plugins"), "list"], text=True,
                             capture_output=True, check=True,
                             env={"LTC_PLUGIN_PATH": str(tmp_path)}).stdout
    assert f"unavailable: {reason}" in listing, listing


def test_plugins_lists_without_initialising(build_dir):
    values = run_ok("""
        import ltc_plugins
        rows = ltc_plugins.plugins()
        print({"rows": rows, "backend": ltc_plugins.backend()})
    """).values()
    assert values["backend"] == "", "listing must not initialise a backend"
    ts_cpu = [row for row in values["rows"] if row["name"] == "ts_cpu"]
    assert len(ts_cpu) == 1
    assert ts_cpu[0]["available"] is True and ts_cpu[0]["abi"] == ABI
    assert ts_cpu[0]["vendor"] == "ltc-plugins"
    assert ts_cpu[0]["graph_formats"] == ["torchscript-ir-v1", "torchscript-archive-v1"]
    assert ts_cpu[0]["libtorch"] == this_libtorch()
    assert ts_cpu[0]["path"].endswith("libltc_ts_cpu.so")


def test_moved_install_tree_trains_like_eager(build_dir, tmp_path):
    import subprocess
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", str(build_dir), "--prefix", str(prefix)],
                   check=True, capture_output=True)
    moved = tmp_path / "moved"
    shutil.move(str(prefix), str(moved))
    for path in ["lib/libltc_host.so", "lib/ltc-plugins/libltc_ts_cpu.so",
                 "lib/ltc-plugins/ts_cpu.ltcplugin", "lib/ltc-plugins/libltc_ts_cuda.so",
                 "lib/ltc-plugins/ts_cuda.ltcplugin", "include/ltc/plugin_api.h",
                 "include/ltc/host.h", "bin/ltc-plugins",
                 "lib/python3/dist-packages/ltc_plugins/__init__.py"]:
        assert (moved / path).exists(), path
    code = f"""
        import torch, training
        torch.ops.load_library({str(moved / 'lib' / 'libltc_host.so')!r})
        assert torch.ops.ltc.init("") == "ts_cpu"
        lazy = training.run("lazy")
        eager = training.run("cpu")
        print({{"lazy": lazy, "eager": eager}})
    """
    values = run_ok(code, pythonpath=moved / "lib" / "python3" / "dist-packages").values()
    lazy_losses, eager_losses = values["lazy"][0], values["eager"][0]
    assert all(abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in zip(lazy_losses, eager_losses))
    listing = subprocess.run([str(moved / "bin" / "ltc-plugins"), "list"],
                             capture_output=True, text=True, check=True).stdout
    assert "ts_cpu" in listing and str(moved / "lib" / "ltc-plugins") in listing


def test_a_bad_plugin_setting_is_named_in_the_error(build_dir):
    result = init("ts_cpu", env={"LTC_TS_CPU_POOL_MB": "lots"})
    assert result.returncode != 0
    assert "LTC_TS_CPU_POOL_MB must be a number of MiB, got 'lots'" in result.stderr
