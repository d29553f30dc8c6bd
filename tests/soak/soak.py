"""Soak: trains small models on `lazy` through a plugin for many steps and
reports, at every 10% of the run, the process's RSS, the lazy core's live
lazy tensors and the plugin's live buffers, live executables and compiles.
After warm-up every count must stay exactly where it was: one more per step
is a leak, however slow.

    PYTHONPATH=build/lib/python3/dist-packages python3 tests/soak/soak.py
    ... soak.py --model cnn --steps 500       # one model, another length

Each model trains in a process of its own (the lazy core holds one backend
per process, and one model's tensors would blur the other's counts). Exits
1 if any count moved after the first report or RSS grew more than
RSS_SLACK_MIB."""
import argparse
import ast
import subprocess
import sys

import torch
import torch._lazy

# Counts that must not move once the first report is taken. RSS is shown
# beside them but judged only loosely: allocators keep freed pages.
COUNTS = ["live_tensors", "live_buffers", "live_executables", "compiles"]
# Default steps per model: the small MLP is cheap, the CNN about 10x dearer.
DEFAULT_STEPS = {"mlp": 20000, "cnn": 2000}
# RSS growth after the first report that still reads as flat: what glibc's
# and LibTorch's allocators may hold on to without anything leaking.
RSS_SLACK_MIB = 32


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def mlp():
    """The MLP of tests/python/training.py, on batches of 8."""
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    return model, [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(4)]


def cnn():
    """Two conv / batch norm / ReLU / max-pool blocks on 16x16 RGB images,
    then a linear classifier over 10 classes, on batches of 4."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))
    return model, [(torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))) for _ in range(4)]


MODELS = {"mlp": mlp, "cnn": cnn}


def train(name, steps, reports=10, backend="ts_cpu", on_report=None,
          keep_update_history=False):
    """Trains model `name` for `steps` SGD-with-momentum steps on `lazy`
    (init() of `backend` first), a new batch uploaded every step and the
    loss read back, and returns a row of measurements after each of
    `reports` equal parts of the run, each also passed to `on_report` as
    it is taken. keep_update_history: end each step with plain
    torch._lazy.mark_step(), keeping what LibTorch 1.13 leaks."""
    import ltc_plugins
    ltc_plugins.init(backend)
    torch.manual_seed(0)
    model, batches = MODELS[name]()
    model = model.to("lazy")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    report_at = {steps * part // reports for part in range(1, reports + 1)}
    rows = []
    for step in range(1, steps + 1):
        inputs, target = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs.to("lazy")), target.to("lazy"))
        loss.backward()
        optimizer.step()
        if keep_update_history:
            torch._lazy.mark_step()
        else:
            ltc_plugins.mark_step(model, optimizer)
        loss_value = loss.item()
        if step in report_at:
            stats = ltc_plugins.plugin_stats()
            # A plugin without counters gives {}: its columns read None.
            rows.append({"step": step, "rss_mib": round(rss_mib(), 1),
                         "live_tensors": ltc_plugins.live_tensors(),
                         "live_buffers": stats.get("live_buffers"),
                         "live_executables": stats.get("live_executables"),
                         "compiles": stats.get("compiles"), "loss": loss_value})
            if on_report is not None:
                on_report(rows[-1])
    return rows


def verdict(name, rows):
    """(flat, line): whether every count stayed at its first report's value
    and RSS within RSS_SLACK_MIB of it, and a line that says so with the
    numbers."""
    first, last = rows[0], rows[-1]
    moved = [c for c in COUNTS if any(row[c] != first[c] for row in rows)]
    rss_growth = last["rss_mib"] - first["rss_mib"]
    counts = ", ".join(f"{c} {first[c]} -> {last[c]}" for c in COUNTS)
    rss = f"RSS {first['rss_mib']:.1f} -> {last['rss_mib']:.1f} MiB ({rss_growth:+.1f})"
    span = f"steps {first['step']}..{last['step']}"
    if moved or rss_growth > RSS_SLACK_MIB:
        grew = moved + (["RSS"] if rss_growth > RSS_SLACK_MIB else [])
        return False, f"{name}: GROWING ({', '.join(grew)}) over {span}: {counts}; {rss}"
    return True, f"{name}: flat over {span}: {counts}; {rss}"


HEADER = ["step", "rss_mib"] + COUNTS + ["loss"]


def format_row(row):
    cells = [f"{row['step']:>16}", f"{row['rss_mib']:>16.1f}"]
    return "  ".join(cells + [f"{str(row[c]):>16}" for c in COUNTS] + [f"{row['loss']:>16.4f}"])


def soak(name, steps, backend, keep_update_history):
    """Runs `name` in a child process, printing its rows as they come;
    returns verdict()'s (flat, line)."""
    print(f"\n{name}, {steps} steps on {backend}")
    print("  ".join(f"{h:>16}" for h in HEADER), flush=True)
    command = [sys.executable, __file__, "--child", "--model", name, "--steps", str(steps),
               "--backend", backend] + (["--keep-update-history"] if keep_update_history else [])
    rows = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        for line in child.stdout:
            rows.append(ast.literal_eval(line))
            print(format_row(rows[-1]), flush=True)
    if child.returncode != 0 or not rows:
        return False, f"{name}: the training process exited {child.returncode}"
    return verdict(name, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), action="append",
                        help="model to train (repeatable; default: mlp and cnn)")
    parser.add_argument("--steps", type=int, help="steps per model (default: mlp 20000, cnn 2000)")
    parser.add_argument("--backend", default="ts_cpu", help="plugin to run on (default: ts_cpu)")
    parser.add_argument("--keep-update-history", action="store_true",
                        help="plain torch._lazy.mark_step(): shows LibTorch 1.13's leak")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.model or ["mlp", "cnn"]
    if args.child:
        # One model in this process: each row to the parent as it is taken.
        train(names[0], args.steps, backend=args.backend,
              on_report=lambda row: print(repr(row), flush=True),
              keep_update_history=args.keep_update_history)
        return 0
    verdicts = [soak(name, args.steps or DEFAULT_STEPS[name], args.backend,
                     args.keep_update_history) for name in names]
    print()
    for _, line in verdicts:
        print(line)
    return 0 if all(flat for flat, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
