"""ltc_plugins.extract_compiled_graph replays traced FX graphs through the
plugin, with the contract of torch._lazy.extract_compiled_graph."""
from conftest import run_ok

PROGRAM = """
import torch, torch._lazy, ltc_plugins
from torch import fx, nn
from ltc_plugins.extract_compiled_graph import extract_compiled_graph

class Addcmul(nn.Module):
    def forward(self, a, b, c):
        return torch.addcmul(a, b, c, value=5)

class InplaceUpdate(nn.Module):
    def forward(self, a, b):
        a.sub_(b)
        return b - 1, b + 1

class ReturnDuplicate(nn.Module):
    def forward(self, a):
        b = a * 2
        return b, b, a + 0

class ConstantScale(nn.Module):
    def forward(self, a):
        return a * 2 + torch.tensor(0.5)

class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
    def forward(self, a):
        return self.linear(a).relu()

class FallsBack(nn.Module):
    def forward(self, a):
        return torch.linalg.svd(a).S

ltc_plugins.init()
torch.manual_seed(0)
report = {}
for module, shapes in [(Addcmul(), [(2, 3)] * 3), (InplaceUpdate(), [(2, 3)] * 2),
                       (ReturnDuplicate(), [(3,)]), (ConstantScale(), [(2, 2)]),
                       (Linear(), [(5, 4)])]:
    name = type(module).__name__
    graph = fx.symbolic_trace(module)
    compiled = extract_compiled_graph(graph, [torch.randn(*s) for s in shapes])
    ok = True
    for trial in range(3):
        inputs = [torch.randn(*s) for s in shapes]
        expected_inputs = [t.clone() for t in inputs]
        expected = module(*expected_inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = compiled(*inputs)
        ok = ok and len(got) == len(expected) and all(
            torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))
        ok = ok and all(torch.equal(i, e) for i, e in zip(inputs, expected_inputs))
    report[name] = ok
try:
    extract_compiled_graph(fx.symbolic_trace(FallsBack()), [torch.randn(3, 3)])
    report["FallsBack"] = "no error"
except RuntimeError as e:
    report["FallsBack"] = "because of fallback" in str(e)
import torch._lazy.metrics as metrics
compiled = extract_compiled_graph(fx.symbolic_trace(Linear()), [torch.randn(5, 4)])
metrics.reset()
for _ in range(3):
    compiled(torch.randn(5, 4))
report["replay_counters"] = {name: metrics.counter_value(name) or 0
                             for name in ("PluginExecute", "PluginCompile", "UncachedCompile")}
ids, values = ltc_plugins.extract_compiled_graph.get_tensors_device_data_node(
    [torch.ones(2).to("lazy") * 3.5])
report["device_data"] = (len(ids) == len(values) >= 1
                         and all(isinstance(v, (torch.Tensor, float, int)) for v in values))
print(report)
"""


def test_replays_fx_graphs_like_eager(build_dir):
    values = run_ok(PROGRAM).values()
    assert values == {"Addcmul": True, "InplaceUpdate": True, "ReturnDuplicate": True,
                      "ConstantScale": True, "Linear": True, "FallsBack": True,
                      "device_data": True,
                      "replay_counters": {"PluginExecute": 3, "PluginCompile": 0,
                                          "UncachedCompile": 0}}
