// ltc-graph-v1: the portable graph format (plugin_api/graph/graph-format.md),
// its strict reader and its writer. C++17, the standard library and DLPack
// only: a plugin reads its graphs without LibTorch.
#ifndef LTC_GRAPH_FORMAT_H_
#define LTC_GRAPH_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <dlpack/dlpack.h>
#include <ltc/plugin_api.h>

// The name in LtcClientCompileArgs.format and in a plugin's graph formats.
#define LTC_GRAPH_FORMAT_PORTABLE "ltc-graph-v1"

namespace ltc::graph {

// The version this library reads and writes. It reads any 1.x: a newer
// minor's unknown sections and trailing record fields are skipped.
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 0;

// A dimension whose size the writer does not know.
inline constexpr int64_t kUnknownDim = -1;

// What went wrong; the spec's "Errors" section says when each applies.
enum class ErrorCode {
  kTruncated,           // a field runs past its file, section or record
  kBadMagic,            // not an ltc-graph file
  kUnsupportedVersion,  // a major version other than kFormatMajor
  kBadSection,          // unknown, repeated, misplaced or missing section
  kBadCount,            // a count the remaining bytes cannot hold
  kBadReference,        // a value index that is not an earlier value
  kBadType,             // a value kind, dtype, rank or dimension not allowed
  kBadArgument,         // an unknown argument tag, a bool other than 0 or 1
  kBadConstant,         // constant bytes that do not match its type
  kOverflow,            // a shape whose element or byte count overflows
  kBadString,           // a string with NUL or invalid UTF-8, a bad op name
  kBadOutputs,          // no outputs, or one value returned twice
  kTrailingBytes,       // bytes after the known fields of a file not newer
};

const char* ErrorCodeName(ErrorCode code);

// Thrown by ReadGraph on malformed input. what(): "ltc-graph-v1: byte
// <offset>: <message>".
class FormatError : public std::runtime_error {
 public:
  FormatError(ErrorCode code, size_t offset, const std::string& message);
  ErrorCode code() const { return code_; }
  // Where the offending field starts, from the first byte of the input.
  size_t offset() const { return offset_; }

 private:
  ErrorCode code_;
  size_t offset_;
};

// An index into Graph::values(): parameters first, then constants, then
// every node's outputs in node order.
struct ValueId {
  uint32_t index;
  friend bool operator==(ValueId a, ValueId b) { return a.index == b.index; }
  friend bool operator!=(ValueId a, ValueId b) { return a.index != b.index; }
};

enum class ValueKind : uint8_t {
  kTensor = 1,
  // A TorchScript number (int64, float64 or bool, 0-dim): an int/float
  // argument computed in the graph, or a parameter bound to a buffer made
  // by buffer_from_scalar.
  kScalar = 2,
};

struct ValueType {
  ValueKind kind = ValueKind::kTensor;
  DLDataType dtype{kDLFloat, 32, 1};
  // nullopt: the rank is unknown. Entries are sizes or kUnknownDim.
  std::optional<std::vector<int64_t>> shape;
};

// An element of a kValueList argument: nullopt is None (`Tensor?[]`).
using OptionalValue = std::optional<ValueId>;

struct None {
  friend bool operator==(None, None) { return true; }
  friend bool operator!=(None, None) { return false; }
};

// One argument of a node, in schema order. The alternatives are in tag
// order (Argument::index() + 1 is the tag on the wire).
using Argument = std::variant<ValueId,                     // 1 value
                              std::vector<OptionalValue>,  // 2 value list
                              None,                        // 3 none
                              int64_t,                     // 4 int
                              double,                      // 5 float
                              bool,                        // 6 bool
                              std::vector<int64_t>,        // 7 int list
                              std::vector<double>,         // 8 float list
                              std::vector<bool>,           // 9 bool list
                              DLDataType,                  // 10 dtype
                              std::string>;                // 11 string

struct Node {
  std::string op;        // "aten::add"
  std::string overload;  // "Tensor"; empty for the default overload
  std::vector<Argument> arguments;
  std::vector<ValueId> outputs;  // consecutive, after every earlier value
  // "aten::add.Tensor", or op alone where the overload is empty.
  std::string full_name() const;
};

struct Constant {
  ValueId value;
  // Row-major contiguous elements, little-endian; bools one byte, 0 or 1.
  std::vector<uint8_t> bytes;
};

// A graph as read: every reference is to an earlier value, every type is
// valid, every constant's size matches its type.
class Graph {
 public:
  const std::vector<ValueType>& values() const { return values_; }
  const ValueType& type(ValueId value) const { return values_.at(value.index); }
  // Value i is parameter i; execute binds its i-th input buffer there.
  size_t num_parameters() const { return num_parameters_; }
  const std::vector<Constant>& constants() const { return constants_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  // Distinct values; execute returns one result per output, in order.
  const std::vector<ValueId>& outputs() const { return outputs_; }
  // The format version of the file it was read from.
  uint16_t minor_version() const { return minor_version_; }

 private:
  friend class Reader;
  std::vector<ValueType> values_;
  size_t num_parameters_ = 0;
  std::vector<Constant> constants_;
  std::vector<Node> nodes_;
  std::vector<ValueId> outputs_;
  uint16_t minor_version_ = 0;
};

// Reads one ltc-graph-v1 file; throws FormatError and nothing else (but
// std::bad_alloc). Allocations are bounded by `size`.
Graph ReadGraph(const void* data, size_t size);

// Whether a dtype is one the format allows (the spec's dtype table).
bool IsValidDtype(DLDataType dtype);

// Writes an ltc-graph-v1 file. Values are numbered as they are added, so
// parameters come first, then constants, then nodes (std::logic_error
// otherwise). It encodes what it is given without checking it: the reader
// is the one checker, so a writer's mistake fails where the file is read,
// with the reader's error.
class GraphBuilder {
 public:
  ValueId AddParameter(ValueType type);
  ValueId AddConstant(ValueType type, std::vector<uint8_t> bytes);
  // Returns the node's outputs, one per entry of output_types.
  std::vector<ValueId> AddNode(std::string op, std::string overload,
                               std::vector<Argument> arguments,
                               std::vector<ValueType> output_types);
  void SetOutputs(std::vector<ValueId> outputs);
  // The file; std::length_error where a count or length does not fit.
  std::vector<uint8_t> Finish() const;

 private:
  enum class Stage { kParameters, kConstants, kNodes };
  void Enter(Stage stage);
  ValueId NextValue();

  Stage stage_ = Stage::kParameters;
  uint32_t num_values_ = 0;
  size_t num_parameters_ = 0;
  size_t num_constants_ = 0;
  size_t num_nodes_ = 0;
  // Each section's records as they will be written, without the count.
  std::vector<uint8_t> parameters_;
  std::vector<uint8_t> constants_;
  std::vector<uint8_t> nodes_;
  std::vector<ValueId> outputs_;
};

}  // namespace ltc::graph

#endif  // LTC_GRAPH_FORMAT_H_
