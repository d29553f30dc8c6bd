"""Real models train on lazy through ts_cpu as they do on eager: the
sequence layers of torch.nn (both batch layouts) and torchvision's vision
architectures (model_zoo.py), with no eager fallback in any step. Losses
and the final parameters and buffers (BatchNorm's running statistics too)
are compared with eager's, so a wrong gradient fails here."""
import json
import math
import subprocess
import sys

import pytest

import model_zoo
from conftest import HERE, child_env

STEPS = 3


def train(name, optimizer="sgd"):
    completed = subprocess.run(
        [sys.executable, str(HERE / "model_zoo.py"), name, "--steps", str(STEPS),
         "--optimizer", optimizer],
        env=child_env(), capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def assert_trained_like_eager(report):
    eager, lazy = report["eager_losses"], report["lazy_losses"]
    assert all(math.isfinite(loss) for loss in eager), report
    assert lazy == pytest.approx(eager, rel=1e-4, abs=1e-5), report
    assert report["fallbacks"] == [{}] * STEPS, report["fallbacks"]


@pytest.mark.parametrize("name", sorted(model_zoo.MODELS))
def test_model_trains_on_lazy_like_eager_with_no_fallback(build_dir, name):
    report = train(name)
    assert_trained_like_eager(report)
    # SGD moves each weight by its gradient: every parameter and buffer
    # ends where eager's does, relative to its own magnitude.
    worst = max(report["state_differences"].items(), key=lambda item: item[1])
    assert worst[1] <= 1e-3, worst


# Adam normalises each gradient by its own running magnitude, so a weight
# whose gradient is zero up to rounding (an attention key bias) moves by
# about lr on either side on both devices: only the losses are compared.
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
@pytest.mark.parametrize("name", ["transformer_encoder_batch_first", "lstm_seq_first",
                                  "mobilenet_v2"])
def test_optimizer_steps_on_lazy_like_eager_with_no_fallback(build_dir, name, optimizer):
    assert_trained_like_eager(train(name, optimizer))
