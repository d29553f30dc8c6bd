"""Where a lazy training step's time goes, per model-zoo workload: tracing
(forward, backward and optimizer step recording IR in Python), mark_step
(the lazy core hashing, lowering and handing the graph to the backend,
execution included when the backend is synchronous) and waiting for the
device; beside eager's step.

    /usr/bin/python3 bench/profile_phases.py [--backend ts_cpu] [--steps 10]
                                             [WORKLOAD ...]

Run with the build's Python package on PYTHONPATH. Prints one row per
workload: medians in ms over the timed steps (after 3 warm-up steps)."""
import argparse
import statistics
import time

import torch

import workloads


def median_ms(samples):
    return statistics.median(samples) * 1e3


def phases(name, backend, steps):
    import torch._lazy
    import ltc_plugins
    training = workloads.model_zoo.build(name, "sgd", "lazy")
    torch._lazy.mark_step()
    trace, sync, wait = [], [], []
    for step in range(3 + steps):
        start = time.perf_counter()
        training.step()
        traced = time.perf_counter()
        ltc_plugins.drop_update_history(training.model, training.optimizer)
        torch._lazy.mark_step()
        synced = time.perf_counter()
        torch._lazy.wait_device_ops()
        done = time.perf_counter()
        if step >= 3:
            trace.append(traced - start)
            sync.append(synced - traced)
            wait.append(done - synced)
    return median_ms(trace), median_ms(sync), median_ms(wait)


def eager_step(name, steps):
    training = workloads.model_zoo.build(name, "sgd", "cpu")
    times = []
    for step in range(3 + steps):
        start = time.perf_counter()
        training.step()
        if step >= 3:
            times.append(time.perf_counter() - start)
    return median_ms(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=workloads.ZOO_WORKLOADS)
    parser.add_argument("--backend", default="ts_cpu")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    import ltc_plugins
    ltc_plugins.init(args.backend)
    print(f"| workload | eager step ms | {args.backend}: trace ms | mark_step ms "
          "| wait ms | total ms |")
    print("|---|---|---|---|---|---|")
    for name in args.workloads:
        eager = eager_step(name, args.steps)
        trace, sync, wait = phases(name, args.backend, args.steps)
        print(f"| {name} | {eager:.1f} | {trace:.1f} | {sync:.1f} | {wait:.1f} "
              f"| {trace + sync + wait:.1f} |", flush=True)


if __name__ == "__main__":
    main()
