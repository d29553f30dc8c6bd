"""What `make bench` measures, shared by the driver (run.py) and the
workers (worker.py): the backends, and the training steps run on each.

Every backend runs the same step on the same initial weights and data; only
the device and how the lazy core's backend is initialised differ."""
import math
import sys
from collections import namedtuple
from pathlib import Path

import torch

# The model zoo the tests train (tests/python/model_zoo.py), measured here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import model_zoo  # noqa: E402

# name: label in the table; device: where the model lives; init: how the
# worker makes the lazy core's backend ("in_tree", a plugin name, or None);
# env: extra environment for that backend's worker processes; cuda: runs on
# a CUDA GPU (the worker then waits for the GPU after each step).
Backend = namedtuple("Backend", "name device init env cuda", defaults=(False,))

# Every backend the harness knows, in table order. ts_cpu_noopt is ts_cpu
# with its graph rewrites off (the plugin reads LTC_TS_OPTIMIZE),
# ts_cpu_nodonate with the host's donation off (LTC_DONATE=0); the in-tree
# backend runs on CUDA with LTC_TS_CUDA=1.
BACKENDS = {b.name: b for b in [
    Backend("eager", "cpu", None, {}),
    Backend("in_tree", "lazy", "in_tree", {}),
    Backend("ts_cpu", "lazy", "ts_cpu", {}),
    Backend("ts_cpu_noopt", "lazy", "ts_cpu", {"LTC_TS_OPTIMIZE": "0"}),
    Backend("ts_cpu_nodonate", "lazy", "ts_cpu", {"LTC_DONATE": "0"}),
    Backend("ref_cpu", "lazy", "ref_cpu", {}),
    Backend("eager_cuda", "cuda", None, {}, cuda=True),
    Backend("in_tree_cuda", "lazy", "in_tree", {"LTC_TS_CUDA": "1"}, cuda=True),
    Backend("ts_cuda", "lazy", "ts_cuda", {}, cuda=True),
]}
CUDA_BACKENDS = [name for name, b in BACKENDS.items() if b.cuda]


def cuda_available():
    return torch.cuda.is_available()


# The CUDA backends join the default set where torch sees a GPU.
DEFAULT_BACKENDS = (["eager", "in_tree", "ts_cpu", "ts_cpu_noopt", "ref_cpu"]
                    + (CUDA_BACKENDS if cuda_available() else []))


def references(backend):
    """The in-tree and eager backends `backend`'s ratios compare with: those
    on the same kind of device."""
    return ("in_tree_cuda", "eager_cuda") if backend.cuda else ("in_tree", "eager")

# Backends measured against another plugin too: (backend, other, goal for
# the ratio of their steady steps on the 256x1024 MLP).
PLUGIN_PAIRS = [("ref_cpu", "ts_cpu", 1.5)]

# The configuration the step-time budget compares with the in-tree backend:
# the plugin with its own optimisations off, when that was run.
PLUGIN_NOOPT_PREFERENCE = ["ts_cpu_noopt", "ts_cpu"]


def init_backend(backend):
    """Makes `backend` the lazy core's backend in this process."""
    if backend.init is None:
        return
    import torch._lazy  # noqa: F401  (registers the lazy device's Python side)
    if backend.init == "in_tree":
        import torch._lazy.ts_backend
        torch._lazy.ts_backend.init()
    else:
        import ltc_plugins
        name = ltc_plugins.init(backend.init)
        if name != backend.init:
            raise RuntimeError(f"asked for plugin {backend.init}, got {name}")


class Workload:
    """One model, one batch, one optimizer: `step()` is one training step
    (zero_grad, forward, loss, backward, SGD update) on `device`, traced but
    not synchronised: the worker adds mark_step + wait_device_ops."""

    def __init__(self, model, inputs, target, loss_fn, device):
        self.model = model.to(device)
        self.inputs = inputs.to(device)
        self.target = target.to(device)
        self.loss_fn = loss_fn
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)

    def step(self):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.inputs), self.target)
        loss.backward()
        self.optimizer.step()
        return loss


def mlp(device, batch, width):
    """Three linear layers, ReLU between, cross-entropy over 10 classes."""
    model = torch.nn.Sequential(
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, 10))
    return Workload(model, torch.randn(batch, width), torch.randint(0, 10, (batch,)),
                    torch.nn.functional.cross_entropy, device)


def cnn(device, batch, channels):
    """Two conv / batch norm / ReLU / max-pool blocks on 32x32 RGB images,
    then a linear classifier over 10 classes."""
    c1, c2 = channels, 2 * channels
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, c1, 3, padding=1), torch.nn.BatchNorm2d(c1),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3, padding=1), torch.nn.BatchNorm2d(c2),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(c2 * 8 * 8, 10))
    return Workload(model, torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,)),
                    torch.nn.functional.cross_entropy, device)


class EncoderLayer(torch.nn.Module):
    """A post-norm transformer encoder layer, as nn.TransformerEncoderLayer
    computes it without dropout: multi-head self-attention, then a ReLU
    feed-forward block, each with a residual and LayerNorm.

    Written out because nn.MultiheadAttention cannot run on the lazy device
    in torch 1.13.1: it splits its packed q/k/v projection with chunk(), and
    chunk/split/unbind of a lazy tensor return CPU tensors there (the next
    op aborts with "Input tensor is not a lazy tensor"). Slicing works."""

    def __init__(self, d_model, heads, d_ff):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(d_model, 3 * d_model)
        self.out = torch.nn.Linear(d_model, d_model)
        self.ff1 = torch.nn.Linear(d_model, d_ff)
        self.ff2 = torch.nn.Linear(d_ff, d_model)
        self.norm1 = torch.nn.LayerNorm(d_model)
        self.norm2 = torch.nn.LayerNorm(d_model)

    def forward(self, x):
        batch, seq, d_model = x.shape
        head_dim = d_model // self.heads
        qkv = self.qkv(x)

        def heads(part):  # (batch, heads, seq, head_dim)
            return (qkv[..., part * d_model:(part + 1) * d_model]
                    .reshape(batch, seq, self.heads, head_dim).transpose(1, 2))

        q, k, v = heads(0), heads(1), heads(2)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(head_dim), dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(batch, seq, d_model)
        x = self.norm1(x + self.out(attended))
        return self.norm2(x + self.ff2(torch.relu(self.ff1(x))))


def transformer(device, batch, seq, d_model):
    """One encoder layer (4 heads, feed-forward 4 x d_model) regressed to a
    fixed target with a squared error (written out: the lazy core of torch
    1.13.1 has no lowering for mse_loss and would run it eagerly)."""
    return Workload(EncoderLayer(d_model, 4, 4 * d_model), torch.randn(batch, seq, d_model),
                    torch.randn(batch, seq, d_model), squared_error, device)


def squared_error(output, target):
    return (output - target).pow(2).mean()


Case = namedtuple("Case", "workload size build warmup steps")

# (workload, size label, builder, warm-up steps, timed steps). Warm-up covers
# the lazy core's compiles (the first two steps trace different graphs: SGD
# creates its momentum buffers in the first) and TorchScript's profiling and
# optimising runs. Timed steps last about a second per process, so that a
# burst of load on a shared machine moves a median less. With
# --keep-update-history, LibTorch 1.13 keeps every value an in-place op
# replaced, so lazy steps slow down the more steps a process has run (see
# worker.py's live_tensors).
CASES = [
    Case("mlp", "8x32", lambda d: mlp(d, 8, 32), 20, 400),
    Case("mlp", "64x256", lambda d: mlp(d, 64, 256), 20, 200),
    Case("mlp", "256x1024", lambda d: mlp(d, 256, 1024), 5, 30),
    Case("cnn", "32x3x32x32", lambda d: cnn(d, 32, 16), 5, 40),
    Case("transformer", "16x64x128", lambda d: transformer(d, 16, 64, 128), 5, 40),
]

# The model zoo: real models (model_zoo.py, SGD with momentum), one batch
# each. The in-tree backend aborts on the sequence models under LibTorch
# 1.13 (chunk/split/unbind) and runs the mobile CNNs with eager fallbacks
# (hardtanh): the table says which it cannot run.
ZOO = [("mobilenet_v2", "4x3x64x64"), ("resnet18", "4x3x64x64"),
       ("shufflenet_v2", "4x3x64x64"), ("transformer_encoder_batch_first", "4x6x16"),
       ("lstm_batch_first", "4x6x16")]
ZOO_CASES = [Case(name, size, lambda d, name=name: model_zoo.build(name, "sgd", d), 3, 10)
             for name, size in ZOO]
CASES += ZOO_CASES
ZOO_WORKLOADS = [name for name, _ in ZOO]

# --smoke: the smallest size of each workload, two timed steps after the
# two steps that compile its graphs.
SMOKE_CASES = [
    Case("mlp", "8x32", lambda d: mlp(d, 8, 32), 2, 2),
    Case("cnn", "2x3x32x32", lambda d: cnn(d, 2, 4), 2, 2),
    Case("transformer", "2x8x32", lambda d: transformer(d, 2, 8, 32), 2, 2),
]


def find_case(workload, size, smoke=False):
    for case in SMOKE_CASES if smoke else CASES:
        if case.workload == workload and case.size == size:
            return case
    raise KeyError(f"no workload {workload} {size}")
