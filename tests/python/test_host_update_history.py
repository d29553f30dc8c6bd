"""ltc_plugins.drop_update_history / mark_step: the old values LibTorch
1.13's functionalization keeps for every in-place op on a lazy tensor die,
training results stay bit for bit what they were, and views of an updated
tensor still see every update."""
from conftest import run_ok

TRAIN = """
    import torch, torch._lazy, torch._lazy.metrics as metrics, ltc_plugins
    ltc_plugins.init()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 4)).to("lazy")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 16).to("lazy"), torch.randint(0, 4, (8,)).to("lazy")

    def live():
        return metrics.counter_value("CreateLtcTensor") - metrics.counter_value("DestroyLtcTensor")

    live_after, losses = [], []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        {mark_step}
        losses.append(loss.item())
        live_after.append(live())
    print({{"live": live_after, "losses": losses, "torch": torch.__version__,
           "weights": [p.detach().cpu().flatten().tolist() for p in model.parameters()]}})
"""


def test_old_values_die_and_results_stay_the_same(build_dir):
    kept = run_ok(TRAIN.format(mark_step="torch._lazy.mark_step()")).values()
    dropped = run_ok(TRAIN.format(mark_step="ltc_plugins.mark_step(model, optimizer)")).values()

    # After the optimizer's state exists (step 2), each step leaves exactly
    # as many lazy tensors alive as the one before.
    assert len(set(dropped["live"][2:])) == 1, dropped["live"]
    if kept["torch"].startswith("1.13"):
        # The leak being worked around: more live tensors after every step.
        assert all(a < b for a, b in zip(kept["live"][2:], kept["live"][3:])), kept["live"]
    assert dropped["live"][-1] < kept["live"][-1] or not kept["torch"].startswith("1.13")
    assert dropped["losses"] == kept["losses"]
    assert dropped["weights"] == kept["weights"]


def test_views_of_an_updated_tensor_see_every_update(build_dir):
    script = """
        import torch, torch._lazy, ltc_plugins
        ltc_plugins.init()
        def run(device, drop):
            base = torch.zeros(6, device=device)
            view = base[1:4]
            base.add_(1)
            view.mul_(3)
            base.add_(1)
            found = drop(base)
            torch._lazy.mark_step()
            first = (base.cpu().tolist(), view.cpu().tolist())
            view.add_(10)
            drop(view)
            torch._lazy.mark_step()
            return found, first, (base.cpu().tolist(), view.cpu().tolist())
        found, *lazy = run("lazy", ltc_plugins.drop_update_history)
        _, *eager = run("cpu", lambda t: 0)
        print({"found": found, "lazy": lazy, "eager": eager, "torch": torch.__version__})
    """
    values = run_ok(script).values()
    assert values["lazy"] == values["eager"]
    assert values["eager"][0] == ([2, 4, 4, 4, 2, 2], [4, 4, 4])
    if values["torch"].startswith("1.13"):
        assert values["found"] == 1


def test_accepts_tensors_modules_optimizers_and_ignores_other_devices(build_dir):
    values = run_ok("""
        import torch, ltc_plugins
        ltc_plugins.init()
        model = torch.nn.Linear(2, 2).to("lazy")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        cpu = torch.zeros(2)
        cpu.add_(1)
        untouched = ltc_plugins.drop_update_history(model, optimizer, [cpu], None)
        with torch.no_grad():
            model.weight.add_(1)
        print({"untouched": untouched,
               "updated": ltc_plugins.drop_update_history([[model]], cpu),
               "again": ltc_plugins.drop_update_history(model),
               "torch": torch.__version__})
    """).values()
    # PyTorch 2.x keeps no record to drop.
    updated = 1 if values.pop("torch").startswith("1.13") else 0
    assert values == {"untouched": 0, "updated": updated, "again": 0}
