// Test-only ops for switches of LibTorch's lazy core that Python cannot
// reach: torch.ops.load_library(...); torch.ops.ltc_test.use_thread_pool(True)
#include <torch/csrc/lazy/core/config.h>
#include <torch/library.h>

TORCH_LIBRARY(ltc_test, m) {
  // Makes mark_step run graphs on the lazy core's own worker thread.
  m.def("use_thread_pool(bool enabled) -> ()",
        [](bool enabled) { FLAGS_torch_lazy_use_thread_pool = enabled; });
}
