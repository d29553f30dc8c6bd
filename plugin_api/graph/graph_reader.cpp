// The strict reader of ltc-graph-v1. Every field is read through a Cursor
// bounded by its file, section or record, so no input reads out of bounds;
// every count is checked against the bytes left before anything is
// allocated for it.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "ltc/graph_format.h"
#include "wire.h"

namespace ltc::graph {

static_assert(std::is_same_v<std::variant_alternative_t<wire::kValueTag - 1, Argument>, ValueId>);
static_assert(std::is_same_v<std::variant_alternative_t<wire::kNoneTag - 1, Argument>, None>);
static_assert(std::is_same_v<std::variant_alternative_t<wire::kBoolListTag - 1, Argument>,
                             std::vector<bool>>);
static_assert(std::is_same_v<std::variant_alternative_t<wire::kStringTag - 1, Argument>,
                             std::string>);
static_assert(std::variant_size_v<Argument> == wire::kStringTag);

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kBadMagic: return "bad magic";
    case ErrorCode::kUnsupportedVersion: return "unsupported version";
    case ErrorCode::kBadSection: return "bad section";
    case ErrorCode::kBadCount: return "bad count";
    case ErrorCode::kBadReference: return "bad reference";
    case ErrorCode::kBadType: return "bad type";
    case ErrorCode::kBadArgument: return "bad argument";
    case ErrorCode::kBadConstant: return "bad constant";
    case ErrorCode::kOverflow: return "overflow";
    case ErrorCode::kBadString: return "bad string";
    case ErrorCode::kBadOutputs: return "bad outputs";
    case ErrorCode::kTrailingBytes: return "trailing bytes";
  }
  return "unknown error";
}

FormatError::FormatError(ErrorCode code, size_t offset, const std::string& message)
    : std::runtime_error(LTC_GRAPH_FORMAT_PORTABLE ": byte " + std::to_string(offset) + ": " +
                         ErrorCodeName(code) + ": " + message),
      code_(code),
      offset_(offset) {}

std::string Node::full_name() const { return overload.empty() ? op : op + "." + overload; }

bool IsValidDtype(DLDataType dtype) {
  if (dtype.lanes != 1) return false;
  switch (dtype.code) {
    case kDLInt:
    case kDLUInt:
      return dtype.bits == 8 || dtype.bits == 16 || dtype.bits == 32 || dtype.bits == 64;
    case kDLFloat:
      return dtype.bits == 16 || dtype.bits == 32 || dtype.bits == 64;
    case kDLBfloat:
      return dtype.bits == 16;
    case kDLComplex:
      return dtype.bits == 32 || dtype.bits == 64 || dtype.bits == 128;
    case LTC_DL_BOOL_CODE:
      return dtype.bits == 8;
    default:
      return false;
  }
}

namespace {

[[noreturn]] void Fail(ErrorCode code, size_t offset, const std::string& message) {
  throw FormatError(code, offset, message);
}

bool SameDtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

std::string DtypeText(DLDataType dtype) {
  return "(code " + std::to_string(dtype.code) + ", bits " + std::to_string(dtype.bits) +
         ", lanes " + std::to_string(dtype.lanes) + ")";
}

// The length of the UTF-8 sequence at `text`, or 0 where it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8SequenceLength(const uint8_t* text, size_t available) {
  const uint8_t lead = text[0];
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code_point;
  uint32_t min_code_point;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, min_code_point = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, min_code_point = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (length > available) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((text[i] & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (text[i] & 0x3F);
  }
  if (code_point < min_code_point || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  return length;
}

// [A-Za-z_][A-Za-z0-9_]*, or with a leading digit allowed (overloads).
bool IsName(const std::string& text, bool leading_digit) {
  if (text.empty()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && (i > 0 || leading_digit))) return false;
  }
  return true;
}

// A window [pos, end) of the input; `what` names it in errors.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t begin, size_t end, std::string what)
      : base_(base), pos_(begin), end_(end), what_(std::move(what)) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }
  const std::string& what() const { return what_; }

  const uint8_t* Bytes(size_t count) {
    Need(count);
    const uint8_t* bytes = base_ + pos_;
    pos_ += count;
    return bytes;
  }
  uint8_t U8() { return *Bytes(1); }
  uint16_t U16() { return static_cast<uint16_t>(Unsigned(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Unsigned(4)); }
  uint64_t U64() { return Unsigned(8); }
  int32_t I32() { return static_cast<int32_t>(U32()); }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  double F64() {
    const uint64_t bits = U64();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }

  // The next `length` bytes as a window of their own.
  Cursor Take(uint64_t length, std::string what) {
    if (length > remaining()) {
      Fail(ErrorCode::kTruncated, pos_,
           what + " is " + std::to_string(length) + " bytes long, but " + what_ + " has " +
               std::to_string(remaining()) + " bytes left");
    }
    Cursor taken(base_, pos_, pos_ + static_cast<size_t>(length), std::move(what));
    pos_ += static_cast<size_t>(length);
    return taken;
  }

  void SkipRest() { pos_ = end_; }

 private:
  void Need(size_t count) const {
    if (count > remaining()) {
      Fail(ErrorCode::kTruncated, pos_,
           what_ + " ends after " + std::to_string(remaining()) + " more bytes, but the next field needs " +
               std::to_string(count));
    }
  }
  // Little-endian, assembled byte by byte so that the host's byte order does
  // not matter.
  uint64_t Unsigned(size_t size) {
    const uint8_t* bytes = Bytes(size);
    uint64_t value = 0;
    for (size_t i = size; i-- > 0;) value = (value << 8) | bytes[i];
    return value;
  }

  const uint8_t* base_;
  size_t pos_;
  size_t end_;
  std::string what_;
};

}  // namespace

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : file_(data, 0, size, "the file") {}

  Graph Read() {
    ReadHeader();
    uint32_t next_section = wire::kParametersSection;
    while (file_.remaining() > 0) {
      const size_t at = file_.offset();
      const uint32_t id = file_.U32();
      const uint64_t length = file_.U64();
      Cursor section = file_.Take(length, SectionName(id));
      if (id < wire::kParametersSection || id > wire::kOutputsSection) {
        if (!newer_) {
          Fail(ErrorCode::kBadSection, at,
               "unknown section id " + std::to_string(id) + " in a " + VersionText() + " file");
        }
        continue;  // a newer minor's section
      }
      if (id < next_section) Fail(ErrorCode::kBadSection, at, SectionName(id) + " appears twice");
      if (id > next_section) {
        Fail(ErrorCode::kBadSection, at,
             SectionName(id) + " comes before " + SectionName(next_section));
      }
      switch (id) {
        case wire::kParametersSection: ReadParameters(section); break;
        case wire::kConstantsSection: ReadConstants(section); break;
        case wire::kNodesSection: ReadNodes(section); break;
        case wire::kOutputsSection: ReadOutputs(section); break;
      }
      EndOf(section);
      ++next_section;
    }
    if (next_section <= wire::kOutputsSection) {
      Fail(ErrorCode::kBadSection, file_.offset(), "no " + SectionName(next_section));
    }
    return std::move(graph_);
  }

 private:
  static std::string SectionName(uint32_t id) {
    switch (id) {
      case wire::kParametersSection: return "the PARAMETERS section";
      case wire::kConstantsSection: return "the CONSTANTS section";
      case wire::kNodesSection: return "the NODES section";
      case wire::kOutputsSection: return "the OUTPUTS section";
      default: return "section " + std::to_string(id);
    }
  }

  std::string VersionText() const {
    return std::to_string(kFormatMajor) + "." + std::to_string(graph_.minor_version_);
  }

  void ReadHeader() {
    const uint8_t* magic = file_.Bytes(sizeof wire::kMagic);
    if (std::memcmp(magic, wire::kMagic, sizeof wire::kMagic) != 0) {
      Fail(ErrorCode::kBadMagic, 0, "the file does not start with \"LTCGRAPH\"");
    }
    const uint16_t major = file_.U16();
    const uint16_t minor = file_.U16();
    if (major != kFormatMajor) {
      Fail(ErrorCode::kUnsupportedVersion, sizeof wire::kMagic,
           "version " + std::to_string(major) + "." + std::to_string(minor) + ": this reader reads " +
               std::to_string(kFormatMajor) + ".x" +
               (major > kFormatMajor ? " (a newer major changes what known fields mean)" : ""));
    }
    graph_.minor_version_ = minor;
    newer_ = minor > kFormatMinor;
  }

  // A file of a newer minor may append fields to any section or record;
  // otherwise every byte must be a known field.
  void EndOf(Cursor& cursor) {
    if (cursor.remaining() == 0) return;
    if (!newer_) {
      Fail(ErrorCode::kTrailingBytes, cursor.offset(),
           std::to_string(cursor.remaining()) + " bytes after the last field of " + cursor.what() +
               " in a " + VersionText() + " file");
    }
    cursor.SkipRest();
  }

  uint32_t ReadCount(Cursor& cursor, size_t min_element_size, const std::string& what) {
    const size_t at = cursor.offset();
    const uint32_t count = cursor.U32();
    if (count > cursor.remaining() / min_element_size) {
      Fail(ErrorCode::kBadCount, at,
           std::to_string(count) + " " + what + " cannot fit in the " +
               std::to_string(cursor.remaining()) + " bytes left in " + cursor.what());
    }
    return count;
  }

  Cursor ReadRecord(Cursor& section, std::string what) {
    const uint64_t length = section.U64();
    return section.Take(length, std::move(what));
  }

  std::string ReadString(Cursor& cursor) {
    const uint32_t length = cursor.U32();
    const size_t at = cursor.offset();
    const uint8_t* bytes = cursor.Bytes(length);
    for (size_t i = 0; i < length;) {
      if (bytes[i] == 0) Fail(ErrorCode::kBadString, at + i, "a string holds a NUL byte");
      const size_t sequence = Utf8SequenceLength(bytes + i, length - i);
      if (sequence == 0) Fail(ErrorCode::kBadString, at + i, "a string is not valid UTF-8");
      i += sequence;
    }
    return std::string(reinterpret_cast<const char*>(bytes), length);
  }

  DLDataType ReadDtype(Cursor& cursor) {
    const size_t at = cursor.offset();
    DLDataType dtype;
    dtype.code = cursor.U8();
    dtype.bits = cursor.U8();
    dtype.lanes = cursor.U16();
    if (!IsValidDtype(dtype)) {
      Fail(ErrorCode::kBadType, at, "dtype " + DtypeText(dtype) + " is not one the format allows");
    }
    return dtype;
  }

  ValueType ReadType(Cursor& cursor) {
    ValueType type;
    const size_t kind_at = cursor.offset();
    const uint8_t kind = cursor.U8();
    if (kind != static_cast<uint8_t>(ValueKind::kTensor) &&
        kind != static_cast<uint8_t>(ValueKind::kScalar)) {
      Fail(ErrorCode::kBadType, kind_at, "unknown value kind " + std::to_string(kind));
    }
    type.kind = static_cast<ValueKind>(kind);
    type.dtype = ReadDtype(cursor);
    const size_t rank_at = cursor.offset();
    const int32_t rank = cursor.I32();
    if (rank < wire::kUnknownRank) {
      Fail(ErrorCode::kBadType, rank_at, "rank " + std::to_string(rank));
    }
    if (rank != wire::kUnknownRank) {
      if (static_cast<size_t>(rank) > cursor.remaining() / sizeof(int64_t)) {
        Fail(ErrorCode::kBadCount, rank_at,
             "rank " + std::to_string(rank) + " cannot fit in the " +
                 std::to_string(cursor.remaining()) + " bytes left in " + cursor.what());
      }
      std::vector<int64_t> shape(static_cast<size_t>(rank));
      for (int64_t& size : shape) {
        const size_t at = cursor.offset();
        size = cursor.I64();
        if (size < kUnknownDim) Fail(ErrorCode::kBadType, at, "dimension " + std::to_string(size));
      }
      type.shape = std::move(shape);
      CheckByteSize(type, kind_at);
    }
    if (type.kind == ValueKind::kScalar) {
      const bool number_dtype = SameDtype(type.dtype, DLDataType{kDLInt, 64, 1}) ||
                                SameDtype(type.dtype, DLDataType{kDLFloat, 64, 1}) ||
                                SameDtype(type.dtype, DLDataType{LTC_DL_BOOL_CODE, 8, 1});
      if (!number_dtype) {
        Fail(ErrorCode::kBadType, kind_at,
             "a scalar is int64, float64 or bool, not " + DtypeText(type.dtype));
      }
      if (!type.shape || !type.shape->empty()) {
        Fail(ErrorCode::kBadType, rank_at, "a scalar has rank 0");
      }
    }
    return type;
  }

  // The bytes the known dimensions of `type` span, so that a plugin sizing
  // buffers from declared shapes cannot overflow: at most INT64_MAX, as in
  // PyTorch.
  static uint64_t CheckByteSize(const ValueType& type, size_t at) {
    constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t bytes = type.dtype.bits / 8;
    for (int64_t size : *type.shape) {
      if (size == 0) return 0;  // no elements, however large the others
    }
    for (int64_t size : *type.shape) {
      if (size == kUnknownDim) continue;
      if (bytes > kLimit / static_cast<uint64_t>(size)) {
        Fail(ErrorCode::kOverflow, at, "the shape's byte size exceeds 2^63 - 1");
      }
      bytes *= static_cast<uint64_t>(size);
    }
    return bytes;
  }

  ValueId DefineValue(ValueType type, size_t at) {
    if (graph_.values_.size() >= wire::kNoValue) {
      Fail(ErrorCode::kBadCount, at, "more values than a u32 index can name");
    }
    graph_.values_.push_back(std::move(type));
    return ValueId{static_cast<uint32_t>(graph_.values_.size() - 1)};
  }

  // A value defined before the reference: values [0, limit).
  ValueId ReadReference(Cursor& cursor, size_t limit) {
    const size_t at = cursor.offset();
    const uint32_t index = cursor.U32();
    if (index >= limit) {
      Fail(ErrorCode::kBadReference, at,
           "value " + std::to_string(index) + " is not defined before its use (" +
               std::to_string(limit) + " values are)");
    }
    return ValueId{index};
  }

  bool ReadBool(Cursor& cursor) {
    const size_t at = cursor.offset();
    const uint8_t byte = cursor.U8();
    if (byte > 1) Fail(ErrorCode::kBadArgument, at, "bool " + std::to_string(byte) + " is not 0 or 1");
    return byte == 1;
  }

  template <typename T, typename ReadElement>
  std::vector<T> ReadList(Cursor& cursor, size_t element_size, ReadElement read_element) {
    std::vector<T> list(ReadCount(cursor, element_size, "list elements"));
    for (size_t i = 0; i < list.size(); ++i) list[i] = read_element();
    return list;
  }

  Argument ReadArgument(Cursor& cursor, size_t limit) {
    const size_t at = cursor.offset();
    const uint8_t tag = cursor.U8();
    switch (tag) {
      case wire::kValueTag:
        return ReadReference(cursor, limit);
      case wire::kValueListTag: {
        std::vector<OptionalValue> values(ReadCount(cursor, 4, "list elements"));
        for (OptionalValue& value : values) {
          const size_t element_at = cursor.offset();
          const uint32_t index = cursor.U32();
          if (index == wire::kNoValue) continue;
          if (index >= limit) {
            Fail(ErrorCode::kBadReference, element_at,
                 "value " + std::to_string(index) + " is not defined before its use (" +
                     std::to_string(limit) + " values are)");
          }
          value = ValueId{index};
        }
        return values;
      }
      case wire::kNoneTag:
        return None{};
      case wire::kIntTag:
        return cursor.I64();
      case wire::kFloatTag:
        return cursor.F64();
      case wire::kBoolTag:
        return ReadBool(cursor);
      case wire::kIntListTag:
        return ReadList<int64_t>(cursor, 8, [&] { return cursor.I64(); });
      case wire::kFloatListTag:
        return ReadList<double>(cursor, 8, [&] { return cursor.F64(); });
      case wire::kBoolListTag:
        return ReadList<bool>(cursor, 1, [&] { return ReadBool(cursor); });
      case wire::kDtypeTag:
        return ReadDtype(cursor);
      case wire::kStringTag:
        return ReadString(cursor);
      default:
        Fail(ErrorCode::kBadArgument, at, "unknown argument tag " + std::to_string(tag));
    }
  }

  void ReadParameters(Cursor& section) {
    const uint32_t count = ReadCount(section, wire::kMinParameterSize, "parameters");
    for (uint32_t i = 0; i < count; ++i) {
      Cursor record = ReadRecord(section, "parameter " + std::to_string(i));
      const size_t at = record.offset();
      ValueType type = ReadType(record);
      if (!type.shape) Fail(ErrorCode::kBadType, at, "parameter " + std::to_string(i) + " has no rank");
      EndOf(record);
      DefineValue(std::move(type), at);
    }
    graph_.num_parameters_ = count;
  }

  void ReadConstants(Cursor& section) {
    const uint32_t count = ReadCount(section, wire::kMinConstantSize, "constants");
    graph_.constants_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      Cursor record = ReadRecord(section, "constant " + std::to_string(i));
      const size_t at = record.offset();
      ValueType type = ReadType(record);
      if (!type.shape ||
          std::find(type.shape->begin(), type.shape->end(), kUnknownDim) != type.shape->end()) {
        Fail(ErrorCode::kBadType, at, "constant " + std::to_string(i) + "'s shape is not all known");
      }
      const uint64_t expected = CheckByteSize(type, at);
      const size_t size_at = record.offset();
      const uint64_t size = record.U64();
      if (size != expected) {
        Fail(ErrorCode::kBadConstant, size_at,
             "constant " + std::to_string(i) + " holds " + std::to_string(size) +
                 " bytes, its dtype and shape make " + std::to_string(expected));
      }
      if (size > record.remaining()) {
        Fail(ErrorCode::kTruncated, record.offset(),
             "constant " + std::to_string(i) + "'s " + std::to_string(size) + " bytes run past " +
                 record.what());
      }
      const size_t bytes_at = record.offset();
      const uint8_t* bytes = record.Bytes(static_cast<size_t>(size));
      if (type.dtype.code == LTC_DL_BOOL_CODE) {
        for (size_t j = 0; j < size; ++j) {
          if (bytes[j] > 1) {
            Fail(ErrorCode::kBadConstant, bytes_at + j,
                 "constant " + std::to_string(i) + " holds bool " + std::to_string(bytes[j]));
          }
        }
      }
      EndOf(record);
      const ValueId value = DefineValue(std::move(type), at);
      graph_.constants_.push_back(Constant{value, std::vector<uint8_t>(bytes, bytes + size)});
    }
  }

  void ReadNodes(Cursor& section) {
    const uint32_t count = ReadCount(section, wire::kMinNodeSize, "nodes");
    graph_.nodes_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      Cursor record = ReadRecord(section, "node " + std::to_string(i));
      Node node;
      const size_t op_at = record.offset();
      node.op = ReadString(record);
      const size_t separator = node.op.find("::");
      if (separator == std::string::npos || !IsName(node.op.substr(0, separator), false) ||
          !IsName(node.op.substr(separator + 2), false)) {
        Fail(ErrorCode::kBadString, op_at, "op name \"" + node.op + "\" is not namespace::name");
      }
      const size_t overload_at = record.offset();
      node.overload = ReadString(record);
      if (!node.overload.empty() && !IsName(node.overload, true)) {
        Fail(ErrorCode::kBadString, overload_at, "overload \"" + node.overload + "\" is not a name");
      }
      // The node's own outputs are not yet defined: operands are earlier.
      const size_t limit = graph_.values_.size();
      node.arguments.resize(ReadCount(record, 1, "arguments"));
      for (Argument& argument : node.arguments) argument = ReadArgument(record, limit);
      const uint32_t num_outputs = ReadCount(record, wire::kMinTypeSize, "outputs");
      node.outputs.reserve(num_outputs);
      for (uint32_t j = 0; j < num_outputs; ++j) {
        const size_t at = record.offset();
        node.outputs.push_back(DefineValue(ReadType(record), at));
      }
      EndOf(record);
      graph_.nodes_.push_back(std::move(node));
    }
  }

  void ReadOutputs(Cursor& section) {
    const size_t count_at = section.offset();
    const uint32_t count = ReadCount(section, 4, "outputs");
    if (count == 0) Fail(ErrorCode::kBadOutputs, count_at, "the graph has no outputs");
    std::vector<uint32_t> output_of(graph_.values_.size(), wire::kNoValue);
    graph_.outputs_.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      const size_t at = section.offset();
      const ValueId value = ReadReference(section, graph_.values_.size());
      if (output_of[value.index] != wire::kNoValue) {
        Fail(ErrorCode::kBadOutputs, at,
             "value " + std::to_string(value.index) + " is output " +
                 std::to_string(output_of[value.index]) + " and output " + std::to_string(i));
      }
      output_of[value.index] = i;
      graph_.outputs_.push_back(value);
    }
  }

  Cursor file_;
  bool newer_ = false;  // the file's minor is newer than kFormatMinor
  Graph graph_;
};

Graph ReadGraph(const void* data, size_t size) {
  if (data == nullptr && size != 0) {
    throw FormatError(ErrorCode::kTruncated, 0, "no data");
  }
  return Reader(static_cast<const uint8_t*>(data), size).Read();
}

}  // namespace ltc::graph
