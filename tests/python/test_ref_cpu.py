"""ref_cpu end to end: a backend with no LibTorch in it, reading ltc-graph-v1,
trains like eager.

LTC_TEST_REF_CPU_DIR: the directory of the libltc_ref_cpu.so to load instead
of this build's (tests/torch2/run.sh passes the 1.13 build's, so that one
binary is proven under both PyTorch versions)."""
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, run_ok, run_python

REF_CPU_DIR = Path(os.environ.get("LTC_TEST_REF_CPU_DIR", PLUGIN_DIR))
REF_CPU = REF_CPU_DIR / "libltc_ref_cpu.so"
# ref_cpu alone, copied out of its directory: a directory of another build
# also holds TorchScript plugins linked against that build's LibTorch, which
# listing the plugins would load.
ALONE = Path(tempfile.mkdtemp(prefix="ltc-ref-cpu-"))
ENV = {"LTC_PLUGIN_PATH": str(ALONE)}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

INIT = """
import torch, torch._lazy, ltc_plugins
name = ltc_plugins.init("ref_cpu")
loaded = [p for p in ltc_plugins.plugins() if p["name"] == "ref_cpu"][0]
"""

TRAIN_MLP = INIT + """
import training
losses, weights = training.run({device!r})
print({{"losses": losses, "weights": weights, "path": loaded["path"]}})
"""

# conv2d (and its backward), batch norm, max-pool, a linear head, cross
# entropy, SGD with momentum.
TRAIN_CNN = INIT + """
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 8, 3, stride=2), torch.nn.ReLU(),
    torch.nn.Flatten(), torch.nn.Linear(8, 10))
x = torch.randn(6, 1, 8, 8)
y = torch.randint(0, 10, (6,))
device = {device!r}
model = model.to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
losses = []
for _ in range(4):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
    loss.backward()
    optimizer.step()
    if device == "lazy":
        torch._lazy.mark_step()
    losses.append(loss.item())
state = {{k: v.detach().cpu().flatten().tolist() for k, v in model.state_dict().items()}}
print({{"losses": losses, "state": state}})
"""


def train(script, device, env=None):
    """`script` run on `device`; on the CPU without initialising any backend."""
    code = script.format(device=device)
    if device == "cpu":
        code = code.replace(INIT, "import torch, torch._lazy\nloaded = {'path': ''}\n", 1)
    return run_ok(code, env=env).values()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def ref_cpu(build_dir):
    if not REF_CPU.exists():
        pytest.fail(f"no {REF_CPU}: the build makes it (plugins/ref_cpu)")
    for name in (REF_CPU.name, "ref_cpu.ltcplugin"):
        shutil.copy2(REF_CPU_DIR / name, ALONE / name)
    return ALONE / REF_CPU.name


def test_ref_cpu_is_listed_without_libtorch(ref_cpu):
    values = run_ok(INIT + "print(loaded)", env=ENV).values()
    assert values["graph_formats"] == ["ltc-graph-v1"]
    assert values["libtorch"] == ""
    assert values["available"] is True


def test_ref_cpu_trains_the_mlp_like_eager(ref_cpu):
    eager = train(TRAIN_MLP, "cpu")
    lazy = train(TRAIN_MLP, "lazy", env=ENV)
    assert Path(lazy["path"]).resolve() == ref_cpu.resolve()
    assert sha256(ref_cpu) == sha256(REF_CPU)
    print(f"ref_cpu: {REF_CPU} (sha256 {sha256(REF_CPU)[:16]})")
    assert lazy["losses"] == pytest.approx(eager["losses"], rel=1e-5, abs=1e-6)
    for ours, theirs in zip(lazy["weights"], eager["weights"]):
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)
    assert lazy["losses"][-1] < lazy["losses"][0], "the model did not learn"


def test_ref_cpu_trains_a_small_cnn_like_eager(ref_cpu):
    eager = train(TRAIN_CNN, "cpu")
    lazy = train(TRAIN_CNN, "lazy", env=ENV)
    assert lazy["losses"] == pytest.approx(eager["losses"], rel=1e-4, abs=1e-5)
    assert lazy["state"].keys() == eager["state"].keys()
    for name in eager["state"]:  # weights, and batch norm's running statistics
        assert lazy["state"][name] == pytest.approx(eager["state"][name], rel=1e-3, abs=1e-4), name
    assert lazy["losses"][-1] < lazy["losses"][0], "the model did not learn"


def test_ref_cpu_trains_the_digits_demo_like_eager(ref_cpu):
    pytest.importorskip("sklearn", reason="the demo's data set comes from scikit-learn")
    result = run_python(f"import runpy, sys; sys.argv = ['train_digits.py', '--epochs', '3', "
                        f"'--backend', 'ref_cpu']; "
                        f"runpy.run_path({str(EXAMPLES / 'train_digits.py')!r}, "
                        f"run_name='__main__')", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lazy backend: ref_cpu" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0].isdigit()]
    assert len(rows) == 3
    for _, eager_loss, lazy_loss, *_ in rows:
        assert float(lazy_loss) == pytest.approx(float(eager_loss), rel=1e-4)


def test_an_op_ref_cpu_lacks_is_refused_at_compile_naming_it(ref_cpu):
    result = run_python(INIT + """
x = torch.rand(3, 3).to("lazy")
try:
    torch.trace(x).cpu()
except RuntimeError as error:
    print(str(error).splitlines()[0])
print((x + 1).sum().item() > 0)  # and the client still works
""", env=ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ref_cpu: compile: UNIMPLEMENTED: aten::trace is not supported", "True"]


def test_int64_and_bool_graphs_run(ref_cpu):
    values = run_ok(INIT + """
a = torch.arange(12).reshape(3, 4).to("lazy")
b = (a % 3 == 0)
s = (a * 2 + 1).sum(dim=1)
m = torch.where(b, a, -a).max()
print({"s": s.cpu().tolist(), "b": b.cpu().tolist(), "m": m.item(), "dtype": str(s.dtype)})
""", env=ENV).values()
    assert values["s"] == [16, 48, 80]
    assert values["b"][0] == [True, False, False, True]
    assert values["m"] == 9
    assert values["dtype"] == "torch.int64"
