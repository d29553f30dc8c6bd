"""Plugins installed as Python distributions: each declares an entry point
in the group ltc_plugins.backends, named after its plugin, that returns the
path of its manifest. The host searches them after LTC_PLUGIN_PATH and
before its own directory; a broken one is a reason, never an import error.

The distribution here is made by hand (a .dist-info directory on
PYTHONPATH), as pip would install one."""
import shutil
import textwrap

import pytest

from conftest import HERE, PLUGIN_DIR, PYTHONPATH, TEST_PLUGIN_DIR, run_ok, run_python

ORIGIN = "entry point {} of fake-backends 0.1"

LIST = """
import ltc_plugins
print({"rows": {row["name"] + " " + row["path"]: row for row in ltc_plugins.plugins()}})
"""


@pytest.fixture
def site(tmp_path, build_dir):
    """A site directory holding the distribution fake-backends 0.1, with
    entry points for a working plugin (the loader tests' `good`), one
    that does not import, one naming a missing manifest, and a second ts_cpu
    (a copy of the build's, in its own directory)."""
    copy = tmp_path / "ts_cpu_copy"
    copy.mkdir()
    shutil.copy(PLUGIN_DIR / "libltc_ts_cpu.so", copy)
    shutil.copy(PLUGIN_DIR / "ts_cpu.ltcplugin", copy)
    site = tmp_path / "site"
    info = site / "fake_backends-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-backends\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [ltc_plugins.backends]
        good = fake_backends:good
        broken_import = fake_missing_module:manifest
        no_file = fake_backends:no_file
        ts_cpu = fake_backends:ts_cpu
    """))
    (site / "fake_backends.py").write_text(textwrap.dedent(f"""
        def good():
            return {str(TEST_PLUGIN_DIR / "good" / "good.ltcplugin")!r}
        def no_file():
            return "/nonexistent/no_file.ltcplugin"
        def ts_cpu():
            return {str(copy / "ts_cpu.ltcplugin")!r}
    """))
    return site, copy


def env_with(site, **extra):
    return {"PYTHONPATH": f"{PYTHONPATH}:{site}:{HERE}", **extra}


def rows(site, **extra):
    return run_ok(LIST, env=env_with(site, **extra)).values()["rows"]


def test_entry_point_plugins_are_listed(site):
    site, copy = site
    listed = rows(site)
    good = listed[f"good {TEST_PLUGIN_DIR / 'good' / 'libltc_good.so'}"]
    assert good["available"], good
    assert listed[f"ts_cpu {copy / 'libltc_ts_cpu.so'}"]["available"]
    assert listed[f"ts_cpu {PLUGIN_DIR / 'libltc_ts_cpu.so'}"]["available"]


def test_a_broken_entry_point_is_a_reason_naming_its_distribution(site):
    site, _ = site
    listed = rows(site)
    broken = listed["broken_import "]
    assert not broken["available"]
    assert broken["reason"] == (ORIGIN.format("broken_import") +
                                ": ModuleNotFoundError: No module named 'fake_missing_module'")
    assert listed["no_file "]["reason"] == (
        ORIGIN.format("no_file") + ": its manifest /nonexistent/no_file.ltcplugin does not exist")
    result = run_python("""
        import ltc_plugins
        try:
            ltc_plugins.init("broken_import")
        except RuntimeError as e:
            print({"error": str(e)})
    """, env=env_with(site))
    assert result.returncode == 0, result.stderr
    error = result.values()["error"]
    assert ("\n  broken_import: " + ORIGIN.format("broken_import") +
            ": ModuleNotFoundError") in error, error
    assert f"  searched: " in error and ORIGIN.format("broken_import") + " (" in error, error


def test_the_first_of_two_same_named_plugins_wins_with_a_warning(site):
    site, copy = site
    result = run_python("""
        import ltc_plugins
        print({"name": ltc_plugins.init("ts_cpu")})
    """, env=env_with(site))
    assert result.returncode == 0, result.stderr
    assert result.values()["name"] == "ts_cpu"
    assert ("plugin ts_cpu is found in 2 places, in search order: "
            f"{copy / 'ts_cpu.ltcplugin'} ({ORIGIN.format('ts_cpu')}), "
            f"{PLUGIN_DIR / 'ts_cpu.ltcplugin'} (next to libltc_host.so); "
            "the first that loads is used") in result.stderr, result.stderr
    assert f"LTC backend ts_cpu 0.1.0 from {copy / 'libltc_ts_cpu.so'}" in result.stderr


def test_ltc_plugin_path_comes_before_entry_points(site, tmp_path):
    site, copy = site
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(PLUGIN_DIR / "libltc_ts_cpu.so", first)
    shutil.copy(PLUGIN_DIR / "ts_cpu.ltcplugin", first)
    result = run_python("""
        import ltc_plugins
        ltc_plugins.init("ts_cpu")
    """, env=env_with(site, LTC_PLUGIN_PATH=str(first)))
    assert result.returncode == 0, result.stderr
    assert f"LTC backend ts_cpu 0.1.0 from {first / 'libltc_ts_cpu.so'}" in result.stderr


def test_entry_points_can_be_turned_off(site):
    site, _ = site
    listed = rows(site, LTC_PLUGIN_ENTRY_POINTS="0")
    assert not any(key.startswith(("good ", "broken_import ", "no_file ")) for key in listed)
    assert [key for key in listed if key.startswith("ts_cpu ")] == [
        f"ts_cpu {PLUGIN_DIR / 'libltc_ts_cpu.so'}"]


def test_python_m_ltc_plugins_list_shows_them(site):
    site, _ = site
    result = run_python("import runpy, sys; sys.argv = ['ltc_plugins', 'list']; "
                        "runpy.run_module('ltc_plugins', run_name='__main__')",
                        env=env_with(site))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "VERSION", "ABI"]
    good = [line for line in lines if line.startswith("good ")]
    assert len(good) == 1 and good[0].endswith("available"), result.stdout
    broken = [line for line in lines if line.startswith("broken_import ")]
    assert len(broken) == 1 and "unavailable: " + ORIGIN.format("broken_import") in broken[0]
