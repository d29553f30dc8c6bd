// GraphBuilder: the encoder of ltc-graph-v1, field for field the reader's
// mirror.
#include <cstring>
#include <limits>

#include "ltc/graph_format.h"
#include "wire.h"

namespace ltc::graph {
namespace {

using Bytes = std::vector<uint8_t>;


void PutLittleEndian(Bytes& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void PutU8(Bytes& out, uint8_t value) { out.push_back(value); }
void PutU16(Bytes& out, uint16_t value) { PutLittleEndian(out, value, 2); }
void PutU32(Bytes& out, uint32_t value) { PutLittleEndian(out, value, 4); }
void PutU64(Bytes& out, uint64_t value) { PutLittleEndian(out, value, 8); }
void PutI32(Bytes& out, int32_t value) { PutU32(out, static_cast<uint32_t>(value)); }
void PutI64(Bytes& out, int64_t value) { PutU64(out, static_cast<uint64_t>(value)); }
void PutF64(Bytes& out, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  PutU64(out, bits);
}
void PutCount(Bytes& out, size_t count, const char* what) {
  if (count > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error(std::string("ltc-graph-v1: too many ") + what + " for a u32 count");
  }
  PutU32(out, static_cast<uint32_t>(count));
}

void PutString(Bytes& out, const std::string& text) {
  PutCount(out, text.size(), "string bytes");
  out.insert(out.end(), text.begin(), text.end());
}

void PutDtype(Bytes& out, DLDataType dtype) {
  PutU8(out, dtype.code);
  PutU8(out, dtype.bits);
  PutU16(out, dtype.lanes);
}

void PutType(Bytes& out, const ValueType& type) {
  PutU8(out, static_cast<uint8_t>(type.kind));
  PutDtype(out, type.dtype);
  if (!type.shape) {
    PutI32(out, wire::kUnknownRank);
    return;
  }
  if (type.shape->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw std::length_error("ltc-graph-v1: rank too large for an i32");
  }
  PutI32(out, static_cast<int32_t>(type.shape->size()));
  for (int64_t size : *type.shape) PutI64(out, size);
}

void PutArgument(Bytes& out, const Argument& argument) {
  PutU8(out, static_cast<uint8_t>(argument.index() + 1));
  switch (argument.index() + 1) {
    case wire::kValueTag:
      PutU32(out, std::get<ValueId>(argument).index);
      break;
    case wire::kValueListTag: {
      const auto& values = std::get<std::vector<OptionalValue>>(argument);
      PutCount(out, values.size(), "list elements");
      for (const OptionalValue& value : values) PutU32(out, value ? value->index : wire::kNoValue);
      break;
    }
    case wire::kNoneTag:
      break;
    case wire::kIntTag:
      PutI64(out, std::get<int64_t>(argument));
      break;
    case wire::kFloatTag:
      PutF64(out, std::get<double>(argument));
      break;
    case wire::kBoolTag:
      PutU8(out, std::get<bool>(argument) ? 1 : 0);
      break;
    case wire::kIntListTag: {
      const auto& list = std::get<std::vector<int64_t>>(argument);
      PutCount(out, list.size(), "list elements");
      for (int64_t element : list) PutI64(out, element);
      break;
    }
    case wire::kFloatListTag: {
      const auto& list = std::get<std::vector<double>>(argument);
      PutCount(out, list.size(), "list elements");
      for (double element : list) PutF64(out, element);
      break;
    }
    case wire::kBoolListTag: {
      const auto& list = std::get<std::vector<bool>>(argument);
      PutCount(out, list.size(), "list elements");
      for (bool element : list) PutU8(out, element ? 1 : 0);
      break;
    }
    case wire::kDtypeTag:
      PutDtype(out, std::get<DLDataType>(argument));
      break;
    case wire::kStringTag:
      PutString(out, std::get<std::string>(argument));
      break;
  }
}

void PutRecord(Bytes& section, const Bytes& record) {
  PutU64(section, record.size());
  section.insert(section.end(), record.begin(), record.end());
}

void PutSection(Bytes& out, uint32_t id, size_t count, const Bytes& records, const char* what) {
  PutU32(out, id);
  PutU64(out, 4 + records.size());
  PutCount(out, count, what);
  out.insert(out.end(), records.begin(), records.end());
}

}  // namespace

void GraphBuilder::Enter(Stage stage) {
  if (stage < stage_) {
    throw std::logic_error(
        "ltc-graph-v1: parameters come before constants, and constants before nodes");
  }
  stage_ = stage;
}

ValueId GraphBuilder::NextValue() {
  if (num_values_ == wire::kNoValue) throw std::length_error("ltc-graph-v1: too many values");
  return ValueId{num_values_++};
}

ValueId GraphBuilder::AddParameter(ValueType type) {
  Enter(Stage::kParameters);
  Bytes record;
  PutType(record, type);
  PutRecord(parameters_, record);
  ++num_parameters_;
  return NextValue();
}

ValueId GraphBuilder::AddConstant(ValueType type, std::vector<uint8_t> bytes) {
  Enter(Stage::kConstants);
  Bytes record;
  PutType(record, type);
  PutU64(record, bytes.size());
  record.insert(record.end(), bytes.begin(), bytes.end());
  PutRecord(constants_, record);
  ++num_constants_;
  return NextValue();
}

std::vector<ValueId> GraphBuilder::AddNode(std::string op, std::string overload,
                                           std::vector<Argument> arguments,
                                           std::vector<ValueType> output_types) {
  Enter(Stage::kNodes);
  Bytes record;
  PutString(record, op);
  PutString(record, overload);
  PutCount(record, arguments.size(), "arguments");
  for (const Argument& argument : arguments) PutArgument(record, argument);
  PutCount(record, output_types.size(), "outputs");
  std::vector<ValueId> outputs;
  outputs.reserve(output_types.size());
  for (const ValueType& type : output_types) {
    PutType(record, type);
    outputs.push_back(NextValue());
  }
  PutRecord(nodes_, record);
  ++num_nodes_;
  return outputs;
}

void GraphBuilder::SetOutputs(std::vector<ValueId> outputs) { outputs_ = std::move(outputs); }

std::vector<uint8_t> GraphBuilder::Finish() const {
  Bytes out(std::begin(wire::kMagic), std::end(wire::kMagic));
  PutU16(out, kFormatMajor);
  PutU16(out, kFormatMinor);
  PutSection(out, wire::kParametersSection, num_parameters_, parameters_, "parameters");
  PutSection(out, wire::kConstantsSection, num_constants_, constants_, "constants");
  PutSection(out, wire::kNodesSection, num_nodes_, nodes_, "nodes");
  Bytes outputs;
  for (ValueId value : outputs_) PutU32(outputs, value.index);
  PutSection(out, wire::kOutputsSection, outputs_.size(), outputs, "outputs");
  return out;
}

}  // namespace ltc::graph
