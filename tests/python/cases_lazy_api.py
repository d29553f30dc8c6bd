"""Programs that use the torch._lazy API; their results must be the same
under ts_cpu as under the in-tree backend."""
import os
import tempfile

import torch
import torch._lazy
import torch._lazy.config
import torch._lazy.debug
import torch._lazy.ir_cache
import torch._lazy.metrics as metrics


def step(x, w):
    return (x @ w).relu().sum(dim=0)


def data(device):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(4, 5, generator=g).to(device), torch.randn(5, 3, generator=g).to(device))


def case_mark_step_and_wait_device_ops(device):
    x, w = data(device)
    y = step(x, w)
    torch._lazy.mark_step()
    torch._lazy.wait_device_ops()
    return y


def case_mark_step_wait_true(device):
    x, w = data(device)
    y = step(x, w) * 2
    torch._lazy.mark_step(wait=True)
    return y


def case_sync_multi(device):
    x, w = data(device)
    a, b = step(x, w), (x * 3).sum()
    torch._lazy.sync_multi([a, b], devices=[])
    return [a, b]


def case_get_tensor_id(device):
    x, w = data(device)
    y = x + 1
    ids = [torch._lazy.get_tensor_id(t) for t in (x, w, y)]
    return {"distinct": len(set(ids)) == 3, "stable": torch._lazy.get_tensor_id(y) == ids[2],
            "ints": all(isinstance(i, int) for i in ids)}


def case_to_cpu(device):
    x, w = data(device)
    tree = {"a": step(x, w), "b": [x * 2, (w - 1,)]}
    cpu = torch._lazy.to_cpu(tree)
    return [cpu["a"], cpu["b"][0], cpu["b"][1][0], str(cpu["a"].device)]


def case_save(device):
    x, w = data(device)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.pt")
        torch._lazy.save([step(x, w), x], path)
        loaded = torch.load(path)
    return loaded + [str(loaded[0].device)]


def case_step_closures(device):
    x, w = data(device)
    seen = []
    y = step(x, w)
    torch._lazy.add_step_closure(lambda t: seen.append(t.cpu()), args=(y,))
    torch._lazy.add_step_closure(lambda: seen.append("second"))
    before = len(seen)
    torch._lazy.mark_step()
    return [before, len(seen), seen[0], seen[1]]


def case_compile_counters(device):
    metrics.reset()
    x, w = data(device)
    for _ in range(4):
        w = w * 0.5 + 0.1
        torch._lazy.mark_step()
    x = x + 1
    torch._lazy.mark_step()
    return {name: metrics.counter_value(name)
            for name in ("CachedCompile", "UncachedCompile", "MarkStep")}


def case_ir_cache_and_reuse(device):
    torch._lazy.ir_cache.reset()
    torch._lazy.config.set_reuse_ir(True)
    try:
        metrics.reset()
        x, w = data(device)
        results = []
        for _ in range(3):
            results.append(step(x, w))
            torch._lazy.mark_step()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cache.dot")
            torch._lazy.ir_cache.dump(path)
            dumped = os.path.getsize(path) > 0
        counters = {name: metrics.counter_value(name)
                    for name in ("CachedCompile", "UncachedCompile", "IrNodeReused_torch::lazy::AddTensor")}
        return results + [dumped, counters]
    finally:
        torch._lazy.config.set_reuse_ir(False)
        torch._lazy.ir_cache.reset()


def case_dump_ir_text_and_backend(device):
    x, w = data(device)
    y = step(x, w) + 2
    return {"text": torch._lazy.debug.dump_ir([y], "text").splitlines()[1:],
            "backend": torch._lazy.debug.dump_ir([y], "backend"),
            "dot_has_nodes": "->" in torch._lazy.debug.render_ir_graph([y]),
            "hash": torch._C._lazy._get_graph_hash([y])}


def case_counter_names(device):
    x, w = data(device)
    step(x, w)
    torch._lazy.mark_step()
    return sorted(n for n in metrics.counter_names() if not n.startswith("Plugin"))
