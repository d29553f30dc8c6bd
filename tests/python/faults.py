"""A training loop that keeps going through failures, for the fault tests:
importable in the subprocesses tests/python/test_host_faults.py starts with
the faulty test plugin.

run() trains the small MLP of training.py on a fresh batch uploaded every
step, and returns what a test checks: the losses, the errors each step
raised (and where), the plugin's live objects after every step, a tensor
synced before any failure as read at the start and at the end, and the
final weights."""
import torch
import torch._lazy

import ltc_plugins


def _step(model, optimizer, x_cpu, y_cpu, synchronize):
    optimizer.zero_grad()
    x, y = x_cpu.to("lazy"), y_cpu.to("lazy")
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    ltc_plugins.mark_step(model, optimizer)
    if synchronize:
        ltc_plugins.synchronize()
    return loss


def run(steps=6, on_error="continue", synchronize=False, trace=None):
    """on_error: "continue" goes on to the next step; "retry" syncs again
    (mark_step, then reads the loss) until that works; "rerun" runs the
    failed step again; "checkpoint" loads the weights and optimizer state
    kept after the last good step and runs the failed step again.
    synchronize: waits for the plugin (ltc_plugins.synchronize()) after
    every mark_step. trace: the faulty plugin's trace file, to which each
    step appends "step <n>" before it starts."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    batches = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(steps)]
    ltc_plugins.init()
    model = model.to("lazy")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    synced = model[0].bias.detach() * 2
    torch._lazy.mark_step()
    synced_before = synced.cpu().tolist()
    checkpoint = _checkpoint(model, optimizer) if on_error == "checkpoint" else None
    losses, errors, stats = [], [], []
    step = 0
    while step < steps:
        if trace:
            with open(trace, "a") as file:
                file.write(f"step {step}\n")
        try:
            loss = _step(model, optimizer, *batches[step], synchronize)
            losses.append(loss.item())
            if on_error == "checkpoint":
                checkpoint = _checkpoint(model, optimizer)
        except RuntimeError as error:
            errors.append((step, str(error).splitlines()[0]))
            if len(errors) > 8:
                break
            if on_error == "retry":
                while True:
                    try:
                        torch._lazy.mark_step()
                        losses.append(loss.item())
                        break
                    except RuntimeError as again:
                        errors.append((step, str(again).splitlines()[0]))
                        if len(errors) > 8:
                            break
            elif on_error == "rerun":
                continue
            elif on_error == "checkpoint":
                model.load_state_dict(checkpoint[0])
                optimizer.load_state_dict(checkpoint[1])
                # The failed step's gradients are lost with it.
                optimizer.zero_grad(set_to_none=True)
                continue
        stats.append(ltc_plugins.plugin_stats())
        step += 1
    weights = [p.detach().cpu().flatten().tolist() for p in model.parameters()]
    return {"losses": losses, "errors": errors, "stats": stats,
            "synced_before": synced_before, "synced_after": synced.cpu().tolist(),
            "weights": weights}


def _checkpoint(model, optimizer):
    """Copies on the CPU of the weights and the optimizer's state."""
    state = optimizer.state_dict()
    return ({k: v.cpu() for k, v in model.state_dict().items()},
            {"state": {k: {n: (v.cpu() if isinstance(v, torch.Tensor) else v)
                           for n, v in s.items()} for k, s in state["state"].items()},
             "param_groups": state["param_groups"]})
