"""One measurement in a fresh process; prints one JSON line on stdout.

    worker.py step WORKLOAD SIZE BACKEND [--smoke]   training-step times
    worker.py transfer BACKEND --mib N --repeats R   upload/download vs memcpy
    worker.py init BACKEND                           backend load + init time

run.py starts these; each process holds one lazy backend, as the lazy core
allows only one per process. Lazy steps end with mark_step() and
wait_device_ops(), so a step's time includes running its graph."""
import argparse
import json
import sys
import time

import torch

import workloads

THREADS = 2


def blas_in_use():
    """The BLAS and LAPACK shared objects mapped into this process
    (LibTorch links its BLAS, so importing torch maps it)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps
                 if "/" in line and ("blas" in line or "lapack" in line)}
    return sorted(paths)


def check_openblas():
    """Exits with status 3 unless OpenBLAS is the BLAS in use: the reference
    BLAS makes every CPU figure meaningless (about 15x slower matmuls)."""
    paths = blas_in_use()
    if not any("openblas" in p for p in paths):
        print(f"worker: OpenBLAS is not the BLAS in use (mapped: {paths or 'none'}); "
              "install libopenblas0-pthread", file=sys.stderr)
        sys.exit(3)
    return paths


def lazy_sync():
    import torch._lazy
    torch._lazy.mark_step()
    torch._lazy.wait_device_ops()


def step_sync(backend, work=None, keep_update_history=True):
    """What makes a step's time include all its work. The lazy core's
    wait_device_ops waits for its own threads, not for the GPU. Unless
    `keep_update_history`, lazy steps (every lazy backend alike) first drop
    the values LibTorch 1.13 keeps for each in-place op, which every
    mark_step would compute and keep: a step's time would grow with the
    steps run before it."""
    lazy = backend.device == "lazy"
    drop = lazy and work is not None and not keep_update_history
    if drop:
        import ltc_plugins

    def sync():
        if drop:
            ltc_plugins.drop_update_history(work.model, work.optimizer)
        if lazy:
            lazy_sync()
        if backend.cuda:
            torch.cuda.synchronize()
    return sync


def use_cuda(backend):
    """CUDA backends compute in IEEE float32 (no TF32), as the CPU ones do,
    so that every backend trains to the same loss."""
    if backend.cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def lazy_counters():
    """Ops the lazy core ran eagerly (its counters named aten::...), graphs
    compiled, and lazy tensors still alive."""
    import torch._lazy.metrics as metrics

    def value(name):
        return metrics.counter_value(name) or 0

    return {
        "fallbacks": {name: value(name) for name in metrics.counter_names()
                      if name.startswith("aten::")},
        "compiles": value("UncachedCompile"),
        "live_tensors": value("CreateLtcTensor") - value("DestroyLtcTensor"),
    }


def run_steps(args):
    backend = workloads.BACKENDS[args.backend]
    case = workloads.find_case(args.workload, args.size, smoke=args.smoke)
    torch.manual_seed(0)
    use_cuda(backend)
    workloads.init_backend(backend)
    lazy = backend.device == "lazy"
    work = case.build(backend.device)
    sync = step_sync(backend, work, args.keep_update_history)

    sync()  # uploads weights and data, so the first step does not

    times, cpu_times = [], []
    for step in range(1 + case.warmup + case.steps):
        if lazy and step == 1 + case.warmup:
            warm = lazy_counters()
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = work.step()
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    # cpu: CPU time of all the process's threads, which waiting for a core
    # does not inflate; passive OpenMP waits keep idle threads out of it.
    result = {"first_step_s": times[0], "step_s": times[1 + case.warmup:],
              "first_step_cpu_s": cpu_times[0], "step_cpu_s": cpu_times[1 + case.warmup:]}
    if lazy:
        end = lazy_counters()
        result.update(fallbacks=end["fallbacks"], live_tensors=end["live_tensors"],
                      timed_compiles=end["compiles"] - warm["compiles"])
    result["loss"] = loss.item()
    return result


def count_payload_copies(fn, numel):
    """Runs fn() under the profiler; returns its result and how many
    aten::copy_ calls moved a whole payload of `numel` elements."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        out = fn()
    copies = sum(1 for e in prof.events()
                 if e.name == "aten::copy_" and e.input_shapes
                 and e.input_shapes[0] == [numel])
    return out, copies


def run_transfer(args):
    """Upload (x.to('lazy') + mark_step + wait) and download (lazy -> cpu of
    a tensor the device computed) of the same float32 payload, interleaved
    with a memcpy into a freshly allocated tensor (the transfers allocate
    their destination too)."""
    import torch._lazy
    backend = workloads.BACKENDS[args.backend]
    workloads.init_backend(backend)
    sync = step_sync(backend)
    numel = args.mib * 2**20 // 4
    x = torch.randn(numel)

    def memcpy():
        return torch.empty_like(x).copy_(x)

    def upload():
        on_device = x.to("lazy")
        sync()
        return on_device

    on_device = upload()
    computed = on_device + 1  # device data with no host copy behind it
    sync()

    def download():
        return computed.cpu()

    timings = {"memcpy_s": [], "upload_s": [], "download_s": []}
    for _ in range(args.repeats):
        for name, fn in (("memcpy_s", memcpy), ("upload_s", upload),
                         ("download_s", download)):
            start = time.perf_counter()
            out = fn()
            timings[name].append(time.perf_counter() - start)
            del out
    copies = {
        "memcpy": count_payload_copies(memcpy, numel)[1],
        "upload": count_payload_copies(upload, numel)[1],
        "download": count_payload_copies(download, numel)[1],
    }
    check = computed.cpu()
    if not torch.equal(check, x + 1):
        raise RuntimeError("downloaded data differs from what was computed")
    return dict(timings, bytes=numel * 4, payload_copies=copies)


def run_init(args):
    """Time from `import torch` being done to the backend being ready:
    for a plugin, importing ltc_plugins, loading libltc_host.so, finding,
    loading and initialising the plugin."""
    backend = workloads.BACKENDS[args.backend]
    result = {}
    start = time.perf_counter()
    if backend.init not in (None, "in_tree"):
        import ltc_plugins
        ltc_plugins._load_host()
        result["host_load_s"] = time.perf_counter() - start
    workloads.init_backend(backend)
    result["init_s"] = time.perf_counter() - start
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    step = sub.add_parser("step")
    step.add_argument("workload")
    step.add_argument("size")
    step.add_argument("backend")
    step.add_argument("--smoke", action="store_true")
    step.add_argument("--keep-update-history", action="store_true")
    transfer = sub.add_parser("transfer")
    transfer.add_argument("backend")
    transfer.add_argument("--mib", type=int, default=64)
    transfer.add_argument("--repeats", type=int, default=10)
    init = sub.add_parser("init")
    init.add_argument("backend")
    args = parser.parse_args()

    blas = check_openblas()
    torch.set_num_threads(THREADS)
    result = {"step": run_steps, "transfer": run_transfer, "init": run_init}[args.kind](args)
    result.update(kind=args.kind, backend=args.backend, threads=torch.get_num_threads(),
                  blas=blas)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
