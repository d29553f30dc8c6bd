"""A small training loop used by several tests, importable in subprocesses.

run(device) trains an MLP for a few SGD steps from fixed weights and data,
and returns the per-step losses and the final weights as lists. With
drop_update_history, each step ends with ltc_plugins.mark_step(model,
optimizer) instead of torch._lazy.mark_step()."""
import torch
import torch._lazy


def run(device, steps=5, backend_init=None, drop_update_history=False):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    x = torch.randn(8, 16)
    y = torch.randint(0, 4, (8,))
    if backend_init is not None:
        backend_init()
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        if device == "lazy" and drop_update_history:
            import ltc_plugins
            ltc_plugins.mark_step(model, optimizer)
        elif device == "lazy":
            torch._lazy.mark_step()
        losses.append(loss.item())
    weights = [p.detach().cpu().flatten().tolist() for p in model.parameters()]
    return losses, weights
