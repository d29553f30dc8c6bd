"""End to end: user code on `lazy`, through libltc_host.so and ts_cpu."""
import pytest

from conftest import run_ok, run_python, PLUGIN_DIR, TEST_PLUGIN_DIR

TRAIN = """
import torch, training, ltc_plugins
{init}
losses, weights = training.run({device!r})
print({{"losses": losses, "weights": weights}})
"""


def train(device, init="", env=None):
    return run_ok(TRAIN.format(device=device, init=init), env=env).values()


@pytest.fixture(scope="module")
def eager(build_dir):
    return train("cpu")


@pytest.fixture(scope="module")
def in_tree(build_dir):
    return train("lazy", init="import torch._lazy.ts_backend; torch._lazy.ts_backend.init()")


@pytest.fixture(scope="module")
def plugin(build_dir):
    return train("lazy", init="assert ltc_plugins.init() == 'ts_cpu'")


@pytest.fixture(scope="module")
def plugin_without_rewrites(build_dir):
    return train("lazy", init="assert ltc_plugins.init() == 'ts_cpu'",
                 env={"LTC_TS_OPTIMIZE": "0"})


def test_training_matches_eager(eager, plugin):
    assert len(plugin["losses"]) == len(eager["losses"]) == 5
    assert plugin["losses"] == pytest.approx(eager["losses"], rel=1e-5, abs=1e-6)
    for ours, theirs in zip(plugin["weights"], eager["weights"]):
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)
    assert plugin["losses"][-1] < plugin["losses"][0], "the model did not learn"


def test_training_without_rewrites_is_bit_identical_to_in_tree_backend(
        in_tree, plugin_without_rewrites):
    assert plugin_without_rewrites["losses"] == in_tree["losses"]
    assert plugin_without_rewrites["weights"] == in_tree["weights"]


def test_training_with_rewrites_matches_in_tree_backend(in_tree, plugin):
    assert plugin["losses"] == pytest.approx(in_tree["losses"], rel=1e-6, abs=1e-7)
    for ours, theirs in zip(plugin["weights"], in_tree["weights"]):
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)


def test_plugin_counters_move(build_dir):
    values = run_ok("""
        import torch, torch._lazy, torch._lazy.metrics as metrics, training, ltc_plugins
        ltc_plugins.init()
        training.run("lazy", steps=3)
        names = ["PluginCompile", "PluginExecute", "PluginToDevice", "PluginFromDevice"]
        print({n: metrics.counter_value(n) for n in names})
    """).values()
    assert values["PluginCompile"] >= 1
    assert values["PluginExecute"] >= 3, "one execution per mark_step at least"
    assert values["PluginToDevice"] >= 1
    assert values["PluginFromDevice"] >= 3, "each loss.item() reads back"


@pytest.mark.parametrize("format_env, archives", [(None, 0), ("torchscript-archive-v1", "all")])
def test_graphs_cross_as_ir_text_unless_archives_are_asked_for(build_dir, format_env, archives):
    values = run_ok("""
        import torch, torch._lazy, torch._lazy.metrics as metrics, training, ltc_plugins
        ltc_plugins.init()
        training.run("lazy", steps=3)
        print({n: metrics.counter_value(n) or 0 for n in ["PluginCompile", "PluginCompileArchive"]})
    """, env={"LTC_GRAPH_FORMAT": format_env} if format_env else None).values()
    assert values["PluginCompile"] >= 2
    assert values["PluginCompileArchive"] == (values["PluginCompile"] if archives == "all" else 0)


def test_a_plugin_that_reads_only_archives_gets_archives(build_dir):
    script = """
        import torch, torch._lazy, torch._lazy.metrics as metrics, training, ltc_plugins
        ltc_plugins.init()
        losses, weights = training.run("lazy", steps=3)
        print({"losses": losses, "weights": weights,
               **{n: metrics.counter_value(n) or 0 for n in ["PluginCompile", "PluginCompileArchive"]}})
    """
    archive_only = run_ok(script, env={
        "LTC_PLUGIN_PATH": str(TEST_PLUGIN_DIR / "ts_archive_only"),
        "LTC_BACKEND": "ts_archive_only"}).values()
    ts_cpu = run_ok(script).values()
    # The first graph is offered as IR text, refused, and sent again as an
    # archive; every later one goes as an archive straight away.
    assert archive_only["PluginCompile"] >= 2
    assert archive_only["PluginCompileArchive"] == archive_only["PluginCompile"]
    assert (archive_only["losses"], archive_only["weights"]) == (ts_cpu["losses"], ts_cpu["weights"])


def test_an_unknown_graph_format_is_refused_with_the_known_ones(build_dir):
    result = run_python("""
        import ltc_plugins
        ltc_plugins.init()
    """, env={"LTC_GRAPH_FORMAT": "onnx"})
    assert result.returncode != 0
    assert ("LTC_GRAPH_FORMAT=onnx is not a graph format this host writes "
            "(ltc-graph-v1, torchscript-ir-v1, torchscript-archive-v1)") in result.stderr


def test_graphs_with_constants_tuples_and_scalars(build_dir):
    values = run_ok("""
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init()
        x = torch.randn(6, 5)
        ops = {
            "topk": lambda t: torch.topk(t, 2, dim=1),
            "sort": lambda t: torch.sort(t, dim=0, descending=True),
            "max_dim": lambda t: torch.max(t, dim=1),
            "scalar_param": lambda t: (t * 0.37 + 2.5,),
            "tensor_constant": lambda t: (t.clamp(min=-0.25) * 1 + 0,),
            "bool_mask": lambda t: (t.masked_fill(t > 0.5, 7.0), t > 0),
            "int_ops": lambda t: ((t * 10).to(torch.int64) // 3,),
        }
        result = {}
        for name, fn in ops.items():
            expected = fn(x)
            got = fn(x.to("lazy"))
            torch._lazy.mark_step()
            result[name] = all(torch.equal(e, g.cpu()) and e.dtype == g.dtype
                               for e, g in zip(expected, got))
        print(result)
    """).values()
    assert all(values.values()), values


def test_buffers_are_released(build_dir):
    values = run_ok("""
        import gc, re, torch, torch._lazy, training, ltc_plugins
        ltc_plugins.init()
        def live():
            gc.collect()
            torch._lazy.mark_step()
            report = torch._C._lazy._metrics_report()
            return int(re.search(r"live buffers (\\d+)", report).group(1))
        # A first run fills the lazy core's caches of scalar constants.
        training.run("lazy", steps=3)
        warm = live()
        tensors = [torch.full((4,), float(i)).to("lazy") for i in range(10)]
        during = live()
        del tensors
        training.run("lazy", steps=3)
        training.run("lazy", steps=5)
        print({"warm": warm, "during": during, "after": live()})
    """).values()
    assert values["during"] - values["warm"] == 10, values
    assert values["after"] == values["warm"], values


def test_cpp_api_header_and_python_agree(build_dir):
    values = run_ok("""
        import torch, ltc_plugins
        print({"before": ltc_plugins.backend(), "init": ltc_plugins.init("ts_cpu"),
               "again": ltc_plugins.init(), "after": ltc_plugins.backend()})
    """).values()
    assert values == {"before": "", "init": "ts_cpu", "again": "ts_cpu", "after": "ts_cpu"}
