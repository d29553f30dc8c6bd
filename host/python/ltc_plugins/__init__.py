"""ltc_plugins: run PyTorch's Lazy Tensor Core through a backend plugin.

    import ltc_plugins, torch
    ltc_plugins.init()                      # LTC_BACKEND, else "ts_cpu"
    x = torch.ones(3, device="lazy") * 2    # traced, run by the plugin
    torch._lazy.mark_step()

Environment:
    LTC_BACKEND       plugin name, absolute path to a plugin's .so, or a
                      comma-separated preference list (default: ts_cpu)
    LTC_PLUGIN_OPTIONS  client options, "name=value,..." (ts_cpu.pool_mb=512
                      applies to ts_cpu only); init(options=...) wins
    LTC_PLUGIN_PATH   colon-separated directories searched before the
                      plugins of installed distributions (entry points in
                      the group ltc_plugins.backends) and those installed
                      next to libltc_host.so
    LTC_PLUGIN_ENTRY_POINTS  "0" ignores the entry points (hermetic runs)
    LTC_HOST_LIBRARY  path of libltc_host.so, to override the one found
                      relative to this package
    SPDLOG_LEVEL      e.g. "ltc=debug" to see how the plugin was chosen
"""
import functools
import os
from pathlib import Path
import threading

import torch

from . import _layout

__version__ = _layout.VERSION

__all__ = ["init", "backend", "plugins", "manual_seed", "host_library",
           "drop_update_history", "mark_step", "live_tensors", "plugin_stats",
           "synchronize", "gap_kernels"]

_lock = threading.Lock()
_loaded = False


def host_library() -> str:
    """Path of libltc_host.so: $LTC_HOST_LIBRARY, else the one of the tree
    this package is part of, where the build put it relative to this
    package (_layout.py: <prefix>/lib/libltc_host.so, or Debian's
    /usr/lib/<triplet>/libltc_host.so)."""
    override = os.environ.get("LTC_HOST_LIBRARY")
    if override:
        return override
    return os.path.normpath(Path(__file__).resolve().parent / _layout.HOST_LIBRARY)


def _load_host() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        path = host_library()
        if not os.path.exists(path):
            raise RuntimeError(
                f"ltc_plugins: libltc_host.so not found at {path}; "
                "set LTC_HOST_LIBRARY to its path")
        torch.ops.load_library(path)
        torch.ops.ltc.set_entry_points(*_entry_point_sources())
        _loaded = True


ENTRY_POINT_GROUP = "ltc_plugins.backends"


def _entry_point_sources():
    """The (paths, origins, errors, plugins) lists ltc::set_entry_points
    takes: one per entry point of the group ltc_plugins.backends, whose
    name is a plugin's and which returns the path of its manifest. An entry
    point that fails (does not import, raises, names no file) becomes that
    plugin's rejection reason, naming its distribution; it never fails
    this import."""
    if os.environ.get("LTC_PLUGIN_ENTRY_POINTS") == "0":
        return [], [], [], []
    from importlib import metadata
    sources = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        origin = (f"entry point {entry_point.name} of {dist.metadata['Name']} {dist.version}"
                  if dist is not None else f"entry point {entry_point.name}")
        path, error = "", ""
        try:
            path = os.fspath(entry_point.load()())
            if not os.path.isfile(path):
                path, error = "", f"its manifest {path} does not exist"
        except Exception as e:  # a broken plugin must not break this package
            error = f"{type(e).__name__}: {e}"
        sources.append((entry_point.name, origin, path, error))
    # In a fixed order: the first of two same-named plugins is the one used.
    sources.sort()
    return ([path for _, _, path, _ in sources], [origin for _, origin, _, _ in sources],
            [error for _, _, _, error in sources], [name for name, _, _, _ in sources])


def _option_lists(options):
    """The (names, types, values) lists ltc::init_with_options takes."""
    names, types, values = [], [], []
    for name, value in (options or {}).items():
        # bool before int: True is an int too.
        if isinstance(value, bool):
            kind, text = "bool", "true" if value else "false"
        elif isinstance(value, int):
            kind, text = "int", str(value)
        elif isinstance(value, float):
            kind, text = "float", repr(value)
        elif isinstance(value, str):
            kind, text = "str", value
        else:
            raise TypeError(f"ltc_plugins.init: option {name!r} is a "
                            f"{type(value).__name__}; options are bool, int, float or str")
        names.append(str(name))
        types.append(kind)
        values.append(text)
    return names, types, values


def init(backend: str = None, options: dict = None) -> str:
    """Loads the backend plugin and makes it the lazy core's backend.

    `backend` has LTC_BACKEND's syntax; None or "" means LTC_BACKEND, else
    "ts_cpu". `options` are the plugin's client options by name (bool, int,
    float or str values), e.g. {"pool_mb": 512}; they override
    LTC_PLUGIN_OPTIONS, and a plugin refuses options it does not know,
    naming the ones it does. Returns the name of the plugin in use. Calling
    it again with the same request and options returns the same name.
    Raises RuntimeError naming every directory searched and why each
    candidate was rejected when no plugin can be loaded."""
    _load_host()
    name = torch.ops.ltc.init_with_options(backend or "", *_option_lists(options))
    _forward_manual_seed()
    return name


def manual_seed(seed: int) -> None:
    """Seeds the plugin's random number generators (torch.manual_seed does
    this too once init() has run)."""
    _load_host()
    seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
    # The op takes an int64; the plugin reads the same 64 bits unsigned.
    torch.ops.ltc.set_rng_seed(seed - (1 << 64) if seed >= 1 << 63 else seed)


def _forward_manual_seed() -> None:
    """Makes torch.manual_seed also seed the plugin: LibTorch's lazy core
    never calls its backend's SetRngSeed, so a plugin with generators of its
    own would otherwise never see the user's seed."""
    with _lock:
        original = torch.random.manual_seed
        if getattr(original, "_ltc_forwards_seed", False):
            return

        @functools.wraps(original)
        def seed_torch_and_plugin(seed):
            generator = original(seed)
            manual_seed(seed)
            return generator

        seed_torch_and_plugin._ltc_forwards_seed = True
        torch.random.manual_seed = seed_torch_and_plugin
        torch.manual_seed = seed_torch_and_plugin


def backend() -> str:
    """The name of the plugin in use, or "" before init()."""
    _load_host()
    return torch.ops.ltc.backend()


def plugins() -> list:
    """Every plugin the host can find, as `ltc-plugins list` shows them:
    dicts with name, version, abi, path, available (bool), reason, vendor,
    graph_formats (list, most preferred first) and libtorch ("" for a
    plugin that links none). Lists without initialising any device."""
    _load_host()
    rows = []
    for row in torch.ops.ltc.plugins():
        entry = dict(row)
        entry["available"] = entry["available"] == "yes"
        entry["graph_formats"] = [f for f in entry["graph_formats"].split(",") if f]
        rows.append(entry)
    return rows


def plugin_stats() -> dict:
    """The counters of the plugin in use (init() first): live_buffers,
    live_executables, compiles and executes; {} for a plugin that keeps
    none. Live counts that keep growing across training steps are a leak."""
    _load_host()
    return dict(torch.ops.ltc.plugin_stats())


def gap_kernels() -> list:
    """The operators the host decomposes at the lazy core's dispatch key
    (init() first): those this PyTorch's lazy core has no lowering for,
    among the split family, ReLU6/hardswish/hardsigmoid and their
    backwards, the common losses and Adam's lerp. Each would otherwise
    fall back to eager, syncing the graph or returning CPU tensors."""
    _load_host()
    return list(torch.ops.ltc.gap_kernels())


def synchronize() -> None:
    """Waits until the plugin has finished the work queued on its devices
    (mark_step may return before a plugin has computed the results), and
    raises, once, a failure that happened there since: as a RuntimeError
    naming the plugin and client_synchronize. Reading a result waits for
    that result alone."""
    _load_host()
    torch.ops.ltc.synchronize()


def live_tensors() -> int:
    """How many lazy tensors are alive, on any lazy backend: the lazy
    core's own registry, the tensors mark_step syncs. After warm-up, a
    training loop that does not leak keeps it exactly flat across steps."""
    _load_host()
    return torch.ops.ltc.live_tensors()


def _lazy_tensors_of(objects):
    """The tensors in `objects`: tensors, modules (parameters, their grads,
    buffers), optimizers (parameters, their grads, state) and iterables of
    these."""
    for obj in objects:
        if isinstance(obj, torch.Tensor):
            yield obj
            if obj.grad is not None:
                yield obj.grad
        elif isinstance(obj, torch.nn.Module):
            yield from _lazy_tensors_of(obj.parameters())
            yield from obj.buffers()
        elif isinstance(obj, torch.optim.Optimizer):
            for group in obj.param_groups:
                yield from _lazy_tensors_of(group["params"])
            for state in obj.state.values():
                yield from (v for v in state.values() if isinstance(v, torch.Tensor))
        elif obj is not None:
            yield from _lazy_tensors_of(obj)


def drop_update_history(*objects) -> int:
    """Frees the old values PyTorch 1.13 keeps for every in-place op on a
    lazy tensor.

    LibTorch 1.13's functionalization records each value an in-place op
    replaces (param.add_, grad accumulation, zero_grad, optimizer state) and
    never frees it; mark_step then computes and stores every one. A training
    step of a 1024-wide MLP so leaks about 40 MB and gets slower with every
    step. This folds the record into each tensor (views stay correct) so the
    old values die. Pass tensors, modules, optimizers or iterables of them;
    returns how many tensors had a record. Needed on 1.13 only (PyTorch 2.x
    frees these values itself; there the call finds nothing); works with
    any lazy backend."""
    _load_host()
    tensors = [t for t in _lazy_tensors_of(objects) if t.device.type == "lazy"]
    return torch.ops.ltc.drop_update_history(tensors)


def mark_step(*objects) -> None:
    """drop_update_history(*objects), then torch._lazy.mark_step(): e.g.
    ltc_plugins.mark_step(model, optimizer) at the end of a training step."""
    import torch._lazy
    drop_update_history(*objects)
    torch._lazy.mark_step()

