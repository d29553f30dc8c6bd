// The kernel interface: how the interpreter hands a node's arguments to the
// function that runs the op, and how families of kernels register.
//
// A kernel gets the node's arguments in schema order (graph-format.md,
// "NODES") resolved against the values computed so far, and returns the
// node's outputs, one tensor per output. It throws ltc::plugin::Error:
// LTC_ERROR_INVALID_ARGUMENT for inputs the op itself refuses (mismatched
// shapes), LTC_ERROR_UNIMPLEMENTED for a form of the op ref_cpu does not run
// (naming the op and what is missing). It never writes into its inputs.
#pragma once

#include "tensor.h"

#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ltc::ref_cpu {

// A number argument: a literal, or a scalar value computed in the graph.
struct Number {
  bool is_floating = false;
  bool is_bool = false;
  double floating = 0;
  int64_t integer = 0;
  double as_double() const { return is_floating ? floating : static_cast<double>(integer); }
};

class KernelArgs {
 public:
  // `types`: the graph's value types (Graph::values()), or NULL where the
  // node stands alone (tests).
  KernelArgs(const graph::Node& node, const std::vector<Tensor>& values,
             const std::vector<graph::ValueType>* types = nullptr)
      : node_(node), values_(values), types_(types) {}

  size_t size() const { return node_.arguments.size(); }
  // "aten::add.Tensor", for messages.
  std::string op() const { return node_.full_name(); }

  bool is_none(size_t i) const;
  // A value argument that is a tensor (a scalar value is a 0-dim tensor).
  const Tensor& tensor(size_t i) const;
  // None, or a tensor.
  std::optional<Tensor> optional_tensor(size_t i) const;
  // A value list without None elements.
  std::vector<Tensor> tensor_list(size_t i) const;
  // A value list (Tensor?[]).
  std::vector<std::optional<Tensor>> optional_tensor_list(size_t i) const;
  // An int, float or bool literal, or a scalar value (Scalar, int, float).
  Number number(size_t i) const;
  int64_t integer(size_t i) const;      // an int or bool literal or scalar value
  double floating(size_t i) const;      // a float or int literal or scalar value
  bool boolean(size_t i) const;         // a bool literal
  std::optional<int64_t> optional_integer(size_t i) const;
  std::optional<double> optional_floating(size_t i) const;
  // An int list, or a value list of scalar values (sizes computed in the
  // graph).
  std::vector<int64_t> int_list(size_t i) const;
  std::optional<std::vector<int64_t>> optional_int_list(size_t i) const;
  std::vector<bool> bool_list(size_t i) const;
  DLDataType dtype(size_t i) const;
  std::optional<DLDataType> optional_dtype(size_t i) const;
  const std::string& string(size_t i) const;

  // Throws Error(LTC_ERROR_INVALID_ARGUMENT) "<op>: argument <i>: <what>".
  [[noreturn]] void Fail(size_t i, const std::string& what) const;
  // Throws Error(LTC_ERROR_UNIMPLEMENTED) "<op>: <what> is not supported".
  [[noreturn]] void Unsupported(const std::string& what) const;

  // The node's declared output types (dtype always, shape where known).
  const graph::Node& node() const { return node_; }
  // The dtype the graph declares for output `i`, where it is known (a value
  // of known rank; graph-format.md, "Writing it").
  std::optional<DLDataType> declared_dtype(size_t i) const;

 private:
  const graph::Argument& at(size_t i) const;
  const graph::Node& node_;
  const std::vector<Tensor>& values_;
  const std::vector<graph::ValueType>* types_;
};

using Kernel = std::vector<Tensor> (*)(const KernelArgs& args);

// The outputs of a kernel with one.
inline std::vector<Tensor> One(Tensor t) {
  std::vector<Tensor> out;
  out.push_back(std::move(t));
  return out;
}

// The ops ref_cpu runs, by full name ("aten::add.Tensor").
class KernelRegistry {
 public:
  void Add(const std::string& full_name, Kernel kernel);
  // NULL when ref_cpu does not run the op.
  Kernel Find(const std::string& full_name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, Kernel> kernels_;
};

// Each family's file defines one of these.
void RegisterElementwiseKernels(KernelRegistry& registry);  // kernels_elementwise.cpp
void RegisterReductionKernels(KernelRegistry& registry);    // kernels_reduction.cpp
void RegisterShapeKernels(KernelRegistry& registry);        // kernels_shape.cpp
void RegisterCreationKernels(KernelRegistry& registry);     // kernels_creation.cpp
void RegisterLinalgKernels(KernelRegistry& registry);       // kernels_linalg.cpp
void RegisterNnKernels(KernelRegistry& registry);           // kernels_nn.cpp

// Every family, registered once.
const KernelRegistry& Kernels();

}  // namespace ltc::ref_cpu
