"""The SDK as a plugin author gets it: installed from this build, then
examples/plugin_skeleton built out of tree against it with
find_package(LtcPlugins 2 CONFIG), installed beside the host, listed by
the installed CLI and run by the installed host on `lazy`."""
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import ABI, run_ok, run_python

SOURCE = Path(__file__).resolve().parents[2]
SKELETON = SOURCE / "examples" / "plugin_skeleton"


def cmake(*args, cwd=None):
    result = subprocess.run(["cmake", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, f"cmake {' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(build_dir, tmp_path_factory):
    """A prefix with the host, the CLI, the Python package and the SDK
    (components host, python, cli and sdk; no plugin), and the skeleton installed
    into it from its own build tree."""
    root = tmp_path_factory.mktemp("sdk")
    prefix = root / "prefix"
    for component in ("host", "python", "cli", "sdk"):
        cmake("--install", build_dir, "--prefix", prefix, "--component", component)
    skeleton_build = root / "skeleton-build"
    cmake("-S", SKELETON, "-B", skeleton_build, "-G", "Ninja", f"-DCMAKE_PREFIX_PATH={prefix}",
          f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_INSTALL_LIBDIR=lib")
    cmake("--build", skeleton_build)
    cmake("--install", skeleton_build)
    return prefix


def test_sdk_installs_its_cmake_package_headers_and_libraries(installed):
    for path in ["lib/cmake/LtcPlugins/LtcPluginsConfig.cmake",
                 "lib/cmake/LtcPlugins/LtcPluginsConfigVersion.cmake",
                 "lib/cmake/LtcPlugins/LtcPluginsTargets.cmake",
                 "lib/cmake/LtcPlugins/LtcPlugin.cmake",
                 "lib/libltc_plugin_adapter.a", "lib/libltc_graph_reader.a",
                 "include/ltc/plugin_api.h", "include/ltc/plugin_adapter.h",
                 "include/ltc/graph_format.h"]:
        assert (installed / path).exists(), path
    assert not (installed / "lib" / "ltc-plugins" / "libltc_ts_cpu.so").exists(), \
        "only the plugin components carry a backend"


def test_skeleton_links_no_libtorch_and_exports_one_symbol(installed):
    library = installed / "lib" / "ltc-plugins" / "libltc_skeleton.so"
    needed = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True,
                            check=True).stdout
    assert "libtorch" not in needed and "libc10" not in needed, needed
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True,
                             text=True, check=True).stdout.split()
    assert [s for s in symbols if s.startswith("ltc_")] == ["ltc_plugin_query"]
    manifest = (installed / "lib" / "ltc-plugins" / "skeleton.ltcplugin").read_text()
    assert "manifest = 1.0" in manifest and f"abi = {ABI}" in manifest
    assert "\nlibtorch =" not in manifest, manifest


def test_installed_cli_lists_the_skeleton(installed):
    listing = subprocess.run([str(installed / "bin" / "ltc-plugins"), "list"],
                             capture_output=True, text=True, check=True, env={}).stdout
    rows = [line.split() for line in listing.splitlines() if line.startswith("skeleton ")]
    assert len(rows) == 1, listing
    name, version, abi, libtorch, formats, path, status = rows[0]
    assert (version, abi, libtorch, formats, status) == ("0.1.0", ABI, "-", "ltc-graph-v1",
                                                         "available")
    assert path == str(installed / "lib" / "ltc-plugins" / "libltc_skeleton.so")


RUN = """
import torch, torch._lazy, ltc_plugins
assert ltc_plugins.init("skeleton") == "skeleton"
torch.manual_seed(0)
x, y = torch.randn(4, 3), torch.randn(4, 3)
def f(x, y):
    return torch.relu((x + y) * x - 0.5 * y)
lazy = f(x.to("lazy"), y.to("lazy"))
torch._lazy.mark_step()
print({"lazy": lazy.cpu().flatten().tolist(), "eager": f(x, y).flatten().tolist()})
"""


def test_installed_host_runs_a_graph_on_the_skeleton(installed):
    values = run_ok(RUN, pythonpath=installed / "lib" / "python3" / "dist-packages").values()
    assert values["lazy"] == pytest.approx(values["eager"], rel=1e-6, abs=1e-7)


def test_an_op_the_skeleton_lacks_is_named(installed):
    result = run_python("""
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init("skeleton")
        z = torch.exp(torch.randn(2).to("lazy"))
        try:
            z.cpu()
        except RuntimeError as e:
            print({"error": str(e)})
    """, pythonpath=installed / "lib" / "python3" / "dist-packages")
    assert result.returncode == 0, result.stderr
    error = result.values()["error"]
    assert error.startswith("skeleton: compile: UNIMPLEMENTED: skeleton does not implement "
                            "aten::exp"), error


@pytest.mark.parametrize("wanted, found", [("2", True), ("2.0", True), ("1", False), ("3", False)])
def test_find_package_accepts_the_same_abi_major_only(installed, tmp_path, wanted, found):
    (tmp_path / "CMakeLists.txt").write_text(textwrap.dedent(f"""
        cmake_minimum_required(VERSION 3.18)
        project(probe LANGUAGES CXX)
        find_package(LtcPlugins {wanted} CONFIG REQUIRED)
        message(STATUS "LtcPlugins ${{LtcPlugins_VERSION}}")
    """))
    result = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build"),
                             f"-DCMAKE_PREFIX_PATH={installed}"], capture_output=True, text=True)
    assert (result.returncode == 0) == found, result.stdout + result.stderr
    if found:
        assert f"LtcPlugins {ABI}" in result.stdout
    else:
        assert f"LtcPluginsConfig.cmake, version: {ABI}" in result.stderr, result.stderr


def test_installed_cts_passes_the_skeleton(installed):
    """What a plugin author runs before shipping: the kit from the SDK."""
    result = subprocess.run([str(installed / "bin" / "ltc-plugin-cts"), "--plugin", "skeleton"],
                            capture_output=True, text=True, env={})
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in summary, summary
    assert "PASS abi.compile_execute.ltc-graph-v1" in result.stdout, result.stdout
