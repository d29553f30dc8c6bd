#include "executable.h"

#include "dispatch.h"

#include <cstring>
#include <new>

namespace ltc::ref_cpu {

using plugin::Error;

namespace {

constexpr uint32_t kNever = 0xFFFFFFFF;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "" when `t` fits `type`, else what does not. A value of unknown rank is
// not checked: the host types such values (between two ops of one lazy IR
// node) with a guessed dtype (graph-format.md, "Writing it").
std::string Mismatch(const Tensor& t, const graph::ValueType& type) {
  if (!type.shape) return "";
  if (t.dtype() != type.dtype) {
    return DtypeName(t.dtype()) + ", the graph says " + DtypeName(type.dtype);
  }
  const std::vector<int64_t>& want = *type.shape;
  bool fits = want.size() == t.shape().size();
  for (size_t d = 0; fits && d < want.size(); ++d) {
    fits = want[d] == graph::kUnknownDim || want[d] == t.shape()[d];
  }
  if (fits) return "";
  std::string declared = "[";
  for (size_t d = 0; d < want.size(); ++d) {
    declared += (d ? ", " : "") + (want[d] == graph::kUnknownDim ? std::string("?")
                                                                  : std::to_string(want[d]));
  }
  return "shape " + ShapeString(t.shape()) + ", the graph says " + declared + "]";
}

// The tensors a node reads.
std::vector<const Tensor*> Inputs(const graph::Node& node, const std::vector<Tensor>& values) {
  std::vector<const Tensor*> inputs;
  for (const graph::Argument& a : node.arguments) {
    if (const auto* v = std::get_if<graph::ValueId>(&a)) inputs.push_back(&values[v->index]);
    if (const auto* list = std::get_if<std::vector<graph::OptionalValue>>(&a)) {
      for (const graph::OptionalValue& e : *list) {
        if (e) inputs.push_back(&values[e->index]);
      }
    }
  }
  return inputs;
}

Tensor Fresh(const Tensor& t) {
  Tensor out = Tensor::Empty(t.dtype(), t.shape());
  if (t.nbytes() != 0) std::memcpy(out.mutable_raw(), t.raw(), t.nbytes());
  return out;
}

}  // namespace

RefExecutable::RefExecutable(graph::Graph graph) : graph_(std::move(graph)) {
  const KernelRegistry& registry = Kernels();
  const auto& nodes = graph_.nodes();
  kernels_.reserve(nodes.size());
  for (const graph::Node& node : nodes) {
    Kernel kernel = registry.Find(node.full_name());
    if (kernel == nullptr) {
      throw Error(LTC_ERROR_UNIMPLEMENTED, node.full_name() + " is not supported");
    }
    kernels_.push_back(kernel);
  }

  for (const graph::Constant& c : graph_.constants()) {
    const graph::ValueType& type = graph_.type(c.value);
    if (!IsSupportedDtype(type.dtype)) {
      throw Error(LTC_ERROR_UNIMPLEMENTED,
                  "constants of dtype " + DtypeName(type.dtype) + " are not supported");
    }
    Tensor t = Tensor::Empty(type.dtype, *type.shape);
    if (!c.bytes.empty()) std::memcpy(t.mutable_raw(), c.bytes.data(), c.bytes.size());
    constants_.push_back(std::move(t));
  }

  // The last node that reads each value; outputs are never released.
  const size_t num_values = graph_.values().size();
  std::vector<uint32_t> last_use(num_values, kNever);
  auto use = [&](graph::ValueId v, uint32_t n) { last_use[v.index] = n; };
  for (uint32_t n = 0; n < nodes.size(); ++n) {
    for (const graph::Argument& a : nodes[n].arguments) {
      if (const auto* v = std::get_if<graph::ValueId>(&a)) use(*v, n);
      if (const auto* list = std::get_if<std::vector<graph::OptionalValue>>(&a)) {
        for (const graph::OptionalValue& e : *list) {
          if (e) use(*e, n);
        }
      }
    }
    // An output nobody reads goes as soon as its node has run.
    for (graph::ValueId out : nodes[n].outputs) {
      if (last_use[out.index] == kNever) last_use[out.index] = n;
    }
  }
  for (graph::ValueId out : graph_.outputs()) last_use[out.index] = kNever;
  release_after_.resize(nodes.size());
  for (uint32_t v = 0; v < num_values; ++v) {
    if (last_use[v] != kNever) release_after_[last_use[v]].push_back(v);
  }
}

std::vector<Tensor> RefExecutable::Run(std::vector<Tensor> inputs) const {
  const size_t num_params = graph_.num_parameters();
  if (inputs.size() != num_params) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "the graph takes " + std::to_string(num_params) + " arguments, got " +
                    std::to_string(inputs.size()));
  }
  std::vector<Tensor> values(graph_.values().size());
  for (size_t p = 0; p < num_params; ++p) {
    const std::string wrong = Mismatch(inputs[p], graph_.values()[p]);
    if (!wrong.empty()) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT,
                  "parameter " + std::to_string(p) + ": the buffer is " + wrong);
    }
    values[p] = std::move(inputs[p]);
  }
  for (size_t c = 0; c < constants_.size(); ++c) values[num_params + c] = constants_[c];

  const auto& nodes = graph_.nodes();
  for (size_t n = 0; n < nodes.size(); ++n) {
    const graph::Node& node = nodes[n];
    const std::string op = node.full_name();
    std::vector<Tensor> outputs;
    try {
      outputs = kernels_[n](KernelArgs(node, values, &graph_.values()));
    } catch (const Error& e) {
      if (StartsWith(e.what(), op)) throw;
      throw Error(e.code(), op + ": " + e.what());
    } catch (const std::bad_alloc&) {
      throw Error(LTC_ERROR_RESOURCE_EXHAUSTED, op + ": out of memory");
    } catch (const std::exception& e) {
      throw Error(LTC_ERROR_INTERNAL, op + ": " + e.what());
    }
    if (outputs.size() != node.outputs.size()) {
      throw Error(LTC_ERROR_INTERNAL, op + ": returned " + std::to_string(outputs.size()) +
                                          " outputs, the graph says " +
                                          std::to_string(node.outputs.size()));
    }
    for (size_t k = 0; k < outputs.size(); ++k) {
      const graph::ValueId id = node.outputs[k];
      const std::string wrong = Mismatch(outputs[k], graph_.type(id));
      if (!wrong.empty()) {
        throw Error(LTC_ERROR_INTERNAL,
                    op + ": returned " + (outputs.size() > 1 ? "output " + std::to_string(k) + " " : "") +
                        wrong);
      }
      // Each node's outputs own their bytes, even where a kernel handed an
      // input back: results are buffers of their own, and the host may
      // write into what buffer_to_host shares.
      for (const Tensor* in : Inputs(node, values)) {
        if (in->owner() == outputs[k].owner()) outputs[k] = Fresh(outputs[k]);
      }
      values[id.index] = std::move(outputs[k]);
    }
    for (uint32_t v : release_after_[n]) values[v] = Tensor();
  }

  std::vector<Tensor> results;
  results.reserve(graph_.outputs().size());
  for (graph::ValueId out : graph_.outputs()) results.push_back(values[out.index]);
  return results;
}

}  // namespace ltc::ref_cpu
