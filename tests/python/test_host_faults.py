"""What a user sees when the backend fails in the middle of training, or
breaks the ABI's contract: the faulty test plugin (tests/plugins/faulty.cpp,
ts_cpu underneath) fails the call a test names, and faults.run() trains
through it. Every scenario runs in its own interpreter, which must exit
normally: no failure may take the process down."""
import math

import pytest

from conftest import TEST_PLUGIN_DIR, run_ok

STEPS = 4


def faulty(options):
    """The environment that selects the faulty plugin with `options`."""
    return {"LTC_PLUGIN_PATH": str(TEST_PLUGIN_DIR / "faulty"), "LTC_BACKEND": "faulty",
            "LTC_PLUGIN_OPTIONS": options}


def train(options="", on_error="continue", synchronize=False):
    return run_ok(f"""
        import faults
        print(repr(faults.run(steps={STEPS}, on_error={on_error!r},
                              synchronize={synchronize})))
    """, env=faulty(options)).values()


@pytest.fixture(scope="module")
def clean(build_dir):
    """The run nothing fails in, per on_error (the modes read differently)."""
    return {mode: train(on_error=mode) for mode in ("continue", "checkpoint")}


def assert_close(actual, expected):
    for got, want in zip(actual, expected):
        assert len(got) == len(want)
        assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(got, want))


# (fault options, how the loop recovers, whether it calls synchronize, the
# step the failure surfaces at, the call it names, the plugin's message)
CASES = {
    "compile": ("fail_call=compile,fail_at=2", "continue", False, 0,
                "compile", "injected failure of compile call 2"),
    "execute": ("fail_call=execute,fail_at=3", "continue", False, 1,
                "execute", "injected failure of execute call 3"),
    "execute, synced again": ("fail_call=execute,fail_at=3", "retry", False, 1,
                              "execute", "injected failure of execute call 3"),
    "to_device": ("fail_call=to_device,fail_at=10", "rerun", False, 1,
                  "buffer_from_host", "injected failure of to_device call 10"),
    "to_host": ("fail_call=to_host,fail_at=3", "retry", False, 1,
                "buffer_to_host", "injected failure of to_host call 3"),
    "placeholder": ("fail_call=placeholder,fail_at=40", "continue", False, 1,
                    "buffer_create_placeholder", "injected failure of placeholder call 40"),
    "synchronize": ("fail_call=synchronize,fail_at=2", "continue", True, 1,
                    "client_synchronize", "injected failure of synchronize call 2"),
    # Asynchronous failures lose the failed graph's results (the plugin
    # reports them after execute returned): the loop reloads its checkpoint.
    "execute async, seen reading the loss": (
        "fail_call=execute,fail_at=8,fail_async=true", "checkpoint", False, 2,
        "buffer_to_host", "injected failure of execute call 8 (async)"),
    "execute async, seen at synchronize": (
        "fail_call=execute,fail_at=8,fail_async=true", "checkpoint", True, 2,
        "client_synchronize", "injected failure of execute call 8 (async)"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_failure_surfaces_once_and_training_recovers(clean, case):
    options, on_error, synchronize, step, call, message = CASES[case]
    result = train(options, on_error, synchronize)
    reference = clean["checkpoint" if on_error == "checkpoint" else "continue"]

    # Raised once, where it happened, naming the plugin, the call and the
    # plugin's own message; no later sync raises it again.
    assert len(result["errors"]) == 1, result["errors"]
    failed_at, error = result["errors"][0]
    assert failed_at == step
    assert f"faulty: {call}: INTERNAL: {message}" in error
    # A tensor synced before the failure reads back unchanged.
    assert result["synced_after"] == result["synced_before"]
    # Every step ran, and the weights are those of the run nothing failed in.
    assert len(result["stats"]) == STEPS
    assert_close(result["weights"], reference["weights"])
    # The plugin holds what the clean run holds: the failure kept nothing
    # alive. Running a step again or reloading a checkpoint may compile one
    # more graph (the aborted trace's pending zero_grad joins the next step;
    # gradients start from None again), which stays cached like every other.
    assert result["stats"][-1]["live_buffers"] == reference["stats"][-1]["live_buffers"]
    extra_graphs = 1 if on_error in ("rerun", "checkpoint") else 0
    assert (reference["stats"][-1]["live_executables"] <= result["stats"][-1]["live_executables"]
            <= reference["stats"][-1]["live_executables"] + extra_graphs)


def test_failures_in_a_row_each_surface_once(clean):
    result = train("fail_call=execute,fail_at=3,fail_times=2")
    assert [step for step, _ in result["errors"]] == [1, 2]
    assert "execute call 4" in result["errors"][1][1]
    assert_close(result["weights"], clean["continue"]["weights"])


def test_failed_sync_says_nothing_is_lost_and_keeps_the_plugins_code(build_dir):
    result = train("fail_call=execute,fail_at=3,fail_code=8")
    error = result["errors"][0][1]
    assert "nothing is lost" in error
    assert "faulty: execute: RESOURCE_EXHAUSTED: injected failure of execute call 3" in error


def test_lost_values_say_why_when_used_again(build_dir):
    """Without reloading a checkpoint, an asynchronous failure's results stay
    lost, and each later use says which failure lost them."""
    result = run_ok("""
        import faults
        try:
            faults.run(steps=4, on_error="continue")
        except RuntimeError as error:
            print(repr(str(error).splitlines()[0]))
    """, env=faulty("fail_call=execute,fail_at=3,fail_async=true")).values()
    assert "has no value: the graph that computed it failed: faulty: buffer_to_host" in result
    assert "injected failure of execute call 3 (async)" in result
    assert "nothing is lost" not in result


# break_contract value -> what the error must say. Each breaks one rule of
# plugin_api.h on every call of the slot concerned.
BREACHES = {
    "null_result": "faulty: execute: INTERNAL: succeeded but left result 0 of",
    "result_count": "plugin faulty broke the contract of client_compile: its executable takes",
    "null_message": "faulty: execute: INTERNAL: (no message: error_get_message gave NULL)",
    "null_deleter": "faulty: buffer_to_host: INTERNAL: returned a tensor with no deleter",
    "bad_dlpack": "faulty: buffer_to_host: INTERNAL: returned a malformed DLPack tensor: ndim is -1",
    "throws": "faulty: execute: INTERNAL: broke the ABI's contract: threw a C++ exception through "
              "the C ABI instead of returning an error (faulty threw this across the C ABI)",
}


@pytest.mark.parametrize("breach", BREACHES)
def test_broken_contract_is_named_and_survived(build_dir, breach):
    options = f"break_contract={breach}"
    if breach == "null_message":
        options += ",fail_call=execute,fail_at=1,fail_times=1000"
    result = run_ok("""
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init()
        kept = torch.arange(4.0).to("lazy")
        errors, stats = [], []
        for attempt in range(3):
            try:
                y = (kept * 3).relu()
                torch._lazy.mark_step()
                y.cpu()
                errors.append(None)
            except RuntimeError as error:
                errors.append(str(error).splitlines()[0])
            stats.append(ltc_plugins.plugin_stats()["live_buffers"])
        print(repr({"errors": errors, "stats": stats}))
    """, env=faulty(options)).values()
    # Named every time it happens, and later attempts hold exactly the plugin
    # buffers the first one did: nothing leaked.
    for error in result["errors"]:
        assert error is not None and BREACHES[breach] in error, result["errors"]
    assert len(set(result["stats"])) == 1, result["stats"]
