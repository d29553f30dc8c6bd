"""make wheels: the Python wheels of ltc-plugins, built with scikit-build-core
against the torch of the interpreter that runs this script.

    build_wheels.py --out DIR --build-dir DIR [--work DIR] [--jobs N]

One wheel per distribution below: ltc-plugins (the host and the Python
package) and one per plugin, each a CMake install component of this source
tree configured with LTC_WHEEL=ON (the wheels' layout). All share one CMake
build directory, so the second and later wheels only link and install.

A wheel's pyproject.toml is written here, into --work, rather than kept in
the tree, because its dependencies name the torch found now: a plugin that
links LibTorch runs only with the torch whose headers it was compiled
against, so the wheels pin it (torch==<its public version>; Debian's own
1.13 reports 1.13.0a0). Building needs scikit-build-core in this
interpreter: pip builds without isolation, so that the torch compiled
against is this one, not a fresh one from PyPI.
"""
import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
ENTRY_POINT_GROUP = "ltc_plugins.backends"
SCIKIT_BUILD_CORE = "scikit-build-core==0.11.6"


def project_version():
    text = (SOURCE / "CMakeLists.txt").read_text()
    return re.search(r"project\(ltc_plugins VERSION ([0-9.]+)", text).group(1)


def torch_facts():
    """(public version, CMake prefix or None, CUDA version or None)."""
    import torch
    from packaging.version import Version
    torch_dir = Path(torch.__file__).parent
    # pip's torch carries its CMake config; Debian's is in the system's.
    prefix = torch_dir if (torch_dir / "share" / "cmake" / "Torch").is_dir() else None
    return Version(torch.__version__).public, prefix, torch.version.cuda


def distributions(version, torch_pin, cuda):
    """name -> (summary, install components, build targets, dependencies,
    plugin name or None)."""
    host = f"ltc-plugins=={version}"
    dists = {
        "ltc-plugins": ("LTC backend host for PyTorch: loads ltc-plugins backend plugins",
                        ["host", "python"], ["ltc_host"], [torch_pin], None),
        "ltc-plugin-ts-cpu": ("ltc-plugins backend: TorchScript on the CPU",
                              ["ts_cpu"], ["ltc_ts_cpu"], [host, torch_pin], "ts_cpu"),
        "ltc-plugin-ref-cpu": ("ltc-plugins backend: reference CPU kernels, no LibTorch",
                               ["ref_cpu"], ["ltc_ref_cpu"], [host], "ref_cpu"),
    }
    if cuda:
        dists["ltc-plugin-ts-cuda"] = ("ltc-plugins backend: TorchScript on CUDA GPUs",
                                       ["ts_cuda"], ["ltc_ts_cuda"], [host, torch_pin],
                                       "ts_cuda")
    return dists


def toml_list(values):
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def pyproject(name, version, spec, build_dir, jobs, defines):
    summary, components, targets, dependencies, plugin = spec
    lines = [
        "# Written by packaging/wheels/build_wheels.py (make wheels).",
        "[build-system]",
        f'requires = ["{SCIKIT_BUILD_CORE}"]',
        'build-backend = "scikit_build_core.build"',
        "",
        "[project]",
        f'name = "{name}"',
        f'version = "{version}"',
        f'description = "{summary}"',
        'requires-python = ">=3.9"',
        f"dependencies = {toml_list(dependencies)}",
    ]
    if plugin:
        lines += ["", f'[project.entry-points."{ENTRY_POINT_GROUP}"]',
                  f'{plugin} = "ltc_plugin_{plugin}:manifest"']
    lines += [
        "",
        "[tool.scikit-build]",
        'minimum-version = "0.11"',
        f'cmake.source-dir = "{SOURCE}"',
        f'build-dir = "{build_dir}"',
        # The build tree's own type, so that ccache serves its objects;
        # install strips them.
        'cmake.build-type = "RelWithDebInfo"',
        "install.strip = true",
        f"build.targets = {toml_list(targets)}",
        f'build.tool-args = ["-j{jobs}"]',
        f"install.components = {toml_list(components)}",
        "wheel.packages = []",
        "wheel.license-files = []",
        "",
        "[tool.scikit-build.cmake.define]",
    ]
    lines += [f'{key} = "{value}"' for key, value in defines.items()]
    return "\n".join(lines) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the wheels go")
    parser.add_argument("--build-dir", type=Path, required=True,
                        help="the CMake build directory all wheels share")
    parser.add_argument("--work", type=Path, help="where the pyproject.toml files are written "
                        "(default: <build-dir>-src)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (2)")
    args = parser.parse_args(argv)
    build_dir = args.build_dir.resolve()
    work = (args.work or build_dir.with_name(build_dir.name + "-src")).resolve()

    try:
        import scikit_build_core  # noqa: F401
    except ImportError:
        sys.exit(f"build_wheels.py: {sys.executable} has no scikit-build-core "
                 f"(pip install {SCIKIT_BUILD_CORE})")
    version = project_version()
    torch_version, torch_prefix, cuda = torch_facts()
    torch_pin = f"torch=={torch_version}"
    defines = {
        "LTC_WHEEL": "ON",
        "LTC_BUILD_TESTS": "OFF",
        "LTC_TS_CUDA": "ON" if cuda else "OFF",
        "CMAKE_INSTALL_LIBDIR": "ltc_plugins/lib",
        "LTC_INSTALL_PYTHONDIR": ".",
        "CMAKE_C_COMPILER_LAUNCHER": "ccache",
        "CMAKE_CXX_COMPILER_LAUNCHER": "ccache",
    }
    if torch_prefix:
        # The torch directory itself: its lib/ is then searched before the
        # system's, where another LibTorch may be (Debian's).
        defines["CMAKE_PREFIX_PATH"] = str(torch_prefix)
    print(f"build_wheels.py: ltc-plugins {version} for {torch_pin}"
          f"{' (CUDA ' + cuda + ')' if cuda else ''}, Python {sys.version.split()[0]}; "
          f"CMake build directory {build_dir}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in distributions(version, torch_pin, cuda).items():
        source = work / name
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        (source / "pyproject.toml").write_text(pyproject(name, version, spec, build_dir, args.jobs,
                                                              defines))
        for old in args.out.glob(f"{name.replace('-', '_')}-*.whl"):
            old.unlink()
        log = work / f"{name}.log"
        started = time.monotonic()
        with log.open("w") as out:
            built = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                 "--no-cache-dir", "-v", "--wheel-dir", str(args.out), str(source)],
                stdout=out, stderr=subprocess.STDOUT)
        if built.returncode != 0:
            tail = log.read_text().splitlines()[-40:]
            sys.exit(f"build_wheels.py: {name} failed; the end of {log}:\n" + "\n".join(tail))
        wheel, = args.out.glob(f"{name.replace('-', '_')}-{version}-*.whl")
        print(f"  {wheel.name} ({wheel.stat().st_size / 2**20:.1f} MiB, "
              f"{time.monotonic() - started:.0f} s; log {log})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
