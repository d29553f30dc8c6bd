"""Scalars in traced ops (learning rate, momentum, alpha, constants) reach
the plugin as scalar buffers. The host keeps one buffer per distinct scalar:
steady training steps upload none, and no two values or types share one."""
from conftest import run_ok


def test_steady_training_steps_upload_no_scalars(build_dir):
    values = run_ok("""
        import torch, torch._lazy, torch._lazy.metrics as metrics, ltc_plugins
        ltc_plugins.init()
        torch.manual_seed(0)
        model = torch.nn.Linear(8, 4).to("lazy")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(16, 8).to("lazy")
        def step():
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
            torch._lazy.mark_step()
        for _ in range(3):
            step()
        before = metrics.counter_value("PluginToDevice")
        for _ in range(5):
            step()
        print({"uploads": metrics.counter_value("PluginToDevice") - before})
    """).values()
    assert values["uploads"] == 0


def test_each_scalar_value_and_type_gets_its_own_buffer(build_dir):
    values = run_ok("""
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init()
        floats = torch.linspace(-2, 2, 5)
        ints = torch.arange(-2, 3)
        cases = [(floats, 2.5), (floats, 3.5), (floats, 1e-300), (floats, -3.0),
                 (floats.double(), 2.5), (ints, 3), (ints, 5), (ints, -3)]
        right = []
        for _ in range(2):  # the second round finds every scalar known
            for tensor, scalar in cases:
                got = tensor.to("lazy").mul(scalar).add(scalar, alpha=2)
                torch._lazy.mark_step()
                expected = tensor.mul(scalar).add(scalar, alpha=2)
                right.append(torch.equal(got.cpu(), expected) and got.dtype == expected.dtype)
        print({"right": right})
    """).values()
    assert all(values["right"]), values
