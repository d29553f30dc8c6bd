"""The Python wheels of `make wheels`, as a pip user gets them: metadata,
what their shared objects link, and install, train, uninstall in a fresh
virtual environment (over Debian's Python, whose torch the wheels are built
against; nothing is fetched: pip sees only the wheel directory).

LTC_TEST_WHEEL_DIR: the directory of the .whl files (make test passes
$(BUILD)/wheels); without it these tests are skipped, saying so.
LTC_TEST_WHEEL_PYTHON: a Python with scikit-build-core (make test passes the
one make wheels used)."""
import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from conftest import assert_digits_trained_like_eager

WHEEL_DIR = os.environ.get("LTC_TEST_WHEEL_DIR")
# A Python with scikit-build-core, to build a plugin author's wheel with.
WHEEL_PYTHON = os.environ.get("LTC_TEST_WHEEL_PYTHON", sys.executable)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.skipif(
    not WHEEL_DIR, reason="no LTC_TEST_WHEEL_DIR: make test builds the wheels (make wheels) "
                          "against Debian's torch and names them")

# What a pip user's Linux has without Debian's extra packages: glibc and the
# GCC runtime (what manylinux allows), and torch's own libraries, which the
# torch wheel brings.
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                    "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1"}
TORCH_LIBRARY_PREFIXES = ("libtorch", "libc10", "libshm")


def wheel(distribution):
    matches = sorted(Path(WHEEL_DIR).glob(f"{distribution.replace('-', '_')}-*.whl"))
    assert len(matches) == 1, f"{distribution}: {matches} in {WHEEL_DIR}"
    return matches[0]


def dist_info(distribution, name):
    with zipfile.ZipFile(wheel(distribution)) as archive:
        path, = [n for n in archive.namelist() if n.endswith(".dist-info/" + name)]
        return archive.read(path).decode()


def requirements(distribution):
    return Parser().parsestr(dist_info(distribution, "METADATA")).get_all("Requires-Dist") or []


def torch_pin():
    import torch
    from packaging.version import Version
    return f"torch=={Version(torch.__version__).public}"


def test_wheels_pin_the_torch_they_were_built_for():
    import ltc_plugins
    assert requirements("ltc-plugins") == [torch_pin()]
    assert sorted(requirements("ltc-plugin-ts-cpu")) == sorted(
        [f"ltc-plugins=={ltc_plugins.__version__}", torch_pin()])
    # ref_cpu links no LibTorch; the host it needs pins torch.
    assert requirements("ltc-plugin-ref-cpu") == [f"ltc-plugins=={ltc_plugins.__version__}"]


@pytest.mark.parametrize("plugin", ["ts_cpu", "ref_cpu"])
def test_plugin_wheels_declare_their_entry_point(plugin):
    entry_points = dist_info(f"ltc-plugin-{plugin.replace('_', '-')}", "entry_points.txt")
    assert entry_points.split() == ["[ltc_plugins.backends]", plugin, "=",
                                    f"ltc_plugin_{plugin}:manifest"]


def needed(path):
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                             check=True).stdout
    return [line.split("[")[1].rstrip("]") for line in dynamic.splitlines()
            if "(NEEDED)" in line]


@pytest.mark.parametrize("distribution", ["ltc-plugins", "ltc-plugin-ts-cpu",
                                          "ltc-plugin-ref-cpu"])
def test_wheels_link_nothing_pip_users_lack(distribution, tmp_path):
    with zipfile.ZipFile(wheel(distribution)) as archive:
        archive.extractall(tmp_path)
    objects = [p for p in tmp_path.rglob("*.so*") if p.is_file()]
    assert objects, f"no shared object in {wheel(distribution).name}"
    bundled = {p.name for p in objects}
    for path in objects:
        missing = [library for library in needed(path)
                   if library not in SYSTEM_LIBRARIES and library not in bundled
                   and not library.startswith(TORCH_LIBRARY_PREFIXES)]
        assert not missing, f"{path.relative_to(tmp_path)} links {missing}"


def test_ref_cpu_wheel_carries_openblas_found_by_rpath(tmp_path):
    with zipfile.ZipFile(wheel("ltc-plugin-ref-cpu")) as archive:
        archive.extractall(tmp_path)
    plugin = tmp_path / "ltc_plugin_ref_cpu" / "libltc_ref_cpu.so"
    assert "libopenblas.so.0" in needed(plugin)
    assert (plugin.parent / "libopenblas.so.0").is_file()
    dynamic = subprocess.run(["readelf", "-d", str(plugin)], capture_output=True, text=True,
                             check=True).stdout
    assert "(RPATH)" in dynamic and "[$ORIGIN" in dynamic, dynamic


class Venv:
    """A fresh virtual environment that sees the packages beside this
    interpreter's torch (Debian's dist-packages, or the torch2 venv's), as
    --system-site-packages would over Debian's Python, and nothing of this
    build tree."""

    def __init__(self, path):
        import torch
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        self.python = path / "bin" / "python"
        site = subprocess.run([str(self.python), "-c",
                               "import site; print(site.getsitepackages()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        torch_site = Path(torch.__file__).resolve().parents[1]
        (Path(site) / "torch_site.pth").write_text(f"{torch_site}\n")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("LTC_", "PYTHON", "SPDLOG"))}

    def run(self, *args, check=True, timeout=600):
        result = subprocess.run([str(self.python), *map(str, args)], capture_output=True,
                                text=True, env=self.env, timeout=timeout)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result

    def pip(self, *args):
        return self.run("-m", "pip", "--disable-pip-version-check", *args)

    def plugins(self):
        return self.run("-m", "ltc_plugins", "list").stdout

    def init_error(self, backend):
        return self.run("-c", f"""
import ltc_plugins
try:
    ltc_plugins.init({backend!r})
except RuntimeError as e:
    print(e)
""").stdout


def test_pip_install_train_uninstall(tmp_path):
    venv = Venv(tmp_path / "venv")
    # The plugin alone: pip brings the host from the same directory, and
    # finds the pinned torch already installed.
    venv.pip("install", "--no-index", "--find-links", WHEEL_DIR, "ltc-plugin-ts-cpu")
    site = Path(venv.run("-c", "import ltc_plugins, os; "
                               "print(os.path.dirname(os.path.dirname(ltc_plugins.__file__)))")
                .stdout.strip())
    assert site.is_relative_to(tmp_path), f"ltc_plugins imported from {site}, not the venv"
    listing = venv.plugins()
    rows = [line.split() for line in listing.splitlines() if line.startswith("ts_cpu ")]
    assert len(rows) == 1 and rows[0][-1] == "available", listing
    assert rows[0][-2] == str(site / "ltc_plugin_ts_cpu" / "libltc_ts_cpu.so"), listing

    venv.env["LTC_BACKEND"] = "ts_cpu"
    trained = venv.run(EXAMPLES / "train_digits.py", "--epochs", "2")
    assert_digits_trained_like_eager(trained.stdout, "ts_cpu")
    del venv.env["LTC_BACKEND"]

    venv.pip("uninstall", "--yes", "ltc-plugin-ts-cpu")
    assert not (site / "ltc_plugin_ts_cpu").exists()
    assert "no backend plugin is installed" in venv.plugins()
    error = venv.init_error("ts_cpu")
    assert error.startswith('no LTC backend could be loaded for "ts_cpu"'), error
    assert "\n  ts_cpu: not found" in error, error


def test_ref_cpu_wheel_runs_a_graph(tmp_path):
    venv = Venv(tmp_path / "venv")
    venv.pip("install", "--no-index", "--find-links", WHEEL_DIR, "ltc-plugin-ref-cpu")
    ran = venv.run("-c", """
import torch, ltc_plugins
ltc_plugins.init("ref_cpu")
x = torch.arange(6.0).reshape(2, 3)
y = (x.to("lazy") @ x.t().to("lazy")).relu().cpu()
print(torch.equal(y, (x @ x.t()).relu()))
""")
    assert ran.stdout.split() == ["True"], ran.stdout + ran.stderr


def test_skeleton_wheel_from_the_installed_sdk(build_dir, tmp_path):
    """A plugin author's wheel: examples/plugin_skeleton's pyproject.toml,
    built against the SDK installed from this build, installed with the
    ltc-plugins wheel and found through its entry point."""
    prefix = tmp_path / "sdk"
    subprocess.run(["cmake", "--install", str(build_dir), "--prefix", str(prefix),
                    "--component", "sdk"], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LTC_", "PYTHON"))}
    env["CMAKE_PREFIX_PATH"] = str(prefix)
    built = subprocess.run([WHEEL_PYTHON, "-m", "pip", "wheel", "--no-build-isolation",
                            "--no-deps", "--wheel-dir", str(tmp_path / "wheels"),
                            str(EXAMPLES / "plugin_skeleton")],
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    venv = Venv(tmp_path / "venv")
    venv.pip("install", "--no-index", "--find-links", WHEEL_DIR, "--find-links",
             tmp_path / "wheels", "ltc-plugin-skeleton")
    rows = [line.split() for line in venv.plugins().splitlines()
            if line.startswith("skeleton ")]
    assert len(rows) == 1 and rows[0][-1] == "available", venv.plugins()
    ran = venv.run("-c", """
import torch, ltc_plugins
ltc_plugins.init("skeleton")
x = torch.tensor([-1.0, 2.0, -3.0])
print(((x.to("lazy") * 2 + 1).relu()).cpu().tolist())
""")
    assert ran.stdout.split() == ["[0.0,", "5.0,", "0.0]"], ran.stdout + ran.stderr
