"""Tensors that cross the plugin ABI as DLPack behave as the in-tree
backend's own: the same strides, resizable storage. Each case runs under
both backends and must print the same (both failed under ts_cpu once; the
conformance suite found them through trace, stft, istft and imag)."""
import pytest

from conftest import run_ok

INIT = {
    "intree": "import torch._lazy.ts_backend; torch._lazy.ts_backend.init()",
    "ts_cpu": "import ltc_plugins; ltc_plugins.init('ts_cpu')",
}

# The graph is `arange(start, end, step, out=p0)` with p0 an empty tensor
# that the graph resizes: a plugin input must have resizable storage.
ARANGE_INTO_EMPTY = """
out = torch.empty(0, dtype=torch.long, device="lazy")
torch.arange(0, 5, out=out)
torch._lazy.mark_step()
print(out.cpu().tolist())
"""

# x * 2 comes back with strides (2, 2, 1); at::toDLPack would make them
# (2, 1, 1), and view_as_complex (an eager fallback) refuses those.
VIEW_AS_COMPLEX_OF_A_RESULT = """
x = torch.arange(6.0).reshape(3, 1, 2).to("lazy")
y = x * 2
torch._lazy.mark_step()
print(y.cpu().stride(), torch.view_as_complex(y).cpu().tolist())
"""


def run_both(code):
    outputs = {}
    for backend, init in INIT.items():
        result = run_ok(f"import torch, torch._lazy\n{init}\n{code}")
        outputs[backend] = result.stdout.strip().splitlines()[-1]
    return outputs


@pytest.mark.parametrize("code", [ARANGE_INTO_EMPTY, VIEW_AS_COMPLEX_OF_A_RESULT],
                         ids=["arange_into_empty", "view_as_complex_of_a_result"])
def test_plugin_tensors_behave_as_in_tree(build_dir, code):
    outputs = run_both(code)
    assert outputs["ts_cpu"] == outputs["intree"]
