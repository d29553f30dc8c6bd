"""Runs PyTorch's OpInfo database on `device='lazy'` under one LTC backend
and records every result, for the differential conformance suite.

    run_ops.py BACKEND OUT [--ops NAME ...] [--samples K | --all-samples]

BACKEND is `intree` (torch._lazy.ts_backend.init()) or a plugin name for
ltc_plugins.init() (`ts_cpu`). The lazy core holds one backend per process,
so each backend gets a process of its own; compare.py compares two OUTs.

Cases, for each op (its function variant) and each dtype of DTYPES the op
supports on the CPU (the first of EXTRA_DTYPES where it supports none):
  fwd   the op on lazy inputs; its outputs, brought back to the CPU
  bwd   (differentiable dtypes) the outputs, and the gradients of the
        inputs from sum(floating outputs).backward()
over a deterministic subset of the op's samples: the first --samples ones,
the first with a 0-dim tensor, the first with a zero-size tensor, and
"nc<i>", a non-contiguous variant of the first sample with a tensor of two
or more elements. "nc" makes its tensors non-contiguous on the lazy device
(a strided slice of a lazy tensor twice as wide): moving a non-contiguous
CPU tensor to `lazy` copies it contiguous. Every case runs twice eagerly on
the CPU and twice on `lazy`, seeded alike over differently dirtied memory,
so compare.py knows how strictly the op repeats itself.

OUT is a stream of pickled records, one per op, appended as each op
finishes. The command is a driver: it runs the ops in a worker process and,
should a case kill the worker (a signal, an abort) or hang, records that
case as crashed in OUT.crashed and starts a new worker on the ops left,
which records the crashed case instead of running it again.
"""
import argparse
import gc
import os
import pickle
import signal
import subprocess
import sys
import time
import zlib

DTYPES = ("float32", "float64", "int64", "bool", "complex64")
# Ops that support none of DTYPES run with the first of these they support.
EXTRA_DTYPES = ("complex128", "complex32", "float16", "bfloat16", "int32", "uint8")
DEFAULT_SAMPLES = 2
CASE_TIMEOUT_S = 180
ERROR_CHARS = 240


def op_key(op):
    return op.name + ("." + op.variant_test_name if op.variant_test_name else "")


def load_op_db():
    from torch.testing._internal.common_methods_invocations import op_db
    return op_db


# -- the worker -----------------------------------------------------------

def init_backend(backend):
    import torch._lazy
    if backend == "intree":
        import torch._lazy.ts_backend
        torch._lazy.ts_backend.init()
    else:
        import ltc_plugins
        name = ltc_plugins.init(backend)
        assert name == backend, (name, backend)


def tensors_in(value):
    import torch
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)


def sample_tensors(sample):
    return list(tensors_in([sample.input, sample.args, sample.kwargs]))


def can_be_noncontiguous(tensor):
    return tensor.dim() >= 1 and tensor.numel() >= 2


def select_samples(samples, limit):
    """Indices of the samples to run: the first `limit` (all if None), the
    first with a 0-dim tensor, the first with a zero-size tensor; and the
    index of the sample to make non-contiguous (or None)."""
    chosen = list(range(len(samples) if limit is None else min(limit, len(samples))))
    tensors = [sample_tensors(s) for s in samples]
    for wanted in (lambda t: t.dim() == 0, lambda t: t.numel() == 0):
        if not any(any(wanted(t) for t in tensors[i]) for i in chosen):
            first = next((i for i, ts in enumerate(tensors)
                          if any(wanted(t) for t in ts)), None)
            if first is not None:
                chosen.append(first)
    noncontiguous = next((i for i, ts in enumerate(tensors)
                          if any(can_be_noncontiguous(t) for t in ts)), None)
    return sorted(chosen), noncontiguous


def placements(op, dtype, samples):
    """For each sample, whether OpInfo puts each of its tensors on the device
    under test (True) or on the CPU whatever the device (False: the indices
    of tensor_split, narrow, ...), told by generating the samples on `meta`;
    None where that cannot be told (every tensor goes to the device)."""
    try:
        meta = list(op.sample_inputs("meta", dtype, requires_grad=False))
    except Exception:  # noqa: BLE001 - some generators need values
        return [None] * len(samples)
    if len(meta) != len(samples):
        return [None] * len(samples)
    found = []
    for sample, on_meta in zip(samples, meta):
        tensors, meta_tensors = sample_tensors(sample), sample_tensors(on_meta)
        found.append([t.device.type == "meta" for t in meta_tensors]
                     if len(tensors) == len(meta_tensors) else None)
    return found


class Inputs:
    """A sample's tensors on a device (those that `on_device` marks False
    stay on the CPU). Leaves that need a gradient are kept in order so their
    gradients can be read back."""

    def __init__(self, sample, device, noncontiguous, grad, on_device=None):
        import torch
        self.leaves = []
        count = iter(range(1 << 30))

        def move(value):
            if isinstance(value, torch.Tensor):
                index = next(count)
                if on_device is not None and not on_device[index]:
                    return value.detach()
                return self._move(value, device, noncontiguous, grad)
            if isinstance(value, list):
                return [move(v) for v in value]
            if isinstance(value, tuple):
                return tuple(move(v) for v in value)
            if isinstance(value, dict):
                return {k: move(v) for k, v in value.items()}
            return value

        self.input = move(sample.input)
        self.args = move(sample.args)
        self.kwargs = move(sample.kwargs)

    def _move(self, tensor, device, noncontiguous, grad):
        wants_grad = grad and tensor.requires_grad
        base = tensor.detach()
        strided = noncontiguous and can_be_noncontiguous(base)
        if strided:
            base = base.repeat_interleave(2, dim=-1)
        base = base.to(device)
        if wants_grad:
            base.requires_grad_(True)
            self.leaves.append(base)
        return base[..., ::2] if strided else base

    def grads(self):
        return [leaf.grad for leaf in self.leaves]


def float_outputs(value):
    return [t for t in tensors_in(value)
            if t.requires_grad and (t.is_floating_point() or t.is_complex())]


def run_case(op, sample, device, noncontiguous, kind, on_device=None):
    """Runs one case on `device`; returns what it produced, on the CPU."""
    try:
        return run_case_once(op, sample, device, noncontiguous, kind, on_device)
    except Exception:
        if device == "lazy":
            forget_failure()
        raise


def forget_failure():
    """Consumes the copy of a failed graph's error that the lazy core's device
    lock keeps and raises again at the next sync, so that every case is judged
    on its own. The in-tree backend keeps it; the ltc host drops it itself
    (tests/python/test_host_faults.py)."""
    import torch
    try:
        torch._C._lazy._wait_device_ops([])
    except Exception:  # noqa: BLE001 - the copy of the error already recorded
        pass


def run_case_once(op, sample, device, noncontiguous, kind, on_device):
    import torch
    import torch._lazy
    torch.manual_seed(0)
    inputs = Inputs(sample, device, noncontiguous, grad=(kind == "bwd"),
                    on_device=on_device)
    out = op(inputs.input, *inputs.args, **inputs.kwargs)
    if kind == "bwd":
        out = sample.output_process_fn_grad(out)
        outputs = float_outputs(out)
        if not outputs:
            raise NoGradient("no output of a floating type requires grad")
        # A complex output counts with its real and imaginary parts, viewed
        # as real after the sum: zero-size complex tensors do not view.
        total = sum(torch.view_as_real(t.sum()).sum() if t.is_complex() else t.sum()
                    for t in outputs)
        total.backward()
        result = (out, inputs.grads())
    else:
        result = out
    if device == "lazy":
        torch._lazy.mark_step()
    return to_cpu(result)


class NoGradient(Exception):
    pass


def to_cpu(value):
    """`value` with every tensor brought to the CPU as an EncodedTensor."""
    import torch
    from compare import encode
    if isinstance(value, torch.Tensor):
        # .cpu() before .detach(): in LibTorch 1.13, .detach() of a lazy
        # view updated in place across mark_step returns its base.
        tensor = value.to("cpu").detach()
        # A view of a lazy tensor comes back wrapped for functionalization.
        if torch._is_functional_tensor(tensor):
            torch._sync(tensor)
            tensor = torch._from_functional_tensor(tensor)
        return encode(tensor)
    if isinstance(value, (list, tuple)):
        items = [to_cpu(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (int, float, bool, complex, str, type(None),
                          torch.dtype, torch.Size, torch.device)):
        return value
    return repr(value)


def describe(error):
    text = f"{type(error).__name__}: {error}".strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        # TorchScript's interpreter puts the cause on the last line.
        text = f"{lines[0]} ... {lines[-1]}"
    return text[:ERROR_CHARS]


def fallback_counts():
    """LTC's per-op eager fallback counters ("aten::<op>")."""
    import torch
    return {name: torch._C._lazy._counter_value(name)
            for name in torch._C._lazy._counter_names() if name.startswith("aten::")}


def seed_everything(seed):
    """Sample generators draw from torch's, Python's and NumPy's RNGs."""
    import random
    import numpy
    import torch
    torch.manual_seed(seed)
    random.seed(seed)
    numpy.random.seed(seed)


def fingerprint(sample):
    """A digest of a sample's inputs, so the comparison can tell a runner
    that drew different inputs from a backend that computed differently."""
    from compare import encode

    def canonical(value):
        import torch
        if isinstance(value, torch.Tensor):
            tensor = encode(value.detach())
            return ("tensor", tensor.dtype, tensor.shape, zlib.crc32(tensor.data))
        if isinstance(value, (list, tuple)):
            return tuple(canonical(v) for v in value)
        if isinstance(value, dict):
            return tuple((k, canonical(v)) for k, v in sorted(value.items()))
        return repr(value)

    return zlib.crc32(repr(canonical([sample.input, sample.args, sample.kwargs])).encode())


def tolerances(op):
    """{dtype name: (atol, rtol)} from the op's toleranceOverride decorators,
    the loosest where several apply."""
    from torch.testing._internal.common_device_type import toleranceOverride
    found = {}
    for info in op.decorators:
        for decorator in getattr(info, "decorators", [info]):
            if isinstance(decorator, toleranceOverride):
                for dtype, tol in decorator.d.items():
                    name = str(dtype).replace("torch.", "")
                    atol, rtol = found.get(name, (0.0, 0.0))
                    found[name] = (max(atol, tol.atol), max(rtol, tol.rtol))
    return found


def not_comparable(op):
    """True where OpInfo itself says the op's results cannot be compared
    (it returns uninitialised memory: empty, empty_like, new_empty, ...): a
    skip whose reason is "Expected: <op> is not comparable"."""
    wanted = f"Expected: {op.name} is not comparable"
    for info in op.decorators:
        for decorator in getattr(info, "decorators", [info]):
            for cell in getattr(decorator, "__closure__", None) or ():
                try:
                    if cell.cell_contents == wanted:
                        return True
                except ValueError:  # an empty cell
                    pass
    return False


def run_op(op, limit, dtypes, progress, crashed):
    """The record of one op. `progress(case)` is told each case before it
    runs; a case in `crashed` ({(op, dtype, case, kind): reason}) is
    recorded as failed with that reason, not run."""
    import torch

    record = {"op": op_key(op), "cases": {}, "tags": {}, "fallbacks": set(),
              "samples": {}, "inputs": {}, "error": None, "tolerance": {}}
    try:
        supported = set(op.supported_dtypes("cpu"))
        backward = set(op.supported_backward_dtypes("cpu")) if op.supports_autograd else set()
        record["tolerance"] = tolerances(op)
        record["not_comparable"] = not_comparable(op)
    except Exception as error:  # noqa: BLE001 - recorded, never hidden
        record["error"] = "dtypes: " + describe(error)
        return record
    names = [d for d in dtypes if getattr(torch, d) in supported]
    if not names:
        names = [d for d in EXTRA_DTYPES if getattr(torch, d) in supported][:1]
    for dtype_name in names:
        dtype = getattr(torch, dtype_name)
        grad = dtype in backward and (dtype.is_floating_point or dtype.is_complex)
        try:
            seed_everything(zlib.crc32(f"{record['op']}/{dtype_name}".encode()))
            samples = list(op.sample_inputs("cpu", dtype, requires_grad=grad))
        except Exception as error:  # noqa: BLE001
            record["samples"][dtype_name] = ("OpInfo could not generate the samples: "
                                             + describe(error))
            continue
        on_device = placements(op, dtype, samples)
        chosen, noncontiguous = select_samples(samples, limit)
        record["samples"][dtype_name] = (len(samples), len(chosen))
        cases = [(str(i), i, False) for i in chosen]
        if noncontiguous is not None:
            cases.append((f"nc{noncontiguous}", noncontiguous, True))
        for case_id, index, strided in cases:
            sample = samples[index]
            tensors = sample_tensors(sample)
            tags = set()
            if any(t.dim() == 0 for t in tensors):
                tags.add("scalar")
            if any(t.numel() == 0 for t in tensors):
                tags.add("zero-size")
            if strided:
                tags.add("non-contiguous")
            record["inputs"][(dtype_name, case_id)] = fingerprint(sample)
            for kind in ("fwd", "bwd") if grad else ("fwd",):
                key = (dtype_name, case_id, kind)
                record["tags"][key] = tags
                crash = crashed.get((record["op"], *key))
                if crash:
                    record["cases"][key] = {"ok": False, "error": "crash: " + crash,
                                            "eager": "not run", "lazy": None}
                    continue
                progress(key)
                before = fallback_counts()
                case = run_one(op, sample, strided, kind, record["tolerance"],
                               on_device[index])
                record["cases"][key] = case
                if case["ok"] is False or case["lazy"] == "random":
                    # A failed run's lazy tensors outlive it in reference
                    # cycles through its traceback: the next case's
                    # mark_step would sync them and fail with their error.
                    gc.collect()
                record["fallbacks"].update(
                    name for name, count in fallback_counts().items()
                    if count > before.get(name, 0))
    return record


def dirty_allocator(pattern):
    """Leaves `pattern` in freed memory of many sizes, so an op that returns
    uninitialised memory (empty_like, ...) returns different bits on two
    eager runs and is not taken for deterministic."""
    import torch
    scratch = [torch.full((n,), pattern, dtype=torch.uint8)
               for n in [*range(1, 4097, 8), *(1 << k for k in range(13, 21))]]
    del scratch


def run_one(op, sample, strided, kind, tolerance, on_device):
    """{"ok": True, "value", "eager_value"}, {"ok": False, "error"}, or
    {"ok": None} where the case has nothing to differentiate; with "eager"
    and "lazy": how two runs, seeded alike over differently dirtied memory,
    agreed eagerly on the CPU and on the lazy device (compare.agreement;
    None where eager raised, as "eager_value" then is)."""
    from compare import agreement

    def twice(device):
        values = []
        for pattern in (0x55, 0xAA):
            dirty_allocator(pattern)
            values.append(run_case(op, sample, device, strided, kind, on_device))
        return values

    try:
        eager_value, again = twice("cpu")
        eager = agreement(eager_value, again, tolerance)
    except Exception:  # noqa: BLE001 - what fails eagerly is judged on lazy alone
        eager_value, eager = None, None
    try:
        dirty_allocator(0x55)
        value = run_case(op, sample, "lazy", strided, kind, on_device)
    except NoGradient as error:
        return {"ok": None, "error": describe(error), "eager": eager, "lazy": None}
    except Exception as error:  # noqa: BLE001 - recorded, never hidden
        return {"ok": False, "error": describe(error), "eager": eager, "lazy": None}
    try:
        dirty_allocator(0xAA)
        lazy = agreement(value, run_case(op, sample, "lazy", strided, kind, on_device),
                         tolerance)
    except Exception:  # noqa: BLE001 - passing once and failing once is not deterministic
        lazy = "random"
    return {"ok": True, "value": value, "eager": eager, "lazy": lazy,
            "eager_value": eager_value}


def done_ops(out):
    done = set()
    for record in read_records(out):
        done.add(record["op"])
    return done


def read_records(out):
    if not os.path.exists(out):
        return
    with open(out, "rb") as stream:
        while True:
            try:
                yield pickle.load(stream)
            except EOFError:
                return
            except (pickle.UnpicklingError, ValueError, AttributeError) as error:
                # A worker killed while writing leaves a torn last record.
                print(f"run_ops: {out}: torn record skipped ({error})", file=sys.stderr)
                return


def accept_sets_in_random_sample():
    """Some of OpInfo 1.13's sample generators (cross_entropy's) call
    random.sample on a set, which Python 3.11 refuses; give it the set's
    elements in sorted order instead."""
    import random
    sample = random.Random.sample

    def sample_of_sets(self, population, *args, **kwargs):
        if isinstance(population, (set, frozenset)):
            population = sorted(population)
        return sample(self, population, *args, **kwargs)

    random.Random.sample = sample_of_sets
    random.sample = random._inst.sample


def worker(args):
    import torch
    import warnings
    warnings.simplefilter("ignore")
    accept_sets_in_random_sample()
    # Both backends run side by side on two cores; one thread each.
    torch.set_num_threads(1)
    # Eager runs on the CPU in float32: a CUDA backend must too, not in TF32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    init_backend(args.backend)
    wanted = set(args.ops) if args.ops else None
    done = done_ops(args.out)
    crashed = read_crashed(args.out + ".crashed")
    ops = [op for op in load_op_db()
           if (wanted is None or op_key(op) in wanted) and op_key(op) not in done]
    limit = None if args.all_samples else args.samples
    dtypes = args.dtypes.split(",")
    progress_path = args.out + ".progress"

    def progress(*where):
        with open(progress_path, "w") as stream:
            stream.write("\t".join(where))

    for op in ops:
        progress(op_key(op))
        started = time.monotonic()
        record = run_op(op, limit, dtypes,
                        lambda case: progress(op_key(op), *case), crashed)
        record["seconds"] = time.monotonic() - started
        with open(args.out, "ab") as stream:
            pickle.dump(record, stream)
    os.unlink(progress_path)


def read_crashed(path):
    """{(op, dtype, case, kind): reason} from the driver's OUT.crashed."""
    crashed = {}
    if os.path.exists(path):
        with open(path) as stream:
            for line in stream:
                *where, reason = line.rstrip("\n").split("\t")
                crashed[tuple(where)] = reason
    return crashed


# -- the driver -----------------------------------------------------------

def driver(args):
    """Runs workers until every op has a record. A case that kills or hangs
    its worker goes into OUT.crashed, which the next worker reads; one that
    does so outside any case (generating samples) gets a record of its own."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", args.backend,
               args.out, "--samples", str(args.samples), "--dtypes", args.dtypes]
    if args.all_samples:
        command.append("--all-samples")
    if args.ops:
        command += ["--ops", *args.ops]
    progress = args.out + ".progress"
    log_path = args.out + ".log"
    for _ in range(500):
        if os.path.exists(progress):
            os.unlink(progress)
        with open(log_path, "a") as log:
            # Sample generators iterate over sets of strings: fix their order.
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                       env=dict(os.environ, PYTHONHASHSEED="0"),
                                       start_new_session=True)
            stop_worker_with_driver(process)
            current, since = None, time.monotonic()
            while process.poll() is None:
                time.sleep(0.2)
                where = read_progress(progress)
                if where != current:
                    current, since = where, time.monotonic()
                elif where is not None and time.monotonic() - since > CASE_TIMEOUT_S:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    break
        if process.returncode == 0:
            return 0
        where = read_progress(progress)
        if where is None:
            print(f"run_ops: {args.backend} worker failed outside any op "
                  f"(exit {process.returncode}); see {log_path}", file=sys.stderr)
            return 1
        reason = (f"hung for more than {CASE_TIMEOUT_S} s, killed"
                  if process.returncode == -signal.SIGKILL else
                  f"worker died ({describe_exit(process.returncode)})")
        print(f"run_ops: {args.backend}: {'/'.join(where)}: {reason}", file=sys.stderr)
        if len(where) == 1:
            with open(args.out, "ab") as stream:
                pickle.dump({"op": where[0], "cases": {}, "tags": {}, "fallbacks": set(),
                             "samples": {}, "inputs": {}, "error": "crash: " + reason,
                             "seconds": None}, stream)
        else:
            with open(args.out + ".crashed", "a") as stream:
                stream.write("\t".join([*where, reason]) + "\n")
    return 1


def stop_worker_with_driver(process):
    """The worker has a session of its own (so a hang can be killed with all
    it started): a driver told to stop takes it down too."""
    def stop(signum, frame):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def describe_exit(returncode):
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def read_progress(path):
    try:
        with open(path) as stream:
            text = stream.read()
    except FileNotFoundError:
        return None
    return tuple(text.split("\t")) if text else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", help="intree, or a plugin name such as ts_cpu")
    parser.add_argument("out", help="file the records are appended to")
    parser.add_argument("--ops", nargs="*", help="OpInfo names (name.variant); default all")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help="samples per op and dtype besides the 0-dim, zero-size "
                             "and non-contiguous ones (default %(default)s)")
    parser.add_argument("--all-samples", action="store_true", help="every sample")
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if args.worker:
        worker(args)
        return 0
    for stale in (args.out, args.out + ".crashed", args.out + ".log"):
        if os.path.exists(stale):
            os.unlink(stale)
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
