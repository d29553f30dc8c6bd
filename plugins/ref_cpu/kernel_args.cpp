#include "kernel.h"

#include "dispatch.h"

#include <stdexcept>
#include <type_traits>

namespace ltc::ref_cpu {

using plugin::Error;

namespace {

const char* ArgumentKind(const graph::Argument& a) {
  static const char* const kKinds[] = {"a value",  "a value list", "none",      "an int",
                                       "a float",  "a bool",       "an int list", "a float list",
                                       "a bool list", "a dtype",   "a string"};
  return kKinds[a.index()];
}

// c10::ScalarType's numbering, for a ScalarType written as a plain int.
std::optional<DLDataType> FromScalarType(int64_t t) {
  switch (t) {
    case 0: return kUInt8;
    case 1: return kInt8;
    case 2: return DLDataType{kDLInt, 16, 1};
    case 3: return kInt32;
    case 4: return kInt64;
    case 5: return DLDataType{kDLFloat, 16, 1};
    case 6: return kFloat32;
    case 7: return kFloat64;
    case 11: return kBool;
    case 15: return DLDataType{kDLBfloat, 16, 1};
    default: return std::nullopt;
  }
}

Number NumberOf(const Tensor& t) {
  Number n;
  if (IsFloating(t.dtype())) {
    n.is_floating = true;
    n.floating = t.item_double();
  } else {
    n.is_bool = IsBool(t.dtype());
    n.integer = t.item_int();
  }
  return n;
}

}  // namespace

const graph::Argument& KernelArgs::at(size_t i) const {
  if (i >= node_.arguments.size()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                op() + ": has " + std::to_string(node_.arguments.size()) +
                    " arguments, the kernel reads argument " + std::to_string(i));
  }
  return node_.arguments[i];
}

std::optional<DLDataType> KernelArgs::declared_dtype(size_t i) const {
  if (types_ == nullptr || i >= node_.outputs.size()) return std::nullopt;
  const graph::ValueType& type = (*types_)[node_.outputs[i].index];
  if (!type.shape) return std::nullopt;
  return type.dtype;
}

void KernelArgs::Fail(size_t i, const std::string& what) const {
  throw Error(LTC_ERROR_INVALID_ARGUMENT, op() + ": argument " + std::to_string(i) + ": " + what);
}

void KernelArgs::Unsupported(const std::string& what) const {
  throw Error(LTC_ERROR_UNIMPLEMENTED, op() + ": " + what + " is not supported");
}

bool KernelArgs::is_none(size_t i) const { return std::holds_alternative<graph::None>(at(i)); }

const Tensor& KernelArgs::tensor(size_t i) const {
  const auto* v = std::get_if<graph::ValueId>(&at(i));
  if (v == nullptr) Fail(i, std::string("expected a tensor, got ") + ArgumentKind(at(i)));
  const Tensor& t = values_.at(v->index);
  if (!t.defined()) Fail(i, "value %" + std::to_string(v->index) + " has no data");
  return t;
}

std::optional<Tensor> KernelArgs::optional_tensor(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return tensor(i);
}

std::vector<std::optional<Tensor>> KernelArgs::optional_tensor_list(size_t i) const {
  const auto* list = std::get_if<std::vector<graph::OptionalValue>>(&at(i));
  if (list == nullptr) Fail(i, std::string("expected a value list, got ") + ArgumentKind(at(i)));
  std::vector<std::optional<Tensor>> out;
  out.reserve(list->size());
  for (const graph::OptionalValue& v : *list) {
    if (!v) {
      out.emplace_back(std::nullopt);
      continue;
    }
    const Tensor& t = values_.at(v->index);
    if (!t.defined()) Fail(i, "value %" + std::to_string(v->index) + " has no data");
    out.emplace_back(t);
  }
  return out;
}

std::vector<Tensor> KernelArgs::tensor_list(size_t i) const {
  std::vector<Tensor> out;
  for (auto& t : optional_tensor_list(i)) {
    if (!t) Fail(i, "None in a tensor list");
    out.push_back(std::move(*t));
  }
  return out;
}

Number KernelArgs::number(size_t i) const {
  const graph::Argument& a = at(i);
  Number n;
  if (const auto* v = std::get_if<int64_t>(&a)) {
    n.integer = *v;
  } else if (const auto* f = std::get_if<double>(&a)) {
    n.is_floating = true;
    n.floating = *f;
  } else if (const auto* b = std::get_if<bool>(&a)) {
    n.is_bool = true;
    n.integer = *b ? 1 : 0;
  } else if (std::holds_alternative<graph::ValueId>(a)) {
    const Tensor& t = tensor(i);
    if (t.numel() != 1) Fail(i, "expected a number, got a tensor of shape " + ShapeString(t.shape()));
    n = NumberOf(t);
  } else {
    Fail(i, std::string("expected a number, got ") + ArgumentKind(a));
  }
  return n;
}

int64_t KernelArgs::integer(size_t i) const {
  const Number n = number(i);
  if (n.is_floating) Fail(i, "expected an int, got a float");
  return n.integer;
}

double KernelArgs::floating(size_t i) const { return number(i).as_double(); }

bool KernelArgs::boolean(size_t i) const {
  const graph::Argument& a = at(i);
  if (const auto* b = std::get_if<bool>(&a)) return *b;
  const Number n = number(i);
  if (n.is_floating) Fail(i, "expected a bool, got a float");
  return n.integer != 0;
}

std::optional<int64_t> KernelArgs::optional_integer(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return integer(i);
}

std::optional<double> KernelArgs::optional_floating(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return floating(i);
}

std::vector<int64_t> KernelArgs::int_list(size_t i) const {
  const graph::Argument& a = at(i);
  if (const auto* list = std::get_if<std::vector<int64_t>>(&a)) return *list;
  // `int[1] dim` also accepts a single int in the schema.
  if (const auto* v = std::get_if<int64_t>(&a)) return {*v};
  if (const auto* values = std::get_if<std::vector<graph::OptionalValue>>(&a)) {
    std::vector<int64_t> out;
    out.reserve(values->size());
    for (const graph::OptionalValue& v : *values) {
      if (!v) Fail(i, "None in an int list");
      const Tensor& t = values_.at(v->index);
      if (!t.defined() || t.numel() != 1 || IsFloating(t.dtype())) {
        Fail(i, "element %" + std::to_string(v->index) + " is not an int");
      }
      out.push_back(t.item_int());
    }
    return out;
  }
  Fail(i, std::string("expected an int list, got ") + ArgumentKind(a));
}

std::optional<std::vector<int64_t>> KernelArgs::optional_int_list(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return int_list(i);
}

std::vector<bool> KernelArgs::bool_list(size_t i) const {
  const auto* list = std::get_if<std::vector<bool>>(&at(i));
  if (list == nullptr) Fail(i, std::string("expected a bool list, got ") + ArgumentKind(at(i)));
  return *list;
}

DLDataType KernelArgs::dtype(size_t i) const {
  const graph::Argument& a = at(i);
  if (const auto* d = std::get_if<DLDataType>(&a)) return *d;
  if (const auto* v = std::get_if<int64_t>(&a)) {
    if (auto d = FromScalarType(*v)) return *d;
    Fail(i, "unknown ScalarType " + std::to_string(*v));
  }
  Fail(i, std::string("expected a dtype, got ") + ArgumentKind(a));
}

std::optional<DLDataType> KernelArgs::optional_dtype(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return dtype(i);
}

const std::string& KernelArgs::string(size_t i) const {
  const auto* s = std::get_if<std::string>(&at(i));
  if (s == nullptr) Fail(i, std::string("expected a string, got ") + ArgumentKind(at(i)));
  return *s;
}

void KernelRegistry::Add(const std::string& full_name, Kernel kernel) {
  if (!kernels_.emplace(full_name, kernel).second) {
    throw std::logic_error("ref_cpu: kernel " + full_name + " registered twice");
  }
}

Kernel KernelRegistry::Find(const std::string& full_name) const {
  auto it = kernels_.find(full_name);
  return it == kernels_.end() ? nullptr : it->second;
}

std::vector<std::string> KernelRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(kernels_.size());
  for (const auto& entry : kernels_) names.push_back(entry.first);
  return names;
}

const KernelRegistry& Kernels() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    RegisterElementwiseKernels(r);
    RegisterReductionKernels(r);
    RegisterShapeKernels(r);
    RegisterCreationKernels(r);
    RegisterLinalgKernels(r);
    RegisterNnKernels(r);
    return r;
  }();
  return registry;
}

}  // namespace ltc::ref_cpu
