"""Runs the same case functions under eager, the in-tree TorchScript lazy
backend and ts_cpu, each backend in its own process, and compares.

A case module defines functions named `case_<name>(device)`; each returns a
tensor, a number, a string, or a tuple/list/dict of those. On `lazy` a case
calls `sync()` (mark_step) where a user would."""
import torch

from conftest import run_ok

# name: (initialisation, device the case runs on, environment)
BACKENDS = {
    "eager": ("", "cpu", {}),
    "intree": ("import torch._lazy.ts_backend; torch._lazy.ts_backend.init()", "lazy", {}),
    "ts_cpu": ("import ltc_plugins; assert ltc_plugins.init('ts_cpu') == 'ts_cpu'", "lazy", {}),
    # ts_cpu with its graph rewrites off: the in-tree backend's graphs, bit for bit.
    "ts_cpu_noopt": ("import ltc_plugins; assert ltc_plugins.init('ts_cpu') == 'ts_cpu'",
                     "lazy", {"LTC_TS_OPTIMIZE": "0"}),
    # The same, every graph sent as an archive rather than as IR text.
    "ts_cpu_noopt_archive": ("import ltc_plugins; assert ltc_plugins.init('ts_cpu') == 'ts_cpu'",
                             "lazy", {"LTC_TS_OPTIMIZE": "0",
                                      "LTC_GRAPH_FORMAT": "torchscript-archive-v1"}),
    "eager_cuda": ("", "cuda", {}),
    "intree_cuda": ("import torch._lazy.ts_backend; torch._lazy.ts_backend.init()", "lazy",
                    {"LTC_TS_CUDA": "1"}),
    "ts_cuda": ("import ltc_plugins; assert ltc_plugins.init('ts_cuda') == 'ts_cuda'", "lazy", {}),
}

RUNNER = """
import importlib, torch, traceback
{init}
module = importlib.import_module({module!r})
device = {device!r}

def to_cpu(value):
    if isinstance(value, torch.Tensor):
        # .cpu() first: in LibTorch 1.13 .detach() of a lazy view updated in
        # place across mark_step returns its base (both lazy backends).
        return value.cpu().detach()
    if isinstance(value, (list, tuple)):
        return [to_cpu(v) for v in value]
    if isinstance(value, dict):
        return {{k: to_cpu(v) for k, v in value.items()}}
    return value

results = {{}}
for name in sorted(n for n in dir(module) if n.startswith("case_")):
    try:
        results[name] = ("ok", to_cpu(getattr(module, name)(device)))
    except Exception as e:
        results[name] = ("error", f"{{type(e).__name__}}: {{e}}")
torch.save(results, {out!r})
"""


def run_backend(backend, module, tmp_path, env=None):
    init, device, backend_env = BACKENDS[backend]
    out = tmp_path / f"{module}-{backend}.pt"
    run_ok(RUNNER.format(init=init, module=module, device=device, out=str(out)),
           env={**backend_env, **(env or {})})
    return torch.load(out, map_location="cpu")


def same_bits(a, b):
    """Tensors with the same dtype, shape and values; NaNs match NaNs."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if torch.equal(a, b):
        return True
    if not (a.is_floating_point() or a.is_complex()):
        return False
    nan = a.isnan()
    return torch.equal(nan, b.isnan()) and torch.equal(a[~nan], b[~nan])


def identical(a, b):
    """Bit-identical values: same types, dtypes, shapes and bits."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and same_bits(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            identical(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            identical(a[k], b[k]) for k in a)
    return a == b


def close(a, b, rtol=1e-5, atol=1e-6):
    """Equal within float tolerance, dtypes and shapes exact."""
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.is_floating_point():
            return torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        return torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            close(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            close(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, float):
        return abs(a - b) <= atol + rtol * abs(b)
    return a == b
