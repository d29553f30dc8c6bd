"""torch.profiler sees the host's calls into the plugin, also when the lazy
core executes on its own worker thread; independent lazy programs on
several threads all get their own right results.

Tracing is serialised in the thread test: LibTorch 1.13's lazy core races
when one thread's mark_step syncs another thread's tensors while that thread
is tracing (the in-tree backend segfaults on the unserialised program). What
runs concurrently is what the host and plugin must survive: graphs executing
on the lazy core's worker thread while other threads trace, upload and
download."""
import pytest

from conftest import BUILD_DIR, run_ok

FLAGS_LIBRARY = BUILD_DIR / "tests" / "support" / "libltc_test_lazy_flags.so"
EVENTS = ["ltc::compile", "ltc::execute", "ltc::from_device", "ltc::to_device"]

PROFILE = """
import torch, torch._lazy, ltc_plugins
from torch.profiler import profile
ltc_plugins.init()
if {thread_pool}:
    torch.ops.load_library({flags!r})
    torch.ops.ltc_test.use_thread_pool(True)
x = torch.randn(8, 8)
with profile() as prof:
    y = (x.to("lazy") @ x.to("lazy")).relu()
    torch._lazy.mark_step()
    torch._lazy.wait_device_ops()
    result = y.cpu()
events = {{}}
for event in prof.events():
    if event.name.startswith("ltc::"):
        events.setdefault(event.name, set()).add(event.thread)
print({{"events": {{k: sorted(v) for k, v in events.items()}},
       "right": torch.equal(result, (x @ x).relu())}})
"""


@pytest.mark.parametrize("thread_pool", [False, True], ids=["inline", "worker_thread"])
def test_profiler_shows_plugin_calls(build_dir, thread_pool):
    values = run_ok(PROFILE.format(thread_pool=thread_pool, flags=str(FLAGS_LIBRARY))).values()
    assert values["right"]
    assert sorted(values["events"]) == EVENTS
    caller = values["events"]["ltc::to_device"]
    if thread_pool:
        assert values["events"]["ltc::execute"] != caller, \
            "the graph should have run on the lazy core's worker thread"
    else:
        assert values["events"]["ltc::execute"] == caller


THREADS = """
import threading, torch, torch._lazy, ltc_plugins
ltc_plugins.init()
if {thread_pool}:
    torch.ops.load_library({flags!r})
    torch.ops.ltc_test.use_thread_pool(True)

trace_lock = threading.Lock()

def program(seed, device):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(16, 16, generator=g).to(device).requires_grad_()
    x = torch.randn(4, 16, generator=g).to(device)
    results = []
    for step in range(10):
        with trace_lock:
            loss = ((x @ w).tanh() * (seed + 1)).pow(2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
                w.grad.zero_()
            if device == "lazy":
                torch._lazy.mark_step()
            results.append(loss.detach())
    with trace_lock:
        return torch.stack(results).cpu(), w.detach().cpu()

outcomes = {{}}
def worker(seed):
    try:
        outcomes[seed] = program(seed, "lazy")
    except Exception as e:
        outcomes[seed] = repr(e)

threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
for t in threads: t.start()
for t in threads: t.join()
report = {{}}
for seed in range(4):
    expected = program(seed, "cpu")
    got = outcomes[seed]
    report[seed] = (not isinstance(got, str)
                    and torch.allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)
                    and torch.allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)) or str(got)[:300]
print(report)
"""


@pytest.mark.parametrize("thread_pool", [False, True], ids=["inline", "worker_thread"])
def test_four_threads_with_mark_step_each(build_dir, thread_pool):
    values = run_ok(THREADS.format(thread_pool=thread_pool, flags=str(FLAGS_LIBRARY))).values()
    assert values == {0: True, 1: True, 2: True, 3: True}
