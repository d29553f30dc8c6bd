"""torch._lazy.extract_compiled_graph for any plugin.

Same contract as the in-tree version: trace an FX module once on `lazy`,
then replay the compiled graph on new inputs without re-tracing. The
in-tree version reads the TorchScript backend's data structures; this one
asks the host (ops ltc::get_tensors_device_data_node and
ltc::run_cached_graph), so it works with whatever plugin ltc_plugins.init()
loaded.
"""
import copy
from typing import Callable

import torch
import torch._lazy as lazy
import torch._lazy.metrics as metrics
from torch import fx
from torch._lazy.extract_compiled_graph import (
    GraphInputMatcher, ReturnValueHandler, force_lazy_device, get_fallback_ops)

__all__ = ["extract_compiled_graph", "get_tensors_device_data_node", "run_cached_graph"]


def get_tensors_device_data_node(tensors):
    """(tensor ids, host values) of the device data the graph of `tensors`
    reads: tensors for tensor data, numbers for scalar data."""
    ids, values = torch.ops.ltc.get_tensors_device_data_node(tensors)
    return ids, list(values)


def run_cached_graph(graph_hash: bytes, graph_inputs):
    """Runs the cached computation whose hash torch._C._lazy._get_graph_hash
    returned, on `graph_inputs` (tensors and numbers); returns its results."""
    return torch.ops.ltc.run_cached_graph(graph_hash.hex(), list(graph_inputs))


def extract_compiled_graph(model: fx.GraphModule, example_inputs) -> Callable:
    """Traces `model` on `example_inputs` through the plugin and returns a
    function that runs the compiled graph directly. Like the in-tree version
    it relies on its caller (e.g. TorchDynamo guards) to call it only with
    inputs of the traced shapes, and raises RuntimeError when tracing fell
    back to eager ops."""
    lazy_args = [arg.to(device="lazy") for arg in example_inputs]
    args_tensor_ids = [lazy.get_tensor_id(lazy_arg) for lazy_arg in lazy_args]
    tensor_id_to_arg_idx = {tensor_id: i for i, tensor_id in enumerate(args_tensor_ids)}
    lazy_model = copy.deepcopy(model).to(device=torch.device("lazy"))
    force_lazy_device(lazy_model)

    metrics.reset()
    lazy_out = lazy_model(*lazy_args)
    fallback_ops = get_fallback_ops()
    metrics.reset()
    if fallback_ops:
        raise RuntimeError(
            f"Fail to extact the compiled graph because of fallback: {','.join(fallback_ops)}")

    if not isinstance(lazy_out, (tuple, list)):
        lazy_out = (lazy_out,)
    args_and_out = tuple(lazy_args) + tuple(lazy_out)
    return_value_handler = ReturnValueHandler(args_and_out)
    graph_input_matcher = GraphInputMatcher(
        tensor_id_to_arg_idx, *get_tensors_device_data_node(args_and_out))
    graph_hash = torch._C._lazy._get_graph_hash(args_and_out)

    # Syncing caches the computation under graph_hash for the replays.
    lazy.sync_multi(args_and_out, [])

    def optimized_mod(*args):
        if not args_and_out:
            return ()
        results = return_value_handler.duplicate_eager_tensors(
            run_cached_graph(graph_hash, graph_input_matcher(args)))
        assert len(results) == len(args_and_out)
        for i, arg in enumerate(args):
            # Write back only the arguments the graph updated in place.
            if arg is not results[i]:
                arg.copy_(results[i])
        return results[len(args):]

    return optimized_mod
