"""A short soak (tests/soak/soak.py; `make soak` runs the long one): after
warm-up, training the MLP and the CNN on lazy through ts_cpu leaves exactly
as many live lazy tensors, plugin buffers and executables, and compiles as
many graphs, after every step as before it."""
from pathlib import Path

import pytest

from conftest import run_ok

SOAK_DIR = Path(__file__).resolve().parents[1] / "soak"
COUNTS = ["live_tensors", "live_buffers", "live_executables", "compiles"]
# Growth of RSS over a short run that no allocator explains: a leak of a
# few KiB per step shows in the counts long before it shows here.
RSS_BOUND_MIB = 64

TRAIN = """
import sys
sys.path.insert(0, {soak_dir!r})
import soak, torch
rows = soak.train({model!r}, {steps}, keep_update_history={keep})
print({{"rows": rows, "torch": torch.__version__}})
"""


def train(model, steps, keep_update_history=False):
    """The rows soak.train reports at every 10% of `steps`, and the
    version of torch it ran."""
    values = run_ok(TRAIN.format(soak_dir=str(SOAK_DIR), model=model, steps=steps,
                                keep=keep_update_history)).values()
    return values["rows"], values["torch"]


@pytest.mark.parametrize("model, steps", [("mlp", 500), ("cnn", 300)])
def test_counts_stay_flat_after_warm_up(build_dir, model, steps):
    # The first report (step steps/10) comes after the two steps that
    # compile: the second traces the momentum buffers the first created.
    rows, _ = train(model, steps)
    first = rows[0]
    assert first["compiles"] >= 1 and first["live_buffers"] >= 1 and first["live_tensors"] >= 1
    for row in rows[1:]:
        assert {c: row[c] for c in COUNTS} == {c: first[c] for c in COUNTS}, rows
    assert rows[-1]["rss_mib"] - first["rss_mib"] < RSS_BOUND_MIB, rows


def test_counts_show_the_update_history_leak(build_dir):
    # What the counts show for a leak: without drop_update_history, LibTorch
    # 1.13 keeps one more lazy tensor per in-place op every step (PyTorch
    # 2.x frees them, so there the counts stay flat); each kept value is
    # computed and stored, a plugin buffer too.
    rows, torch_version = train("mlp", 50, keep_update_history=True)
    for count in ["live_tensors", "live_buffers"]:
        values = [row[count] for row in rows]
        if torch_version.startswith("1.13"):
            assert all(a < b for a, b in zip(values, values[1:])), (count, values)
        else:
            assert len(set(values)) == 1, (count, values)


def test_live_tensors_counts_the_lazy_tensors_alive(build_dir):
    values = run_ok("""
        import torch, ltc_plugins
        ltc_plugins.init()
        counts = [ltc_plugins.live_tensors()]
        # (torch.ones(3, device="lazy") would be two: 1.13 keeps the value
        # its in-place fill replaced, the leak mark_step drops.)
        a = torch.ones(3).to("lazy")
        b = a * 2          # traced, not computed: alive all the same
        c = torch.ones(3)  # not lazy
        counts.append(ltc_plugins.live_tensors())
        del a
        counts.append(ltc_plugins.live_tensors())
        del b
        counts.append(ltc_plugins.live_tensors())
        print(counts)
    """).values()
    assert values == [0, 2, 1, 0]
