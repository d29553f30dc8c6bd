"""Helpers for tests that need a fresh process: the lazy core holds one
backend per process, so every scenario runs in its own interpreter."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BUILD_DIR = Path(os.environ.get("LTC_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
PLUGIN_DIR = BUILD_DIR / "lib" / "ltc-plugins"
TEST_PLUGIN_DIR = BUILD_DIR / "tests" / "plugins"
PYTHONPATH = BUILD_DIR / "lib" / "python3" / "dist-packages"
HERE = Path(__file__).resolve().parent


def _abi():
    """The ABI version of plugin_api.h, "MAJOR.MINOR", as manifests and
    listings write it."""
    header = (HERE.parents[1] / "plugin_api" / "include" / "ltc" / "plugin_api.h").read_text()
    major, minor = (re.search(rf"#define LTC_PLUGIN_ABI_{part} (\d+)", header).group(1)
                    for part in ("MAJOR", "MINOR"))
    return f"{major}.{minor}"


ABI = _abi()


class Result:
    def __init__(self, completed):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def values(self):
        """The dict the script printed on its last stdout line."""
        import ast
        return ast.literal_eval(self.stdout.strip().splitlines()[-1])


def assert_digits_trained_like_eager(stdout, backend, epochs=2):
    """examples/train_digits.py's output: it ran on `backend`, and each of
    `epochs` epochs' lazy loss is eager's within float tolerance."""
    assert f"lazy backend: {backend}" in stdout, stdout
    rows = [line.split() for line in stdout.splitlines()
            if line.split() and line.split()[0] in {str(e) for e in range(1, epochs + 1)}]
    assert len(rows) == epochs, stdout
    for _, eager_loss, lazy_loss, *_ in rows:
        assert abs(float(eager_loss) - float(lazy_loss)) <= 1e-3, stdout


def child_env(env=None, pythonpath=PYTHONPATH):
    """This environment with LTC_* cleared unless given in `env`, and the
    build's Python package and this folder on PYTHONPATH."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("LTC_") and k != "SPDLOG_LEVEL"}
    full_env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(HERE)])
    full_env.update(env or {})
    return full_env


def run_python(code, env=None, pythonpath=PYTHONPATH, timeout=300):
    """Runs `code` in a fresh interpreter, with LTC_* cleared from the
    environment unless given in `env`."""
    full_env = child_env(env, pythonpath)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env,
        capture_output=True, text=True, timeout=timeout)
    return Result(completed)


def run_ok(code, **kwargs):
    result = run_python(code, **kwargs)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def build_dir():
    if not (BUILD_DIR / "lib" / "libltc_host.so").exists():
        pytest.fail(f"no build at {BUILD_DIR}: run `make test`")
    return BUILD_DIR
