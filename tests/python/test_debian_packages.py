"""The Debian packages of `make packages`, installed and removed the way apt
would, into a scratch root (dpkg --root) so that the machine is not touched.
The scratch database starts as a copy of the machine's, so the packages'
dependencies on LibTorch, Python and the rest are checked for real against
what is installed, and ours against each other.

LTC_TEST_PACKAGE_DIR: the directory of the .deb files (make test passes
$(BUILD)/packages); without it these tests are skipped, saying so."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import assert_digits_trained_like_eager, run_python

PACKAGE_DIR = os.environ.get("LTC_TEST_PACKAGE_DIR")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MULTIARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True).stdout.strip()

pytestmark = pytest.mark.skipif(
    not PACKAGE_DIR, reason="no LTC_TEST_PACKAGE_DIR: make test builds the packages "
                            "(make packages) against Debian's LibTorch and names them")


def deb(package):
    matches = sorted(Path(PACKAGE_DIR).glob(f"{package}_*.deb"))
    assert len(matches) == 1, f"{package}: {matches} in {PACKAGE_DIR}"
    return matches[0]


def field(package, name):
    return subprocess.run(["dpkg-deb", "-f", str(deb(package)), name], capture_output=True,
                          text=True, check=True).stdout.strip()


class Root:
    """A directory dpkg installs into, with a database of its own."""

    def __init__(self, path):
        self.path = path
        admin = path / "var" / "lib" / "dpkg"
        for sub in ("info", "updates", "triggers"):
            (admin / sub).mkdir(parents=True)
        shutil.copy("/var/lib/dpkg/status", admin / "status")
        (admin / "available").touch()
        self.libdir = path / "usr" / "lib" / MULTIARCH
        self.python = path / "usr" / "lib" / "python3" / "dist-packages"

    def dpkg(self, *args):
        return subprocess.run(["dpkg", f"--root={self.path}", "--log=/dev/null",
                               "--force-script-chrootless", *map(str, args)],
                              capture_output=True, text=True)

    def install(self, *packages):
        result = self.dpkg("--install", *[deb(p) for p in packages])
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def remove(self, package):
        result = self.dpkg("--remove", package)
        assert result.returncode == 0, result.stdout + result.stderr

    def list_plugins(self):
        return subprocess.run([str(self.path / "usr" / "bin" / "ltc-plugins"), "list"],
                              capture_output=True, text=True, check=True, env={}).stdout

    def init_error(self, backend="ts_cpu"):
        result = run_python(f"""
            import ltc_plugins
            try:
                ltc_plugins.init({backend!r})
            except RuntimeError as e:
                print({{"error": str(e)}})
        """, pythonpath=self.python)
        assert result.returncode == 0, result.stderr
        return result.values()["error"]


@pytest.fixture
def root(tmp_path):
    return Root(tmp_path / "root")


def test_plugins_depend_on_the_abi_the_host_provides():
    assert field("ltc-plugins-host", "Provides") == "ltc-plugin-abi-2"
    for plugin in ("ltc-plugin-ts-cpu", "ltc-plugin-ts-cuda", "ltc-plugin-ref-cpu"):
        assert "ltc-plugin-abi-2" in field(plugin, "Depends").split(", "), plugin
    # From dpkg-shlibdeps: the TorchScript plugins link LibTorch, ref_cpu not.
    assert "libtorch" in field("ltc-plugin-ts-cpu", "Depends")
    assert "libtorch" not in field("ltc-plugin-ref-cpu", "Depends")
    assert field("python3-ltc-plugins", "Architecture") == "all"


def test_a_plugin_without_the_host_is_refused_by_dpkg(root):
    result = root.dpkg("--install", deb("ltc-plugin-ts-cpu"))
    assert result.returncode != 0
    assert "depends on ltc-plugin-abi-2; however:" in result.stderr, result.stderr
    assert "Package ltc-plugin-abi-2 is not installed" in result.stderr


def test_install_host_then_ts_cpu_trains_then_remove_it(root):
    root.install("ltc-plugins-host", "python3-ltc-plugins", "ltc-plugins-cli")
    assert (root.libdir / "libltc_host.so").exists()
    plugin_dir = root.libdir / "ltc-plugins"
    listing = root.list_plugins()
    assert f"{plugin_dir} (next to libltc_host.so; does not exist)" in listing, listing
    assert "no backend plugin is installed" in listing, listing
    error = root.init_error()
    assert error.startswith('no LTC backend could be loaded for "ts_cpu"'), error
    assert f"searched: {plugin_dir} (next to libltc_host.so; does not exist)" in error, error
    assert "\n  ts_cpu: not found" in error, error

    root.install("ltc-plugin-ts-cpu")
    assert (plugin_dir / "ts_cpu.ltcplugin").exists()
    listing = root.list_plugins()
    assert "available" in [line.split()[-1] for line in listing.splitlines()
                           if line.startswith("ts_cpu ")], listing
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    env["PYTHONPATH"] = str(root.python)
    trained = subprocess.run(["/usr/bin/python3", str(EXAMPLES / "train_digits.py"),
                              "--epochs", "2"], capture_output=True, text=True, env=env,
                             timeout=600)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert_digits_trained_like_eager(trained.stdout, "ts_cpu")

    root.remove("ltc-plugin-ts-cpu")
    assert not (plugin_dir / "libltc_ts_cpu.so").exists()
    assert not (plugin_dir / "ts_cpu.ltcplugin").exists()
    assert "no backend plugin is installed" in root.list_plugins()
    assert "\n  ts_cpu: not found" in root.init_error()


def test_sdk_package_builds_the_skeleton(root, tmp_path):
    """The -dev package as extracted: find_package finds the SDK in it."""
    root.install("ltc-plugins-host", "ltc-plugins-dev")
    build = tmp_path / "skeleton"
    for args in (["-S", EXAMPLES / "plugin_skeleton", "-B", build, "-G", "Ninja",
                  f"-DCMAKE_PREFIX_PATH={root.path / 'usr'}"], ["--build", build]):
        result = subprocess.run(["cmake", *map(str, args)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    assert (build / "ltc-plugins" / "libltc_skeleton.so").exists()
    assert (build / "ltc-plugins" / "skeleton.ltcplugin").exists()
