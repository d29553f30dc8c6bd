"""The ops and models tiers of ltc-plugin-cts, which runs this file with the
interpreter of its --python option (one whose torch is the LibTorch the host
was built for):

    cts_tiers.py PLUGIN --tier ops|models [--tier ...] [--ops NAME ...]
                 [--samples K] [--package-dir DIR]

PLUGIN is a plugin name for ltc_plugins.init(): ltc-plugin-cts points
LTC_PLUGIN_PATH at the directory of the manifest it found and passes its
--option values in LTC_PLUGIN_OPTIONS, so every tier checks the same plugin.
DIR is the directory of the Python package ltc_plugins in the tree
ltc-plugin-cts is part of, used where this interpreter does not see it.

  ops     the differential conformance suite (run_ops.py, compare.py) on the
          OpInfo ops named by --ops (default: all), K samples each (default
          run_ops.DEFAULT_SAMPLES): each case on `lazy` under the plugin,
          compared with eager within OpInfo's tolerance, as ref_cpu is. A
          case the plugin refuses with UNIMPLEMENTED is no failure. The
          in-tree TorchScript backend runs the same cases, so that what the
          lazy core itself cannot do (a case failing there too) is not
          blamed on the plugin.
  models  small models (MODELS) trained a few steps on `lazy` and eagerly on
          the CPU from the same seed and data; the losses of every step and
          the final weights compared within float tolerance.

Prints one line per check as the ABI tier does, `PASS <check>`, `FAIL
<check>: <what differed>` or `SKIP <check>: <why>`, for ltc-plugin-cts to
count. Exit status: 0 when the checks ran, whatever they found; 2 when this
interpreter cannot run them (no torch, no ltc_plugins, a host built for
another torch, no OpInfo database, an op name it lacks).
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXIT_USAGE = 2
# A training process that neither finishes nor crashes in this long is
# reported as hung (the ops runner has its own limit per case).
MODEL_TIMEOUT_S = 600
# (rtol, atol): no two implementations of a float sum agree bit for bit, and
# a few steps carry the differences into every weight.
LOSS_TOLERANCE = (1e-4, 1e-5)
WEIGHT_TOLERANCE = (1e-3, 1e-4)
RESULT_PREFIX = "ltc-cts-result "


def usage_error(text):
    print(f"ltc-plugin-cts: {text}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def report(line):
    """One check's line; a reason never spans lines, so each line is one check."""
    print(" ".join(line.split("\n")), flush=True)


def check_interpreter(package_dir, ops_tier):
    """Exits with a usage error naming this interpreter when it cannot run
    the tiers. Makes the tree's ltc_plugins importable here and in the
    processes started from here, where this interpreter does not see it."""
    python = sys.executable
    try:
        import torch
    except ImportError as error:
        usage_error(f"{python} cannot import torch ({error}); give --python a Python whose "
                    "torch is the LibTorch the host was built for (Debian: /usr/bin/python3)")
    if package_dir and (Path(package_dir) / "ltc_plugins").is_dir():
        seen = {os.path.realpath(entry) for entry in sys.path if entry}
        if os.path.realpath(package_dir) not in seen:
            sys.path.insert(0, package_dir)
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [package_dir, *filter(None, [os.environ.get("PYTHONPATH")])])
    try:
        import ltc_plugins
    except ImportError as error:
        usage_error(f"{python} cannot import ltc_plugins ({error}); put the directory of the "
                    "package on PYTHONPATH")
    try:
        ltc_plugins.backend()  # loads libltc_host.so into this torch
    except Exception as error:  # noqa: BLE001 - any failure here is the interpreter's
        usage_error(f"{python} (torch {torch.__version__}) cannot load "
                    f"{ltc_plugins.host_library()}: {one_line(error)}; give --python the "
                    "Python whose torch the host was built for (Debian: /usr/bin/python3)")
    if ops_tier:
        try:
            import run_ops
            return {run_ops.op_key(op) for op in run_ops.load_op_db()}
        except Exception as error:  # noqa: BLE001
            usage_error(f"{python} cannot load PyTorch's OpInfo database, which the ops tier "
                        f"runs ({one_line(error)}); it needs expecttest (pip install "
                        "expecttest)")
    return set()


def one_line(error):
    return " ".join(f"{type(error).__name__}: {error}".split())


def last_error(log_path):
    """The exception a Python process ended with, from its log: the last
    line that names an error and the lines after it."""
    try:
        lines = Path(log_path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "no log"
    for index in range(len(lines) - 1, -1, -1):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", lines[index]):
            return " ".join(" ".join(lines[index:]).split())
    return " ".join(" ".join(lines[-3:]).split()) or "no output"


# -- the ops tier -------------------------------------------------------------

def case_name(key):
    return key if isinstance(key, str) else "/".join(key)


def op_line(op, rows):
    """The check line of one op from compare.compare_op's rows."""
    import compare
    check = f"ops.{op}"
    differ = [(key, detail) for key, verdict, detail in rows if verdict == compare.DIFFER]
    if differ:
        key, detail = differ[0]
        more = f" (and {len(differ) - 1} more cases)" if len(differ) > 1 else ""
        return f"FAIL {check}: {case_name(key)}: {detail}{more}"
    refused = [(key, detail) for key, verdict, detail in rows if verdict == compare.REFUSED]
    if any(verdict == compare.SAME and key != "op" for key, verdict, _ in rows):
        dtypes = sorted({key[0] for key, _ in refused})
        return f"PASS {check}" + (f" (refused: {', '.join(dtypes)})" if dtypes else "")
    if refused:
        key, detail = refused[0]
        return f"SKIP {check}: refused: {case_name(key)}: {detail}"
    failing = [(key, detail) for key, verdict, detail in rows if verdict == compare.BOTH_FAIL]
    if failing:
        key, detail = failing[0]
        return (f"SKIP {check}: every case fails eagerly or under the in-tree backend too: "
                f"{case_name(key)}: {detail}")
    return f"SKIP {check}: {rows[0][2]}"


def ops_tier(plugin, ops, samples, work):
    """Returns whether some op failed."""
    import compare
    import run_ops
    args = ["--samples", str(samples)] + (["--ops", *ops] if ops else [])
    outs = {"candidate": work / "candidate.records", "intree": work / "intree.records"}
    print(f"ltc-plugin-cts: ops tier: {len(ops) if ops else 'every'} OpInfo ops under {plugin} "
          "and the in-tree backend, compared with eager", file=sys.stderr, flush=True)
    runners = {
        which: subprocess.Popen(
            [sys.executable, str(HERE / "run_ops.py"), "intree" if which == "intree" else plugin,
             str(out), *args], stdout=sys.stderr)
        for which, out in outs.items()
    }
    for runner in runners.values():
        runner.wait()
    records = compare.load(outs["candidate"])
    in_tree = None
    if runners["intree"].returncode == 0:
        in_tree = compare.load(outs["intree"])
    else:
        print("ltc-plugin-cts: ops tier: the in-tree backend's run failed "
              f"({last_error(str(outs['intree']) + '.log')}); cases the lazy core cannot run "
              "count against the plugin", file=sys.stderr)
    comparison = compare.Comparison(compare.eager_reference(records), records, ref_name="eager",
                                    cand_name=plugin, independent=True, lazy=in_tree)
    failed = False
    for op, (_, rows) in sorted(comparison.ops.items()):
        line = op_line(op, rows)
        failed |= line.startswith("FAIL")
        report(line)
    if runners["candidate"].returncode != 0:
        log = str(outs["candidate"]) + ".log"
        missing = [op for op in (ops or []) if op not in records]
        report(f"FAIL ops: the runner under {plugin} stopped with {len(records)} ops done"
               + (f" ({', '.join(missing)} not)" if missing else "")
               + f": {last_error(log)}")
        failed = True
    (work / "report.txt").write_text(comparison.report(f"ltc-plugin-cts --tier ops: {plugin} "
                                                       "vs eager") + "\n")
    return failed


# -- the models tier ----------------------------------------------------------

def mlp():
    """The MLP of tests/python/training.py: linear, relu, cross entropy, SGD
    with momentum, 5 steps on one batch."""
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
    return model, x, y, lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9), 5


def cnn():
    """conv2d, relu, max_pool2d twice, a linear head, cross entropy, Adam: 4
    steps on one batch of 8x8 images."""
    import torch
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 2 * 2, 10))
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 10, (6,))
    return model, x, y, lambda params: torch.optim.Adam(params, lr=0.01), 4


# No dropout, nor anything else random after the weights are drawn: both
# runs compute the same function from the same seed.
MODELS = {"mlp": mlp, "cnn": cnn}


class StepFailed(Exception):
    def __init__(self, step, error):
        super().__init__(one_line(error))
        self.step = step


def train(name, device):
    """The per-step losses and the final state (name: [shape, values]) of
    model `name` trained on `device`."""
    import torch
    import torch._lazy
    torch.manual_seed(0)
    model, x, y, make_optimizer, steps = MODELS[name]()
    model = model.to(device)
    optimizer = make_optimizer(model.parameters())
    losses = []
    for step in range(1, steps + 1):
        try:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            if device == "lazy":
                torch._lazy.mark_step()
            losses.append(loss.item())
        except Exception as error:  # noqa: BLE001 - reported with its step
            raise StepFailed(step, error) from error
    state = {key: [list(value.shape), value.detach().cpu().flatten().tolist()]
             for key, value in model.state_dict().items()}
    return {"losses": losses, "state": state}


def model_worker(name, plugin):
    """Trains model `name` eagerly, then on `lazy` under `plugin`; prints
    the result as one JSON line."""
    import torch
    import ltc_plugins
    # float32 as eager computes it on the CPU, also on a CUDA plugin.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    result = {"eager": train(name, "cpu")}
    try:
        ltc_plugins.init(plugin)
        result["lazy"] = train(name, "lazy")
    except StepFailed as failed:
        result["error"], result["step"] = str(failed), failed.step
    except Exception as error:  # noqa: BLE001 - init failed
        result["error"], result["step"] = one_line(error), None
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def close(ours, theirs, tolerance):
    rtol, atol = tolerance
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return abs(ours - theirs) <= atol + rtol * abs(theirs)


def unravel(index, shape):
    coordinates = []
    for size in reversed(shape):
        coordinates.append(index % size)
        index //= size
    return list(reversed(coordinates))


def first_difference(lazy, eager):
    """Where the lazy run first differs from the eager one, or None."""
    rtol, atol = LOSS_TOLERANCE
    for step, (ours, theirs) in enumerate(zip(lazy["losses"], eager["losses"]), 1):
        if not close(ours, theirs, LOSS_TOLERANCE):
            return (f"step {step}: loss {ours!r} vs eager {theirs!r} "
                    f"(rtol {rtol:g}, atol {atol:g})")
    if len(lazy["losses"]) != len(eager["losses"]):
        return f"{len(lazy['losses'])} losses vs eager {len(eager['losses'])}"
    rtol, atol = WEIGHT_TOLERANCE
    for key, (shape, values) in eager["state"].items():
        if key not in lazy["state"]:
            return f"final weights: no {key}"
        lazy_shape, lazy_values = lazy["state"][key]
        if lazy_shape != shape:
            return f"final weights: {key} has shape {lazy_shape} vs eager {shape}"
        for index, (ours, theirs) in enumerate(zip(lazy_values, values)):
            if not close(ours, theirs, WEIGHT_TOLERANCE):
                where = ", ".join(str(i) for i in unravel(index, shape))
                return (f"final weights after step {len(eager['losses'])}: {key}[{where}] "
                        f"{ours!r} vs eager {theirs!r} (rtol {rtol:g}, atol {atol:g})")
    return None


def model_line(name, plugin):
    check = f"models.{name}"
    command = [sys.executable, str(Path(__file__).resolve()), plugin, "--model-worker", name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MODEL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"FAIL {check}: training did not finish in {MODEL_TIMEOUT_S} s; killed"
    results = [line[len(RESULT_PREFIX):] for line in done.stdout.splitlines()
               if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not results:
        sys.stderr.write(done.stderr)
        if done.returncode < 0:
            how = f"died with {signal.Signals(-done.returncode).name}"
        else:
            how = f"exited with status {done.returncode}"
        tail = " ".join(" ".join(done.stderr.strip().splitlines()[-2:]).split())
        return f"FAIL {check}: the training process {how}" + (f": {tail}" if tail else "")
    result = json.loads(results[-1])
    if "error" in result:
        at = f"step {result['step']}" if result["step"] else "init"
        if "UNIMPLEMENTED" in result["error"]:
            return f"SKIP {check}: refused at {at}: {result['error']}"
        return f"FAIL {check}: {at}: {result['error']}"
    difference = first_difference(result["lazy"], result["eager"])
    return f"FAIL {check}: {difference}" if difference else f"PASS {check}"


def models_tier(plugin):
    """Returns whether some model failed."""
    failed = False
    for name in MODELS:
        line = model_line(name, plugin)
        failed |= line.startswith("FAIL")
        report(line)
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plugin", help="the plugin's name")
    parser.add_argument("--tier", action="append", choices=("ops", "models"),
                        help="a tier to run (repeatable)")
    parser.add_argument("--ops", nargs="+", metavar="NAME",
                        help="OpInfo names (name.variant) for the ops tier; default all")
    parser.add_argument("--samples", type=int, help="samples per op and dtype besides the "
                        "0-dim, zero-size and non-contiguous ones (run_ops.py)")
    parser.add_argument("--package-dir", help="the directory of the tree's ltc_plugins")
    parser.add_argument("--model-worker", choices=sorted(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.model_worker:
        model_worker(args.model_worker, args.plugin)
        return 0
    tiers = args.tier or parser.error("--tier is required")
    known = check_interpreter(args.package_dir, "ops" in tiers)
    unknown = [op for op in args.ops or [] if op not in known]
    if unknown:
        usage_error(f"--ops: PyTorch's OpInfo database has no op {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="ltc-plugin-cts-"))
    failed = False
    if "ops" in tiers:
        import run_ops
        samples = run_ops.DEFAULT_SAMPLES if args.samples is None else args.samples
        failed |= ops_tier(args.plugin, args.ops, samples, work)
    if "models" in tiers:
        failed |= models_tier(args.plugin)
    if failed and "ops" in tiers:
        print(f"ltc-plugin-cts: the ops tier's report, records and logs: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
