"""Real models, trained on eager and on lazy from the same weights and data:
the sequence layers of torch.nn and a spread of torchvision's vision
architectures. Used by test_model_zoo.py (losses, final state and eager
fallbacks compared) and by make bench's model-zoo workloads.

Dropout is off everywhere: lazy draws its random numbers from another
stream than eager, so only deterministic models can be compared.

    python3 model_zoo.py MODEL [--steps N] [--optimizer sgd|adam|adamw]
                               [--backend ts_cpu|in_tree] [--out FILE]
trains MODEL on both devices in this process and prints (or writes to FILE)
a dict: per-step losses of each, the eager fallbacks of each lazy step, and
the largest difference of every parameter and buffer, relative to its
magnitude."""
import argparse
import copy
import json
import math
from collections import namedtuple

import torch

# build() -> (module, inputs tuple, target, loss function), on the CPU.
# chaotic: eager's own loss after the first step moves by more than float
# tolerance when its weights move by float rounding (measured: weights
# scaled by 1 + 1e-7 * randn change MobileNetV2's second loss by 1.6% and
# MnasNet's third by 15%: BatchNorm over 16 values per channel at the last
# stages of 4 images of 64x64). Lazy matches such a model bit for bit or
# only in its first step.
Model = namedtuple("Model", "name build chaotic", defaults=(False,))

SEQUENCE_BATCH, SEQUENCE_LENGTH, D_MODEL = 4, 6, 16


def _sequence_input(batch_first):
    shape = ((SEQUENCE_BATCH, SEQUENCE_LENGTH, D_MODEL) if batch_first
             else (SEQUENCE_LENGTH, SEQUENCE_BATCH, D_MODEL))
    return torch.randn(*shape)


class _Head(torch.nn.Module):
    """A sequence layer and a linear read-out; recurrent layers return
    (output, state) and attention (output, weights): the output is taken."""

    def __init__(self, layer, width):
        super().__init__()
        self.layer = layer
        self.out = torch.nn.Linear(width, D_MODEL)

    def forward(self, *inputs):
        result = self.layer(*inputs)
        return self.out(result[0] if isinstance(result, tuple) else result)


def _mse(output, target):
    return torch.nn.functional.mse_loss(output, target)


def _encoder(batch_first):
    layer = torch.nn.TransformerEncoderLayer(
        D_MODEL, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=batch_first)
    x = _sequence_input(batch_first)
    return _Head(layer, D_MODEL), (x,), torch.randn_like(x), _mse


def _decoder(batch_first):
    layer = torch.nn.TransformerDecoderLayer(
        D_MODEL, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=batch_first)
    tgt, memory = _sequence_input(batch_first), _sequence_input(batch_first)
    return _Head(layer, D_MODEL), (tgt, memory), torch.randn_like(tgt), _mse


class _SelfAttention(torch.nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(
            D_MODEL, num_heads=4, dropout=0.0, batch_first=batch_first)

    def forward(self, x):
        return self.attention(x, x, x)


def _attention(batch_first):
    x = _sequence_input(batch_first)
    return _Head(_SelfAttention(batch_first), D_MODEL), (x,), torch.randn_like(x), _mse


def _recurrent(kind, batch_first):
    layer = kind(D_MODEL, 24, num_layers=2, batch_first=batch_first)
    x = _sequence_input(batch_first)
    return _Head(layer, 24), (x,), torch.randn_like(x), _mse


def _no_dropout(module):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Dropout):
            setattr(module, name, torch.nn.Identity())
        else:
            _no_dropout(child)
    return module


def _vision(constructor, size=64, **kwargs):
    import torchvision
    model = _no_dropout(getattr(torchvision.models, constructor)(num_classes=10, **kwargs))
    images = torch.randn(4, 3, size, size)
    return model, (images,), torch.tensor([3, 7, 1, 0]), torch.nn.functional.cross_entropy


SEQUENCE_MODELS = [
    Model(f"{name}_{layout}", lambda build=build, bf=(layout == "batch_first"): build(bf))
    for name, build in [
        ("transformer_encoder", _encoder),
        ("transformer_decoder", _decoder),
        ("multihead_attention", _attention),
        ("lstm", lambda bf: _recurrent(torch.nn.LSTM, bf)),
        ("gru", lambda bf: _recurrent(torch.nn.GRU, bf)),
    ]
    for layout in ("batch_first", "seq_first")
]

VISION_MODELS = [
    Model("mobilenet_v2", lambda: _vision("mobilenet_v2"), chaotic=True),
    Model("mobilenet_v3_small", lambda: _vision("mobilenet_v3_small"), chaotic=True),
    Model("resnet18", lambda: _vision("resnet18")),
    Model("shufflenet_v2", lambda: _vision("shufflenet_v2_x0_5"), chaotic=True),
    Model("squeezenet", lambda: _vision("squeezenet1_1")),
    Model("mnasnet", lambda: _vision("mnasnet0_5"), chaotic=True),
]

MODELS = {m.name: m for m in SEQUENCE_MODELS + VISION_MODELS}

OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01),
}


def fallback_counts():
    """The lazy core's eager fallbacks so far: its counters named aten::..."""
    import torch._lazy.metrics as metrics
    return {name: metrics.counter_value(name) for name in metrics.counter_names()
            if name.startswith("aten::")}


def _delta(before, after):
    return {name: count - before.get(name, 0) for name, count in after.items()
            if count != before.get(name, 0)}


class Training:
    """One model on one device with its optimizer; step() trains one batch
    and returns the loss, a tensor on the model's device (not read back)."""

    def __init__(self, model, inputs, target, loss_fn, optimizer, device):
        self.device = device
        self.model = model.to(device)
        self.inputs = tuple(x.to(device) for x in inputs)
        self.target = target.to(device)
        self.loss_fn = loss_fn
        self.optimizer = OPTIMIZERS[optimizer](self.model.parameters())

    def step(self):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(*self.inputs), self.target)
        loss.backward()
        self.optimizer.step()
        return loss


def build(name, optimizer, device):
    """MODELS[name] from torch.manual_seed(0), on `device`."""
    torch.manual_seed(0)
    return Training(*MODELS[name].build(), optimizer, device)


def init_lazy(backend):
    import torch._lazy  # noqa: F401
    if backend == "in_tree":
        import torch._lazy.ts_backend
        torch._lazy.ts_backend.init()
    else:
        import ltc_plugins
        ltc_plugins.init(backend)


def _relative_difference(a, b, floor=1e-6):
    """max |a - b| relative to max |a|, or to `floor` where that is smaller."""
    if not a.is_floating_point():
        return 0.0 if torch.equal(a, b) else math.inf
    if not a.numel():
        return 0.0
    return (a - b).abs().max().item() / max(a.abs().max().item(), floor)


def _gradients_and_buffers(training):
    return ({name: p.grad.detach().to("cpu").clone() for name, p in
             training.model.named_parameters() if p.grad is not None},
            {name: b.detach().to("cpu").clone() for name, b in training.model.named_buffers()})


def _state(training):
    return {key: value.detach().to("cpu") for key, value in training.model.state_dict().items()}


def _differences(eager, lazy, floor=1e-6):
    return {key: _relative_difference(value, lazy[key], floor) for key, value in eager.items()}


def compare(name, steps=3, optimizer="sgd", backend="ts_cpu"):
    """Trains `name` on eager, then on lazy: losses, per-step fallbacks, the
    gradients and buffers after the first step and the parameters and
    buffers at the end, each as its largest difference from eager's
    relative to its own magnitude. A gradient's is relative to the model's
    largest gradient where its own is under a thousandth of that: some
    gradients are zero but for rounding (a bias that a BatchNorm after it
    cancels: MobileNetV2's features.1.conv.2.bias, 7e-7 where the largest
    is 26, differs by 9e-7 under LibTorch 2.11, whose eager BatchNorm
    backward is another kernel than the lazy core's)."""
    import torch._lazy
    import torch._lazy.metrics
    eager = build(name, optimizer, "cpu")
    eager_losses = [eager.step().item()]
    eager_first = _gradients_and_buffers(eager)
    eager_losses += [eager.step().item() for _ in range(steps - 1)]

    init_lazy(backend)
    lazy = build(name, optimizer, "lazy")
    torch._lazy.mark_step()  # the upload of weights and data is no step
    torch._lazy.metrics.reset()
    lazy_losses, fallbacks = [], []
    for step in range(steps):
        before = fallback_counts()
        loss = lazy.step()
        torch._lazy.mark_step()
        lazy_losses.append(loss.detach().to("cpu").item())
        fallbacks.append(_delta(before, fallback_counts()))
        if step == 0:
            lazy_first = _gradients_and_buffers(lazy)
    largest_gradient = max(g.abs().max().item() for g in eager_first[0].values())
    return {"model": name, "optimizer": optimizer, "chaotic": MODELS[name].chaotic,
            "eager_losses": eager_losses, "lazy_losses": lazy_losses, "fallbacks": fallbacks,
            "first_step_gradients": _differences(eager_first[0], lazy_first[0],
                                                 1e-3 * largest_gradient),
            "first_step_buffers": _differences(eager_first[1], lazy_first[1]),
            "state_differences": _differences(_state(eager), _state(lazy))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    parser.add_argument("--backend", default="ts_cpu")
    parser.add_argument("--out")
    args = parser.parse_args()
    report = compare(args.model, args.steps, args.optimizer, args.backend)
    text = json.dumps(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
