"""The process exits cleanly, with the status the script asked for and no
crash, abort or hang, whatever it leaves behind: lazy tensors alive (synced
and half traced), a graph still running on the lazy core's worker thread or
not yet ready in the plugin, a failure nobody waited for, the profiler
recording. Each way out (sys.exit, exit(), end of script, an uncaught
exception) is tried with all of these at once, and each of these alone.

Where eager PyTorch itself crashes at exit with the profiler still
recording (2.11 does, in the profiler's static destructor, with no lazy
tensor anywhere), the profiler cases are skipped, saying so.

Not covered, as it is not ours: a daemon thread still inside a torch op
when the interpreter finalises aborts with "terminate called without an
active exception" on eager CPU tensors alike (pytorch/pytorch#38228:
CPython ends the thread with pthread_exit inside pybind11's noexcept
gil_scoped_release destructor)."""
import signal

import pytest

from conftest import BUILD_DIR, TEST_PLUGIN_DIR, run_python

FLAGS_LIBRARY = BUILD_DIR / "tests" / "support" / "libltc_test_lazy_flags.so"
# tests/plugins/faulty.cpp: ts_cpu with faults asked for in its options.
FAULTY_PLUGIN = TEST_PLUGIN_DIR / "faulty"

# What a crash at exit prints: libstdc++ on an exception escaping a thread
# or destructor, glog on a failed CHECK, the C library on a double free.
CRASH_MARKERS = ["terminate called", "Check failed", "Fatal Python error",
                 "double free", "corrupted", "Segmentation fault", "Aborted"]

# Leaves behind what the parameters ask for, prints what it left and exits
# as asked.
SCRIPT = """
import sys, torch, torch._lazy, ltc_plugins
ltc_plugins.init({backend!r}, options={options!r})
if {thread_pool}:
    torch.ops.load_library({flags!r})
    torch.ops.ltc_test.use_thread_pool(True)
if {profiler}:
    # Started and never stopped.
    profiler = torch.profiler.profile()
    profiler.start()
if {live_tensors}:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 4)).to("lazy")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 16).to("lazy"), torch.randint(0, 4, (8,)).to("lazy")
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        ltc_plugins.mark_step(model, optimizer)
    # Traced, never synced.
    pending = model(x).sum() * 2
if {pending_work}:
    # A graph that runs about a second: mark_step hands it to the lazy
    # core's worker thread (or the plugin's) and returns at once.
    a = torch.randn(512, 512).to("lazy")
    for _ in range(40):
        a = (a @ a).tanh()
    torch._lazy.mark_step()
print({{"live_tensors": ltc_plugins.live_tensors(),
       "profiler": torch.autograd._profiler_enabled()}}, flush=True)
{exit}
"""

EXITS = {
    "sys_exit": ("sys.exit(3)", 3),
    "builtin_exit": ("exit(4)", 4),
    "end_of_script": ("", 0),
    "exception": ("raise ValueError('the script failed here')", 1),
}


def run_and_exit(exit_code, left, backend="ts_cpu", options=None, env=None):
    """Runs SCRIPT leaving behind what `left` asks for (its keys: thread_pool,
    profiler, live_tensors, pending_work), then exiting by `exit_code`."""
    flags = {k: left.get(k, False) for k in ["thread_pool", "profiler", "live_tensors",
                                            "pending_work"]}
    script = SCRIPT.format(backend=backend, options=options or {}, flags=str(FLAGS_LIBRARY),
                           exit=exit_code, **flags)
    # A hang shows as subprocess.TimeoutExpired, failing the test.
    return run_python(script, env=env, timeout=120)


def assert_clean_exit(result, status, left):
    """The script got to its end with what `left` asked for still there,
    and the process then exited with `status` and printed no crash."""
    output = f"status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode >= 0, \
        f"killed by {signal.Signals(-result.returncode).name}\n{output}"
    assert result.returncode == status, output
    for marker in CRASH_MARKERS:
        assert marker not in result.stderr, output
    found = result.values()
    has_tensors = left.get("live_tensors", False) or left.get("pending_work", False)
    assert (found["live_tensors"] > 0) == has_tensors, output
    assert found["profiler"] == left.get("profiler", False), output


EVERYTHING = {"thread_pool": True, "live_tensors": True, "pending_work": True}


@pytest.fixture(scope="session")
def profiler_at_exit():
    """Skips the test if eager PyTorch, no lazy tensor involved, crashes at
    exit with the profiler still recording."""
    import torch
    result = run_python("""
        import torch
        profiler = torch.profiler.profile()
        profiler.start()
        print((torch.randn(4, 4) @ torch.randn(4, 4)).sum().item())
    """)
    if result.returncode < 0:
        pytest.skip(f"torch {torch.__version__} crashes at exit with the profiler recording, "
                    f"eager alone ({signal.Signals(-result.returncode).name})")


def exits_as_asked(way, left):
    code, status = EXITS[way]
    result = run_and_exit(code, left)
    assert_clean_exit(result, status, left)
    if way == "exception":
        assert "Traceback (most recent call last)" in result.stderr
        assert "ValueError: the script failed here" in result.stderr


@pytest.mark.parametrize("way", EXITS)
def test_exits_as_asked_with_everything_left_running(build_dir, way):
    exits_as_asked(way, EVERYTHING)


@pytest.mark.parametrize("way", EXITS)
def test_exits_as_asked_with_everything_and_the_profiler_left_running(build_dir, profiler_at_exit,
                                                                     way):
    exits_as_asked(way, {**EVERYTHING, "profiler": True})


@pytest.mark.parametrize("left", [{"live_tensors": True},
                                  {"pending_work": True, "thread_pool": True}],
                         ids=["live_tensors", "pending_work"])
def test_exits_cleanly_at_end_of_script_with_one_thing_left(build_dir, left):
    assert_clean_exit(run_and_exit("", left), 0, left)


def test_exits_cleanly_at_end_of_script_with_the_profiler_left(build_dir, profiler_at_exit):
    left = {"profiler": True}
    assert_clean_exit(run_and_exit("", left), 0, left)


def faulty(options):
    """run_and_exit's arguments for the faulty plugin with `options`."""
    if not (FAULTY_PLUGIN / "libltc_faulty.so").exists():
        pytest.fail(f"the faulty test plugin is not built in {FAULTY_PLUGIN}")
    return {"backend": "faulty", "options": options,
            "env": {"LTC_PLUGIN_PATH": str(FAULTY_PLUGIN)}}


# faulty's results become ready this long after execute returns, marked by
# a thread of the plugin's: far longer than the script takes to exit.
PENDING_MS = 3000


@pytest.mark.parametrize("way", ["end_of_script", "exception"])
@pytest.mark.parametrize("fails", [False, True], ids=["results_pending", "failure_pending"])
def test_exits_cleanly_with_the_plugin_still_computing(build_dir, way, fails):
    # When the interpreter exits, the plugin still holds the last graph's
    # results as not ready (and, with `fails`, an asynchronous failure that
    # nobody has waited for).
    options = {"complete_after_ms": PENDING_MS}
    if fails:
        options.update(fail_call="execute", fail_async=True)
    code, status = EXITS[way]
    left = {"pending_work": True}
    assert_clean_exit(run_and_exit(code, left, **faulty(options)), status, left)


def test_an_uncaught_plugin_error_exits_with_status_1_and_its_traceback(build_dir):
    # mark_step raises the plugin's execute failure and nothing catches it.
    left = {"pending_work": True}
    result = run_and_exit("", left, **faulty({"fail_call": "execute"}))
    assert result.returncode == 1, result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: ltc: running a graph on CPU0 failed" in result.stderr
    assert "faulty: execute: INTERNAL: injected failure of execute call 1" in result.stderr
    for marker in CRASH_MARKERS:
        assert marker not in result.stderr, result.stderr


def test_exits_as_asked_with_a_failure_never_waited_for(build_dir):
    # The graph fails on the lazy core's worker thread; the lazy core keeps
    # the error for the next sync, which never comes.
    left = {"pending_work": True, "thread_pool": True}
    result = run_and_exit("sys.exit(3)", left, **faulty({"fail_call": "execute"}))
    assert_clean_exit(result, 3, left)
