"""make bench: training-step times, first-step latency, transfer bandwidth
and plugin init time, eager CPU vs the in-tree TorchScript lazy backend vs
ltc-plugins backends; on CUDA too (eager_cuda, in_tree_cuda, ts_cuda) where
torch sees a GPU, and skipped with a message where it does not.

    /usr/bin/python3 bench/run.py [--rounds N] [--smoke] [--out DIR]
                                  [--backends eager,in_tree,ts_cpu]

Every measurement runs in a process of its own (worker.py); within a round
the backends take turns, in an order that rotates from round to round, so
load from other users of the machine falls on all of them alike. Prints a
table on stdout and writes DIR/bench.json and DIR/step_times.png. The budget
lines compare ratios from this one run; nothing here fails on a time."""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import workloads

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"
THREADS = "2"
# --omp-wait-policy, the same for every backend. By default OpenMP threads
# wait passively: spinning ones turn any other load on a 2-core machine into
# 10-50x slower, bimodal steps (eager MLP 64x256 with a neighbour busy:
# 100 ms median against 2.1 ms passive), which no interleaving averages out.
# On a quiet machine libgomp's own default (spin, then sleep) is faster for
# lazy steps, whose graphs run many small parallel ops (in-tree MLP 64x256:
# 5.3 ms against 7.9 ms passive): "default" leaves the variable unset.
OMP_WAIT_POLICIES = ["passive", "active", "default"]

BUDGET_STEP = 1.03      # plugin (optimisations off) / in-tree, steady step
BUDGET_FIRST = 1.10     # plugin / in-tree, first step (trace + compile)
BUDGET_INIT_S = 0.050   # plugin load + init
# Goals against eager (the real-models issue): the MLP step, and the model
# zoo's geometric mean; and no zoo model slower than in-tree.
GOAL_MLP_VS_EAGER = 0.8
GOAL_ZOO_GEOMEAN_VS_EAGER = 1.2
GOAL_ZOO_VS_IN_TREE = 1.0


class WorkerFailed(RuntimeError):
    pass


def worker_env(backend, build, wait_policy):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LTC_") and k not in ("SPDLOG_LEVEL", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = str(build / "lib" / "python3" / "dist-packages")
    env["OMP_NUM_THREADS"] = THREADS
    env["OPENBLAS_NUM_THREADS"] = THREADS
    if wait_policy != "default":
        env["OMP_WAIT_POLICY"] = wait_policy.upper()
    env.update(backend.env)
    return env


def run_worker(args, backend, options):
    command = [sys.executable, str(WORKER)] + args
    print("bench:", " ".join(args), file=sys.stderr, flush=True)
    env = worker_env(backend, options.build.resolve(), options.omp_wait_policy)
    done = subprocess.run(command, env=env, cwd=HERE,
                          capture_output=True, text=True, timeout=900)
    if done.returncode == 3:
        sys.stderr.write(done.stderr)
        raise WorkerFailed("refusing to benchmark: OpenBLAS is not the BLAS in use "
                           "(apt-get install libopenblas0-pthread)")
    if done.returncode != 0:
        raise WorkerFailed(f"worker {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rotated(items, by):
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    os_name = platform.platform()
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')

    def deb_version(package):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    return {"cpu": cpu, "cores": os.cpu_count(), "os": os_name,
            "python3-torch": deb_version("python3-torch"),
            "libopenblas0-pthread": deb_version("libopenblas0-pthread"),
            "threads": int(THREADS)}


def quantiles(values):
    """median, 25th and 75th percentile."""
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[1], q[0], q[2]


def cannot_run(error):
    """The last line a failed worker printed: its error, or the lazy core's
    abort ("Check failed: ...")."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        if "Check failed" in line or "Error" in line:
            return line.strip()[:200]
    return lines[-1].strip()[:200] if lines else "failed"


def measure(options, backends, cases):
    lazy = [b for b in backends if workloads.BACKENDS[b].device == "lazy"]
    raw = {"step": [], "transfer": [], "init": [], "cannot_run": {}}
    for round_ in range(options.rounds):
        for case in cases:
            for name in rotated(backends, round_):
                key = f"{case.workload} {case.size} {name}"
                if key in raw["cannot_run"]:
                    continue
                args = ["step", case.workload, case.size, name]
                if options.smoke:
                    args.append("--smoke")
                if options.keep_update_history:
                    args.append("--keep-update-history")
                try:
                    result = run_worker(args, workloads.BACKENDS[name], options)
                except WorkerFailed as error:
                    # A backend that cannot train a zoo model is a result, not
                    # a broken harness.
                    if case.workload not in workloads.ZOO_WORKLOADS or "OpenBLAS" in str(error):
                        raise
                    raw["cannot_run"][key] = cannot_run(error)
                    print(f"bench: {key}: cannot run: {raw['cannot_run'][key]}",
                          file=sys.stderr)
                    continue
                result.update(round=round_, workload=case.workload, size=case.size)
                raw["step"].append(result)
        for name in rotated(lazy, round_) if options.transfer_repeats else []:
            result = run_worker(["transfer", name, "--mib", str(options.transfer_mib),
                                 "--repeats", str(options.transfer_repeats)],
                                workloads.BACKENDS[name], options)
            result["round"] = round_
            raw["transfer"].append(result)
        for _ in range(options.init_per_round):
            for name in rotated(lazy, round_):
                result = run_worker(["init", name], workloads.BACKENDS[name], options)
                result["round"] = round_
                raw["init"].append(result)
    return raw


def summarise(raw, backends, cases):
    steps = {}
    for case in cases:
        for name in backends:
            runs = [r for r in raw["step"] if r["backend"] == name
                    and r["workload"] == case.workload and r["size"] == case.size]
            if not runs:
                continue
            median, p25, p75 = quantiles([t for r in runs for t in r["step_s"]])
            cpu_median, cpu_p25, cpu_p75 = quantiles([t for r in runs for t in r["step_cpu_s"]])
            steps[f"{case.workload} {case.size} {name}"] = {
                "workload": case.workload, "size": case.size, "backend": name,
                "median_s": median, "p25_s": p25, "p75_s": p75,
                "cpu_median_s": cpu_median, "cpu_p25_s": cpu_p25, "cpu_p75_s": cpu_p75,
                "first_step_median_s": statistics.median(r["first_step_s"] for r in runs),
                "first_step_s": [r["first_step_s"] for r in runs],
                "per_round": {
                    "median_s": {r["round"]: statistics.median(r["step_s"]) for r in runs},
                    "cpu_median_s": {r["round"]: statistics.median(r["step_cpu_s"])
                                     for r in runs},
                    "first_step_median_s": {r["round"]: r["first_step_s"] for r in runs},
                },
                "fallbacks": runs[0].get("fallbacks", {}),
                "timed_compiles": max(r.get("timed_compiles", 0) for r in runs),
                "live_tensors_at_end": max(r.get("live_tensors", 0) for r in runs),
            }

    def ratio(case, over, under, key="median_s"):
        a = steps.get(f"{case.workload} {case.size} {over}")
        b = steps.get(f"{case.workload} {case.size} {under}")
        if a is None or b is None:
            return None
        ours, theirs = a["per_round"][key], b["per_round"][key]
        per_round = [ours[r] / theirs[r] for r in ours if r in theirs]
        return {"ratio": a[key] / b[key],
                "per_round_min": min(per_round), "per_round_max": max(per_round)}

    ratios = {}
    for case in cases:
        key = f"{case.workload} {case.size}"
        for name in backends:
            if workloads.BACKENDS[name].init not in (None, "in_tree"):
                in_tree, eager = workloads.references(workloads.BACKENDS[name])
                ratios[f"{key} {name}/{in_tree}"] = ratio(case, name, in_tree)
                ratios[f"{key} {name}/{in_tree} cpu"] = ratio(case, name, in_tree,
                                                              key="cpu_median_s")
                ratios[f"{key} {name}/{eager}"] = ratio(case, name, eager)
                ratios[f"{key} {name}/{in_tree} first step"] = ratio(
                    case, name, in_tree, key="first_step_median_s")
        for name, other, _ in workloads.PLUGIN_PAIRS:
            if name in backends and other in backends:
                ratios[f"{key} {name}/{other}"] = ratio(case, name, other)

    transfer = {}
    for name in backends:
        runs = [r for r in raw["transfer"] if r["backend"] == name]
        if not runs:
            continue
        nbytes = runs[0]["bytes"]
        entry = {"bytes": nbytes, "payload_copies": runs[0]["payload_copies"]}
        for what in ("memcpy", "upload", "download"):
            pooled = [t for r in runs for t in r[f"{what}_s"]]
            median, p25, p75 = quantiles(pooled)
            entry[what] = {"median_s": median, "gb_s": nbytes / median / 1e9,
                           "gb_s_p25": nbytes / p75 / 1e9, "gb_s_p75": nbytes / p25 / 1e9}
        for what in ("upload", "download"):
            entry[what]["vs_memcpy"] = entry[what]["gb_s"] / entry["memcpy"]["gb_s"]
        transfer[name] = entry

    init = {}
    for name in backends:
        runs = [r for r in raw["init"] if r["backend"] == name]
        if not runs:
            continue
        samples = [r["init_s"] for r in runs]
        init[name] = {"median_s": statistics.median(samples), "min_s": min(samples),
                      "max_s": max(samples), "samples": len(samples)}
        host = [r["host_load_s"] for r in runs if "host_load_s" in r]
        if host:
            init[name]["host_load_median_s"] = statistics.median(host)
    return {"steps": steps, "ratios": ratios, "transfer": transfer, "init": init,
            "cannot_run": raw.get("cannot_run", {})}


def budget(summary, backends, cases):
    """The issue's budget as pass/miss lines, from this run's ratios."""
    plugin = next((b for b in workloads.PLUGIN_NOOPT_PREFERENCE if b in backends), None)
    checks = []
    if plugin is None or "in_tree" not in backends:
        return plugin, checks
    for case in cases:
        key = f"{case.workload} {case.size}"
        steady = summary["ratios"].get(f"{key} {plugin}/in_tree")
        first = summary["ratios"].get(f"{key} {plugin}/in_tree first step")
        steady_cpu = summary["ratios"].get(f"{key} {plugin}/in_tree cpu")
        if steady:
            checks.append({"what": f"steady step {key}", "value": steady["ratio"],
                           "limit": BUDGET_STEP, "pass": steady["ratio"] <= BUDGET_STEP})
        if steady_cpu:
            checks.append({"what": f"steady step {key}, CPU time", "value": steady_cpu["ratio"],
                           "limit": BUDGET_STEP, "pass": steady_cpu["ratio"] <= BUDGET_STEP})
        if first:
            checks.append({"what": f"first step {key}", "value": first["ratio"],
                           "limit": BUDGET_FIRST, "pass": first["ratio"] <= BUDGET_FIRST})
    ours = summary["transfer"].get(plugin)
    theirs = summary["transfer"].get("in_tree")
    if ours and theirs:
        down, down_ref = ours["payload_copies"]["download"], theirs["payload_copies"]["download"]
        checks.append({"what": "download payload copies (in-tree: %d)" % down_ref,
                       "value": down, "limit": down_ref, "pass": down <= down_ref})
        up = ours["payload_copies"]["upload"]
        checks.append({"what": "upload payload copies", "value": up, "limit": 1,
                       "pass": up <= 1})
    init = summary["init"].get(plugin)
    if init:
        checks.append({"what": "plugin load + init (s)", "value": init["median_s"],
                       "limit": BUDGET_INIT_S, "pass": init["median_s"] < BUDGET_INIT_S})
    return plugin, checks


def goals(summary, cases, plugin="ts_cpu"):
    """The real-models issue's goals, as PASS/MISS lines of this run."""
    lines = []

    def line(what, value, limit):
        lines.append(f"Goal: {what}: {value:.3f} <= {limit}: "
                     f"{'PASS' if value <= limit else 'MISS'}")

    mlp = summary["ratios"].get(f"mlp 256x1024 {plugin}/eager")
    if mlp:
        line(f"{plugin}/eager, steady step mlp 256x1024", mlp["ratio"], GOAL_MLP_VS_EAGER)
    zoo = [c for c in cases if c.workload in workloads.ZOO_WORKLOADS]
    vs_eager = [summary["ratios"].get(f"{c.workload} {c.size} {plugin}/eager") for c in zoo]
    if zoo and all(vs_eager):
        geomean = math.exp(sum(math.log(r["ratio"]) for r in vs_eager) / len(vs_eager))
        line(f"{plugin}/eager, geometric mean over the model zoo ({len(zoo)} models)",
             geomean, GOAL_ZOO_GEOMEAN_VS_EAGER)
    for c in zoo:
        r = summary["ratios"].get(f"{c.workload} {c.size} {plugin}/in_tree")
        if r:
            line(f"{plugin}/in_tree, {c.workload}", r["ratio"], GOAL_ZOO_VS_IN_TREE)
    return lines


def ms(seconds):
    return f"{seconds * 1e3:.3g}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


def table(summary, checks, plugin, backends, cases, machine):
    lines = []
    plugins = [b for b in backends if workloads.BACKENDS[b].init not in (None, "in_tree")]
    in_tree = {p: workloads.references(workloads.BACKENDS[p])[0] for p in plugins}
    lazy = [b for b in backends if workloads.BACKENDS[b].device == "lazy"]
    header = ["workload", "size"] + [f"{b} ms" for b in backends]
    header += [f"{p}/{in_tree[p]}" for p in plugins]
    eager = workloads.references(workloads.BACKENDS[plugins[0]])[1] if plugins else None
    header += [f"{plugins[0]}/{eager}"] if eager in backends else []
    pairs = [(p, o) for p, o, _ in workloads.PLUGIN_PAIRS if p in backends and o in backends]
    header += [f"{p}/{o}" for p, o in pairs]
    header += ["first step ms " + " / ".join(lazy)] if lazy else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))

    def ratio_cell(key):
        r = summary["ratios"].get(key)
        return (f"{r['ratio']:.3f} ({r['per_round_min']:.2f}–{r['per_round_max']:.2f})"
                if r else "–")

    for case in cases:
        key = f"{case.workload} {case.size}"
        row = [case.workload, case.size]
        for name in backends:
            s = summary["steps"].get(f"{key} {name}")
            row.append(f"{ms(s['median_s'])} ({ms(s['p25_s'])}–{ms(s['p75_s'])})" if s else
                       "cannot run" if f"{key} {name}" in summary["cannot_run"] else "–")
        row += [ratio_cell(f"{key} {p}/{in_tree[p]}") for p in plugins]
        if eager in backends:
            row.append(ratio_cell(f"{key} {plugins[0]}/{eager}"))
        row += [ratio_cell(f"{key} {p}/{o}") for p, o in pairs]
        if lazy:
            firsts = [summary["steps"].get(f"{key} {name}") for name in lazy]
            row.append(" / ".join(ms(s["first_step_median_s"]) if s else "–" for s in firsts))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Step: wall time, median over all timed steps of all rounds (25th–75th "
                 "percentile); ratio: of medians (min–max of the per-round ratios).")
    for key, reason in summary["cannot_run"].items():
        lines.append(f"cannot run: {key}: {reason}")
    fallbacks = [(key, s["fallbacks"]) for key, s in summary["steps"].items()
                 if s["fallbacks"] and s["workload"] in workloads.ZOO_WORKLOADS]
    for key, counts in fallbacks:
        lines.append(f"eager fallbacks: {key}: " + ", ".join(
            f"{op} {n}" for op, n in sorted(counts.items())) + " (all steps of a worker)")

    lines.append("")
    header = ["workload", "size"] + [f"{b} CPU ms" for b in backends]
    header += [f"{p}/{in_tree[p]} CPU" for p in plugins]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for case in cases:
        key = f"{case.workload} {case.size}"
        row = [case.workload, case.size]
        for name in backends:
            s = summary["steps"].get(f"{key} {name}")
            row.append(f"{ms(s['cpu_median_s'])} ({ms(s['cpu_p25_s'])}–{ms(s['cpu_p75_s'])})"
                       if s else "–")
        row += [ratio_cell(f"{key} {p}/{in_tree[p]} cpu") for p in plugins]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("CPU: CPU time of all the worker's threads per step, which time spent "
                 "waiting for a core does not inflate.")

    if summary["transfer"]:
        lines.append("")
        lines.append("| backend | payload | memcpy GB/s | upload GB/s | download GB/s "
                     "| upload/memcpy | download/memcpy | payload copies up/down |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, t in summary["transfer"].items():
            lines.append(
                f"| {name} | {t['bytes'] / 2**20:.0f} MiB | {t['memcpy']['gb_s']:.2f} "
                f"| {t['upload']['gb_s']:.2f} | {t['download']['gb_s']:.2f} "
                f"| {t['upload']['vs_memcpy']:.2f} | {t['download']['vs_memcpy']:.2f} "
                f"| {t['payload_copies']['upload']} / {t['payload_copies']['download']} |")
    if summary["init"]:
        lines.append("")
        lines.append("| backend | load + init ms, median (min–max) | processes |")
        lines.append("|---|---|---|")
        for name, i in summary["init"].items():
            extra = (f"; host library load {ms(i['host_load_median_s'])}"
                     if "host_load_median_s" in i else "")
            lines.append(f"| {name} | {ms(i['median_s'])} ({ms(i['min_s'])}–{ms(i['max_s'])})"
                         f"{extra} | {i['samples']} |")
    if checks:
        lines.append("")
        lines.append(f"Budget ({plugin} vs in_tree, this run):")
        for c in checks:
            value = f"{c['value']:.3f}" if isinstance(c["value"], float) else str(c["value"])
            sign = "<" if "init" in c["what"] else "<="
            lines.append(f"  {'PASS' if c['pass'] else 'MISS'}  {c['what']}: "
                         f"{value} {sign} {c['limit']}")
    lines += goals(summary, cases)
    for name, other, goal in workloads.PLUGIN_PAIRS:
        r = summary["ratios"].get(f"mlp 256x1024 {name}/{other}")
        if r:
            lines.append(f"Goal: {name}/{other}, steady step mlp 256x1024: {r['ratio']:.3f} "
                         f"<= {goal}: {'PASS' if r['ratio'] <= goal else 'MISS'}")
    lines.append("")
    lines.append(f"Machine: {machine['os']}, {machine['cores']} cores ({machine['cpu']}), "
                 f"{machine['threads']} threads (OMP_WAIT_POLICY={machine['omp_wait_policy']}), "
                 f"lazy update history {machine['update_history']}, "
                 "OpenBLAS pthread "
                 f"{machine['libopenblas0-pthread']}, python3-torch {machine['python3-torch']}; "
                 "load average before / after: "
                 f"{machine['load_average_before'][0]:.2f} / {machine['load_average_after'][0]:.2f}")
    return "\n".join(lines)


def chart(summary, backends, cases, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    labels = [f"{c.workload}\n{c.size}" for c in cases]
    width = 0.8 / len(backends)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for i, name in enumerate(backends):
        xs, medians, low, high = [], [], [], []
        for j, case in enumerate(cases):
            s = summary["steps"].get(f"{case.workload} {case.size} {name}")
            if s is None:
                continue
            xs.append(j + (i - (len(backends) - 1) / 2) * width)
            medians.append(s["median_s"] * 1e3)
            low.append((s["median_s"] - s["p25_s"]) * 1e3)
            high.append((s["p75_s"] - s["median_s"]) * 1e3)
        ax.bar(xs, medians, width, yerr=[low, high], capsize=2, label=name)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_ylabel("training step, ms (median, IQR)")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(labels)
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true",
                        help="one round, two steps, smallest sizes: checks the harness")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--backends", default=",".join(workloads.DEFAULT_BACKENDS),
                        help="comma-separated, from: " + ", ".join(workloads.BACKENDS))
    parser.add_argument("--workloads", default="",
                        help="comma-separated workload names (mlp, cnn, transformer, and the model "
                             "zoo: " + ", ".join(workloads.ZOO_WORKLOADS) + "); "
                             "default: all")
    parser.add_argument("--omp-wait-policy", choices=OMP_WAIT_POLICIES, default="passive",
                        help='OMP_WAIT_POLICY of the workers, "default" leaves it unset '
                             "(libgomp spins, then sleeps); default: passive")
    parser.add_argument("--keep-update-history", action="store_true",
                        help="lazy steps end with a plain mark_step, so LibTorch 1.13 keeps "
                             "every value an in-place op replaced (default: both lazy backends "
                             "drop that record, ltc_plugins.drop_update_history)")
    parser.add_argument("--transfer-mib", type=int, default=64)
    parser.add_argument("--transfer-repeats", type=int, default=10, help="0: no transfers")
    parser.add_argument("--init-per-round", type=int, default=2, help="0: no init times")
    options = parser.parse_args()
    backends = options.backends.split(",")
    unknown = [b for b in backends if b not in workloads.BACKENDS]
    if unknown:
        parser.error(f"unknown backends {unknown}; known: {list(workloads.BACKENDS)}")
    if not workloads.cuda_available():
        asked = [b for b in backends if b in workloads.CUDA_BACKENDS]
        print(f"bench: torch {workloads.torch.__version__} sees no CUDA GPU; skipping the "
              f"CUDA backends ({', '.join(asked or workloads.CUDA_BACKENDS)})",
              file=sys.stderr)
        backends = [b for b in backends if b not in workloads.CUDA_BACKENDS]
        if not backends:
            print("bench: no backend left to measure", file=sys.stderr)
            return 0
    if options.smoke:
        options.rounds, options.transfer_mib = 1, 1
        options.transfer_repeats, options.init_per_round = 2, 1
    cases = workloads.SMOKE_CASES if options.smoke else workloads.CASES
    if options.workloads:
        wanted = options.workloads.split(",")
        cases = [c for c in cases if c.workload in wanted]
        if not cases:
            parser.error(f"no workload among {wanted}")

    machine = machine_info()
    machine["omp_wait_policy"] = options.omp_wait_policy
    machine["update_history"] = "kept" if options.keep_update_history else "dropped"
    load_before = os.getloadavg()
    started = time.time()
    try:
        raw = measure(options, backends, cases)
    except WorkerFailed as error:
        print(f"\n*** make bench: {error}\n", file=sys.stderr)
        return 2
    machine["load_average_before"] = load_before
    machine["load_average_after"] = os.getloadavg()
    machine["blas"] = raw["step"][0]["blas"]
    summary = summarise(raw, backends, cases)
    plugin, checks = budget(summary, backends, cases)

    options.out.mkdir(parents=True, exist_ok=True)
    text = table(summary, checks, plugin, backends, cases, machine)
    print(text)
    report = {
        "machine": machine,
        "settings": {"rounds": options.rounds, "smoke": options.smoke, "backends": backends,
                     "cases": [{"workload": c.workload, "size": c.size, "warmup": c.warmup,
                                "steps": c.steps} for c in cases],
                     "transfer_mib": options.transfer_mib,
                     "transfer_repeats": options.transfer_repeats,
                     "seconds": time.time() - started},
        "summary": summary,
        "budget": {"plugin": plugin, "checks": checks},
        "raw": raw,
    }
    (options.out / "bench.json").write_text(json.dumps(report, indent=1))
    (options.out / "table.md").write_text(text + "\n")
    chart(summary, backends, cases, options.out / "step_times.png")
    print(f"\nwrote {options.out / 'bench.json'}, {options.out / 'table.md'}, "
          f"{options.out / 'step_times.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
