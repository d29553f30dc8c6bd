// ltc-graph-v1 (plugin_api/graph/graph-format.md): what the builder writes
// the reader reads back unchanged, the spec's worked example is the
// builder's bytes, and every malformed input is refused with its own error
// code, never a crash or another exception.
#include <ltc/graph_format.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <ostream>
#include <random>

inline bool operator==(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

namespace ltc::graph {

std::ostream& operator<<(std::ostream& out, ErrorCode code) { return out << ErrorCodeName(code); }
std::ostream& operator<<(std::ostream& out, ValueId value) { return out << "%" << value.index; }

bool operator==(const ValueType& a, const ValueType& b) {
  return a.kind == b.kind && a.dtype == b.dtype && a.shape == b.shape;
}

namespace {

using Bytes = std::vector<uint8_t>;

constexpr DLDataType kF32{kDLFloat, 32, 1};
constexpr DLDataType kF64{kDLFloat, 64, 1};
constexpr DLDataType kI64{kDLInt, 64, 1};
constexpr DLDataType kBool{LTC_DL_BOOL_CODE, 8, 1};

ValueType Tensor(DLDataType dtype, std::vector<int64_t> shape) {
  return {ValueKind::kTensor, dtype, std::move(shape)};
}
ValueType UnrankedTensor(DLDataType dtype) { return {ValueKind::kTensor, dtype, std::nullopt}; }
ValueType Scalar(DLDataType dtype) { return {ValueKind::kScalar, dtype, std::vector<int64_t>{}}; }

Bytes FloatBytes(std::vector<float> values) {
  Bytes bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());  // the test machine is little-endian
  return bytes;
}

Bytes FromHex(const std::string& hex) {
  Bytes bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

Graph Read(const Bytes& bytes) { return ReadGraph(bytes.data(), bytes.size()); }

// The error reading `bytes` gives, or nullopt where it reads.
std::optional<FormatError> ErrorOf(const Bytes& bytes) {
  try {
    Read(bytes);
  } catch (const FormatError& error) {
    return error;
  }
  return std::nullopt;
}

#define EXPECT_FORMAT_ERROR(bytes, expected_code)                               \
  do {                                                                          \
    const std::optional<FormatError> error_ = ErrorOf(bytes);                   \
    ASSERT_TRUE(error_.has_value()) << "the reader accepted a malformed graph"; \
    EXPECT_EQ(error_->code(), expected_code) << error_->what();                 \
  } while (false)

// Where `pattern` starts in `bytes` (once: the tests pick unique patterns).
size_t Find(const Bytes& bytes, const Bytes& pattern) {
  const auto found = std::search(bytes.begin(), bytes.end(), pattern.begin(), pattern.end());
  EXPECT_NE(found, bytes.end());
  EXPECT_EQ(std::search(found + 1, bytes.end(), pattern.begin(), pattern.end()), bytes.end());
  return static_cast<size_t>(found - bytes.begin());
}

Bytes U32(uint32_t value) {
  return {uint8_t(value), uint8_t(value >> 8), uint8_t(value >> 16), uint8_t(value >> 24)};
}
Bytes U64(uint64_t value) {
  Bytes bytes = U32(static_cast<uint32_t>(value));
  const Bytes high = U32(static_cast<uint32_t>(value >> 32));
  bytes.insert(bytes.end(), high.begin(), high.end());
  return bytes;
}
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes bytes;
  for (const Bytes& part : parts) bytes.insert(bytes.end(), part.begin(), part.end());
  return bytes;
}

// Sections as the file frames them: [offset, offset + size) each, header
// included.
struct Section {
  uint32_t id;
  size_t offset;
  size_t size;
};
std::vector<Section> SectionsOf(const Bytes& file) {
  std::vector<Section> sections;
  for (size_t at = 12; at < file.size();) {
    uint32_t id;
    uint64_t length;
    std::memcpy(&id, &file[at], 4);
    std::memcpy(&length, &file[at + 4], 8);
    sections.push_back({id, at, 12 + static_cast<size_t>(length)});
    at += 12 + length;
  }
  return sections;
}
Bytes SectionBytes(const Bytes& file, const Section& section) {
  return Bytes(file.begin() + section.offset, file.begin() + section.offset + section.size);
}
Bytes WithMinor(Bytes file, uint16_t minor) {
  file[10] = uint8_t(minor);
  file[11] = uint8_t(minor >> 8);
  return file;
}
Bytes RawSection(uint32_t id, const Bytes& payload) {
  return Cat({U32(id), U64(payload.size()), payload});
}

// The spec's worked example: x + c * alpha, then its max over dim 1.
Bytes ExampleGraph() {
  GraphBuilder builder;
  const ValueId x = builder.AddParameter(Tensor(kF32, {2, 3}));
  const ValueId alpha = builder.AddParameter(Scalar(kF64));
  const ValueId c = builder.AddConstant(Tensor(kF32, {3}), FloatBytes({1, 2, 3}));
  const ValueId sum =
      builder.AddNode("aten::add", "Tensor", {x, c, alpha}, {Tensor(kF32, {2, 3})})[0];
  const std::vector<ValueId> max = builder.AddNode(
      "aten::max", "dim", {sum, int64_t{1}, false}, {Tensor(kF32, {2}), Tensor(kI64, {2})});
  builder.SetOutputs(max);
  return builder.Finish();
}

// Every argument kind, value kind, unknown ranks and dimensions, and ops
// with several outputs.
struct RichGraph {
  Bytes bytes;
  std::vector<ValueType> values;
  std::vector<std::vector<Argument>> arguments;
  std::vector<ValueId> outputs;
};
RichGraph MakeRichGraph() {
  RichGraph rich;
  GraphBuilder builder;
  auto parameter = [&](ValueType type) {
    rich.values.push_back(type);
    return builder.AddParameter(std::move(type));
  };
  auto constant = [&](ValueType type, Bytes bytes) {
    rich.values.push_back(type);
    return builder.AddConstant(std::move(type), std::move(bytes));
  };
  auto node = [&](const char* op, const char* overload, std::vector<Argument> arguments,
                  std::vector<ValueType> types) {
    rich.arguments.push_back(arguments);
    rich.values.insert(rich.values.end(), types.begin(), types.end());
    return builder.AddNode(op, overload, std::move(arguments), std::move(types));
  };
  const ValueId x = parameter(Tensor(kF32, {2, 3}));
  const ValueId w = parameter(Tensor(kF32, {3, kUnknownDim}));
  const ValueId lr = parameter(Scalar(kF64));
  const ValueId half = constant(Tensor(kF32, {}), FloatBytes({0.5f}));
  const ValueId seven = constant(Scalar(kI64), {7, 0, 0, 0, 0, 0, 0, 0});
  constant(Tensor(kBool, {2}), {1, 0});
  constant(Tensor(kF32, {0, 5}), {});

  const ValueId mm = node("aten::mm", "", {x, w}, {Tensor(kF32, {2, 4})})[0];
  const ValueId add = node("aten::add", "Tensor", {mm, half, lr}, {Tensor(kF32, {2, 4})})[0];
  const std::vector<ValueId> bn =
      node("aten::native_batch_norm", "",
           {add, None{}, None{}, None{}, None{}, true, 0.1, 1e-5},
           {Tensor(kF32, {2, 4}), Tensor(kF32, {4}), Tensor(kF32, {4})});
  const ValueId sum = node("aten::sum", "dim_IntList",
                           {bn[0], std::vector<int64_t>{1, -1}, false, kF64}, {Tensor(kF64, {2})})[0];
  const ValueId index = node("aten::index", "Tensor",
                             {bn[0], std::vector<OptionalValue>{std::nullopt, bn[1]}},
                             {UnrankedTensor(kF32)})[0];
  const ValueId cat = node("aten::cat", "", {std::vector<OptionalValue>{bn[0], add}, int64_t{0}},
                           {Tensor(kF32, {kUnknownDim, 4})})[0];
  const ValueId gelu = node("aten::gelu", "", {cat, std::string("tanh")}, {Tensor(kF32, {4, 4})})[0];
  node("aten::upsample_nearest2d", "vec", {gelu, None{}, std::vector<double>{2.0, -0.0}},
       {UnrankedTensor(kF32)});
  node("aten::native_batch_norm_backward", "",
       {gelu, add, None{}, None{}, None{}, bn[1], bn[2], true, 1e-5,
        std::vector<bool>{true, true, false}},
       {Tensor(kF32, {2, 4}), Tensor(kF32, {4}), Tensor(kF32, {4})});
  const ValueId size = node("aten::size", "int", {add, int64_t{-2}}, {Scalar(kI64)})[0];
  const ValueId view =
      node("aten::view", "", {add, std::vector<OptionalValue>{size, seven}}, {UnrankedTensor(kF32)})[0];
  node("aten::div", "Tensor_mode", {view, lr, std::string("fl\xC3\xBCgel \xE2\x82\xAC")},
       {UnrankedTensor(kF32)});
  node("prim::NumToTensor", "", {size}, {Tensor(kI64, {})});
  rich.outputs = {sum, index, bn[2], x, view};
  builder.SetOutputs(rich.outputs);
  rich.bytes = builder.Finish();
  return rich;
}

// What the reader promises of every graph it returns.
void ExpectWellFormed(const Graph& graph) {
  const size_t num_values = graph.values().size();
  for (const ValueType& type : graph.values()) {
    EXPECT_TRUE(IsValidDtype(type.dtype));
    for (int64_t size : type.shape.value_or(std::vector<int64_t>{})) EXPECT_GE(size, kUnknownDim);
  }
  size_t defined = graph.num_parameters() + graph.constants().size();
  for (size_t i = 0; i < graph.constants().size(); ++i) {
    const Constant& constant = graph.constants()[i];
    EXPECT_EQ(constant.value.index, graph.num_parameters() + i);
    uint64_t bytes = graph.type(constant.value).dtype.bits / 8;
    for (int64_t size : *graph.type(constant.value).shape) bytes *= static_cast<uint64_t>(size);
    EXPECT_EQ(constant.bytes.size(), bytes);
  }
  for (const Node& node : graph.nodes()) {
    for (const Argument& argument : node.arguments) {
      if (const auto* value = std::get_if<ValueId>(&argument)) {
        EXPECT_LT(value->index, defined);
      }
      if (const auto* list = std::get_if<std::vector<OptionalValue>>(&argument)) {
        for (const OptionalValue& value : *list) {
          if (value) {
            EXPECT_LT(value->index, defined);
          }
        }
      }
    }
    for (ValueId output : node.outputs) EXPECT_EQ(output.index, defined++);
  }
  EXPECT_EQ(defined, num_values);
  EXPECT_FALSE(graph.outputs().empty());
  std::vector<bool> returned(num_values);
  for (ValueId output : graph.outputs()) {
    ASSERT_LT(output.index, num_values);
    EXPECT_FALSE(returned[output.index]);
    returned[output.index] = true;
  }
}

TEST(GraphReader, ReadsBackEverythingTheBuilderWrote) {
  const RichGraph rich = MakeRichGraph();
  const Graph graph = Read(rich.bytes);
  ExpectWellFormed(graph);
  EXPECT_EQ(graph.minor_version(), kFormatMinor);
  EXPECT_EQ(graph.num_parameters(), 3u);
  ASSERT_EQ(graph.values().size(), rich.values.size());
  for (size_t i = 0; i < rich.values.size(); ++i) {
    EXPECT_TRUE(graph.values()[i] == rich.values[i]) << "value " << i;
  }
  ASSERT_EQ(graph.constants().size(), 4u);
  EXPECT_EQ(graph.constants()[0].bytes, FloatBytes({0.5f}));
  EXPECT_EQ(graph.constants()[2].bytes, (Bytes{1, 0}));
  EXPECT_TRUE(graph.constants()[3].bytes.empty());
  ASSERT_EQ(graph.nodes().size(), rich.arguments.size());
  for (size_t i = 0; i < rich.arguments.size(); ++i) {
    EXPECT_TRUE(graph.nodes()[i].arguments == rich.arguments[i]) << graph.nodes()[i].full_name();
  }
  EXPECT_EQ(graph.nodes()[1].full_name(), "aten::add.Tensor");
  EXPECT_EQ(graph.nodes()[0].full_name(), "aten::mm");
  EXPECT_EQ(graph.outputs(), rich.outputs);
}

TEST(GraphReader, OpsWithSeveralOutputsDefineConsecutiveValues) {
  const Graph graph = Read(ExampleGraph());
  ASSERT_EQ(graph.nodes().size(), 2u);
  const Node& max = graph.nodes()[1];
  EXPECT_EQ(max.full_name(), "aten::max.dim");
  EXPECT_EQ(max.outputs, (std::vector<ValueId>{{4}, {5}}));
  EXPECT_TRUE(graph.type(max.outputs[1]) == Tensor(kI64, {2}));
  EXPECT_EQ(graph.outputs(), max.outputs);
  EXPECT_EQ(graph.type(ValueId{1}).kind, ValueKind::kScalar);  // binds a scalar buffer
}

// graph-format.md's worked example, as an encoder written from the spec's
// text produced it.
TEST(GraphReader, BuilderWritesTheSpecsWorkedExample) {
  const Bytes spec = FromHex(
      "4c54434752415048010000000100000036000000000000000200000019000000"
      "0000000001022001000200000002000000000000000300000000000000090000"
      "0000000000020240010000000000020000003100000000000000010000002500"
      "00000000000001022001000100000003000000000000000c0000000000000000"
      "00803f000000400000404003000000a900000000000000020000004700000000"
      "000000090000006174656e3a3a6164640600000054656e736f72030000000100"
      "0000000102000000010100000001000000010220010002000000020000000000"
      "000003000000000000004e00000000000000090000006174656e3a3a6d617803"
      "00000064696d0300000001030000000401000000000000000600020000000102"
      "2001000100000002000000000000000100400100010000000200000000000000"
      "040000000c00000000000000020000000400000005000000");
  EXPECT_EQ(ExampleGraph(), spec);
}

// Offsets of fields in the worked example, from the spec's listing.
constexpr size_t kParametersLengthAt = 0x10;
constexpr size_t kParameterCountAt = 0x18;
constexpr size_t kRecordOfXAt = 0x1c;
constexpr size_t kKindOfXAt = 0x24;
constexpr size_t kDtypeOfXAt = 0x25;
constexpr size_t kRankOfXAt = 0x29;
constexpr size_t kShapeOfXAt = 0x2d;
constexpr size_t kDtypeOfAlphaAt = 0x46;
constexpr size_t kConstantsAt = 0x4e;
constexpr size_t kShapeOfConstantAt = 0x6f;
constexpr size_t kConstantSizeAt = 0x77;
constexpr size_t kNodesLengthAt = 0x8f;
constexpr size_t kAddRecordLengthAt = 0x9b;
constexpr size_t kAddOpAt = 0xa3;
constexpr size_t kAddArgumentCountAt = 0xba;
constexpr size_t kAddOtherAt = 0xc4;  // the index after the tag
constexpr size_t kAddEnd = 0xea;
constexpr size_t kMaxDimTagAt = 0x10f;
constexpr size_t kKeepdimAt = 0x119;
constexpr size_t kOutputsLengthAt = 0x144;
constexpr size_t kOutputCountAt = 0x14c;
constexpr size_t kSecondOutputAt = 0x154;

Bytes Patched(Bytes file, size_t at, const Bytes& bytes) {
  std::copy(bytes.begin(), bytes.end(), file.begin() + at);
  return file;
}

// `bytes` inserted at `at`, growing the u64 lengths at `lengths_at` (the
// section and record that enclose it) to match.
Bytes Inserted(Bytes file, size_t at, const Bytes& bytes, std::vector<size_t> lengths_at) {
  for (size_t length_at : lengths_at) {
    uint64_t length;
    std::memcpy(&length, &file[length_at], 8);
    file = Patched(file, length_at, U64(length + bytes.size()));
  }
  file.insert(file.begin() + at, bytes.begin(), bytes.end());
  return file;
}

std::optional<FormatError> ExpectErrorAt(const Bytes& file, ErrorCode code, size_t offset) {
  const std::optional<FormatError> error = ErrorOf(file);
  EXPECT_TRUE(error.has_value()) << "the reader accepted a malformed graph";
  if (error) {
    EXPECT_EQ(error->code(), code) << error->what();
    EXPECT_EQ(error->offset(), offset) << error->what();
  }
  return error;
}

TEST(GraphReader, EveryTruncationIsRefused) {
  const Bytes file = ExampleGraph();
  std::vector<size_t> section_ends = {12};
  for (const Section& section : SectionsOf(file)) section_ends.push_back(section.offset + section.size);
  for (size_t size = 0; size < file.size(); ++size) {
    SCOPED_TRACE("first " + std::to_string(size) + " bytes");
    const std::optional<FormatError> error = ErrorOf(Bytes(file.begin(), file.begin() + size));
    ASSERT_TRUE(error.has_value());
    // Cut between sections, the file lacks one; anywhere else a field is cut.
    const bool between_sections =
        std::find(section_ends.begin(), section_ends.end(), size) != section_ends.end();
    EXPECT_EQ(error->code(), between_sections ? ErrorCode::kBadSection : ErrorCode::kTruncated)
        << error->what();
    EXPECT_LE(error->offset(), size);
  }
  EXPECT_THROW(ReadGraph(nullptr, 0), FormatError);
}

TEST(GraphReader, RefusesBadMagicWithItsOffsetInTheMessage) {
  const std::optional<FormatError> error =
      ExpectErrorAt(Patched(ExampleGraph(), 3, {'g'}), ErrorCode::kBadMagic, 0);
  ASSERT_TRUE(error);
  EXPECT_EQ(std::string(error->what()).rfind("ltc-graph-v1: byte 0: bad magic: ", 0), 0u)
      << error->what();
}

TEST(GraphReader, RefusesAnyOtherMajor) {
  for (uint8_t major : {0, 2, 255}) {
    ExpectErrorAt(Patched(ExampleGraph(), 8, {major}), ErrorCode::kUnsupportedVersion, 8);
  }
}

TEST(GraphReader, NewerMinorSkipsUnknownSectionsAndTrailingFields) {
  const Bytes unknown = RawSection(77, {1, 2, 3});
  const Bytes file = ExampleGraph();
  // Edits from the end backwards, so that each one's offsets still hold.
  Bytes newer = Cat({file, unknown});
  newer = Inserted(newer, kOutputCountAt + 12, {9, 9}, {kOutputsLengthAt});
  newer = Inserted(newer, kAddEnd, {0xAB}, {kNodesLengthAt, kAddRecordLengthAt});
  newer = Inserted(newer, kConstantsAt, unknown, {});
  newer = Inserted(newer, 12, unknown, {});
  newer = WithMinor(newer, kFormatMinor + 1);

  const Graph graph = Read(newer);
  ExpectWellFormed(graph);
  EXPECT_EQ(graph.minor_version(), kFormatMinor + 1);
  const Graph same = Read(file);
  EXPECT_EQ(graph.values().size(), same.values().size());
  EXPECT_EQ(graph.nodes()[1].arguments, same.nodes()[1].arguments);
  EXPECT_EQ(graph.outputs(), same.outputs());
}

TEST(GraphReader, SameMinorRefusesUnknownSectionsAndTrailingFields) {
  const Bytes file = ExampleGraph();
  ExpectErrorAt(Inserted(file, kConstantsAt, RawSection(77, {}), {}), ErrorCode::kBadSection,
                kConstantsAt);
  ExpectErrorAt(Cat({file, RawSection(77, {})}), ErrorCode::kBadSection, file.size());
  ExpectErrorAt(Inserted(file, kAddEnd, {0}, {kNodesLengthAt, kAddRecordLengthAt}),
                ErrorCode::kTrailingBytes, kAddEnd);
  ExpectErrorAt(Inserted(file, kConstantsAt, {0, 0}, {kParametersLengthAt}),
                ErrorCode::kTrailingBytes, kConstantsAt);
  ExpectErrorAt(Cat({file, Bytes{4, 0, 0}}), ErrorCode::kTruncated, file.size());
}

TEST(GraphReader, RefusesMissingRepeatedAndMisorderedSections) {
  const Bytes file = ExampleGraph();
  const std::vector<Section> sections = SectionsOf(file);
  ASSERT_EQ(sections.size(), 4u);
  const Bytes header(file.begin(), file.begin() + 12);
  const Bytes parameters = SectionBytes(file, sections[0]);
  const Bytes constants = SectionBytes(file, sections[1]);
  const Bytes nodes = SectionBytes(file, sections[2]);
  const Bytes outputs = SectionBytes(file, sections[3]);
  EXPECT_FORMAT_ERROR(Cat({header, parameters, constants, nodes}), ErrorCode::kBadSection);
  EXPECT_FORMAT_ERROR(Cat({header, parameters, nodes, constants, outputs}), ErrorCode::kBadSection);
  EXPECT_FORMAT_ERROR(Cat({header, parameters, constants, constants, nodes, outputs}),
                      ErrorCode::kBadSection);
  EXPECT_FORMAT_ERROR(Cat({file, outputs}), ErrorCode::kBadSection);
  // A newer minor may add sections, never drop the known ones.
  EXPECT_FORMAT_ERROR(WithMinor(Cat({header, parameters, constants, outputs}), kFormatMinor + 1),
                      ErrorCode::kBadSection);
}

TEST(GraphReader, RefusesReferencesToValuesNotYetDefined) {
  const Bytes file = ExampleGraph();
  // aten::add's `other` naming its own output, then a later value.
  ExpectErrorAt(Patched(file, kAddOtherAt, U32(3)), ErrorCode::kBadReference, kAddOtherAt);
  ExpectErrorAt(Patched(file, kAddOtherAt, U32(5)), ErrorCode::kBadReference, kAddOtherAt);
  ExpectErrorAt(Patched(file, kAddOtherAt, U32(0xFFFFFFFF)), ErrorCode::kBadReference, kAddOtherAt);
  // An output past the last value.
  ExpectErrorAt(Patched(file, kSecondOutputAt, U32(6)), ErrorCode::kBadReference, kSecondOutputAt);

  GraphBuilder builder;
  const ValueId x = builder.AddParameter(Tensor(kF32, {2}));
  builder.AddNode("aten::cat", "", {std::vector<OptionalValue>{x, ValueId{7}}, int64_t{0}},
                  {Tensor(kF32, {4})});
  builder.SetOutputs({ValueId{1}});
  const Bytes list = builder.Finish();
  ExpectErrorAt(list, ErrorCode::kBadReference, Find(list, U32(7)));
}

TEST(GraphReader, RefusesCountsTheRemainingBytesCannotHold) {
  const Bytes file = ExampleGraph();
  const Bytes huge = U32(0xFFFFFFFF);
  ExpectErrorAt(Patched(file, kParameterCountAt, huge), ErrorCode::kBadCount, kParameterCountAt);
  ExpectErrorAt(Patched(file, kAddArgumentCountAt, huge), ErrorCode::kBadCount, kAddArgumentCountAt);
  ExpectErrorAt(Patched(file, kOutputCountAt, huge), ErrorCode::kBadCount, kOutputCountAt);
  ExpectErrorAt(Patched(file, kRankOfXAt, U32(0x7FFFFFFF)), ErrorCode::kBadCount, kRankOfXAt);
  // Lengths past their enclosing section or file.
  ExpectErrorAt(Patched(file, kParametersLengthAt, U64(~uint64_t{0})), ErrorCode::kTruncated,
                kParametersLengthAt + 8);
  ExpectErrorAt(Patched(file, kRecordOfXAt, U64(1u << 20)), ErrorCode::kTruncated, kRecordOfXAt + 8);
  ExpectErrorAt(Patched(file, kAddOpAt, huge), ErrorCode::kTruncated, kAddOpAt + 4);

  GraphBuilder builder;
  const ValueId x = builder.AddParameter(Tensor(kF32, {2, 3}));
  builder.AddNode("aten::sum", "dim_IntList",
                  {x, std::vector<int64_t>{1, 0}, false, None{}}, {Tensor(kF32, {2})});
  builder.SetOutputs({ValueId{1}});
  Bytes list = builder.Finish();
  const size_t count_at = Find(list, Cat({Bytes{7}, U32(2)})) + 1;
  ExpectErrorAt(Patched(list, count_at, U32(0x40000000)), ErrorCode::kBadCount, count_at);
}

TEST(GraphReader, RefusesDtypesKindsAndShapesTheFormatDoesNotAllow) {
  const Bytes file = ExampleGraph();
  ExpectErrorAt(Patched(file, kDtypeOfXAt, {kDLOpaqueHandle}), ErrorCode::kBadType, kDtypeOfXAt);
  ExpectErrorAt(Patched(file, kDtypeOfXAt, {kDLFloat, 8}), ErrorCode::kBadType, kDtypeOfXAt);
  ExpectErrorAt(Patched(file, kDtypeOfXAt, {kDLFloat, 32, 2}), ErrorCode::kBadType, kDtypeOfXAt);
  ExpectErrorAt(Patched(file, kDtypeOfXAt, {LTC_DL_BOOL_CODE, 1}), ErrorCode::kBadType, kDtypeOfXAt);
  ExpectErrorAt(Patched(file, kDtypeOfXAt, {99, 32}), ErrorCode::kBadType, kDtypeOfXAt);
  ExpectErrorAt(Patched(file, kKindOfXAt, {3}), ErrorCode::kBadType, kKindOfXAt);
  ExpectErrorAt(Patched(file, kRankOfXAt, U32(0xFFFFFFFE)), ErrorCode::kBadType, kRankOfXAt);
  ExpectErrorAt(Patched(file, kShapeOfXAt, U64(uint64_t(-2))), ErrorCode::kBadType, kShapeOfXAt);
  // A scalar is a TorchScript number: float32 is not one.
  ExpectErrorAt(Patched(file, kDtypeOfAlphaAt, {kDLFloat, 32}), ErrorCode::kBadType,
                kDtypeOfAlphaAt - 1);

  const auto one_parameter = [](ValueType type) {
    GraphBuilder builder;
    builder.SetOutputs({builder.AddParameter(std::move(type))});
    return builder.Finish();
  };
  EXPECT_FORMAT_ERROR(one_parameter(UnrankedTensor(kF32)), ErrorCode::kBadType);
  EXPECT_FORMAT_ERROR(one_parameter({ValueKind::kScalar, kI64, std::vector<int64_t>{1}}),
                      ErrorCode::kBadType);
  EXPECT_FORMAT_ERROR(one_parameter({ValueKind::kScalar, kI64, std::nullopt}), ErrorCode::kBadType);
  EXPECT_NO_THROW(Read(one_parameter(Tensor(kF32, {kUnknownDim, 3}))));
  EXPECT_NO_THROW(Read(one_parameter(Scalar(kBool))));
  EXPECT_NO_THROW(Read(one_parameter(Tensor({kDLBfloat, 16, 1}, {2}))));
  EXPECT_NO_THROW(Read(one_parameter(Tensor({kDLComplex, 128, 1}, {2}))));
}

TEST(GraphReader, RefusesShapesWhoseSizeOverflows) {
  const auto one_parameter = [](std::vector<int64_t> shape) {
    GraphBuilder builder;
    builder.SetOutputs({builder.AddParameter(Tensor(kF32, std::move(shape)))});
    return builder.Finish();
  };
  constexpr int64_t k2To32 = int64_t{1} << 32;
  EXPECT_FORMAT_ERROR(one_parameter({k2To32, k2To32}), ErrorCode::kOverflow);
  EXPECT_FORMAT_ERROR(one_parameter({int64_t{1} << 62}), ErrorCode::kOverflow);  // 2^64 bytes
  EXPECT_FORMAT_ERROR(one_parameter({k2To32, kUnknownDim, k2To32}), ErrorCode::kOverflow);
  // No elements, however large the other dimensions.
  EXPECT_NO_THROW(Read(one_parameter({k2To32, k2To32, 0})));
  EXPECT_NO_THROW(Read(one_parameter({(int64_t{1} << 61) - 1})));  // 2^63 - 4 bytes fits
  EXPECT_FORMAT_ERROR(one_parameter({int64_t{1} << 61}), ErrorCode::kOverflow);  // 2^63

  GraphBuilder builder;
  const ValueId x = builder.AddParameter(Tensor(kF32, {2}));
  builder.AddNode("aten::expand", "", {x, std::vector<int64_t>{k2To32, k2To32}, false},
                  {Tensor(kF32, {k2To32, k2To32})});
  builder.SetOutputs({ValueId{1}});
  EXPECT_FORMAT_ERROR(builder.Finish(), ErrorCode::kOverflow);
}

TEST(GraphReader, RefusesConstantsWhoseBytesDoNotMatchTheirType) {
  const Bytes file = ExampleGraph();
  ExpectErrorAt(Patched(file, kConstantSizeAt, U64(8)), ErrorCode::kBadConstant, kConstantSizeAt);
  ExpectErrorAt(Patched(file, kShapeOfConstantAt, U64(4)), ErrorCode::kBadConstant, kConstantSizeAt);

  const auto one_constant = [](ValueType type, Bytes bytes) {
    GraphBuilder builder;
    builder.SetOutputs({builder.AddConstant(std::move(type), std::move(bytes))});
    return builder.Finish();
  };
  EXPECT_FORMAT_ERROR(one_constant(Tensor(kF32, {2}), FloatBytes({1, 2, 3})), ErrorCode::kBadConstant);
  EXPECT_FORMAT_ERROR(one_constant(Tensor(kBool, {3}), {1, 2, 0}), ErrorCode::kBadConstant);
  EXPECT_FORMAT_ERROR(one_constant(Tensor(kF32, {kUnknownDim}), {}), ErrorCode::kBadType);
  EXPECT_FORMAT_ERROR(one_constant(UnrankedTensor(kF32), {}), ErrorCode::kBadType);
  EXPECT_FORMAT_ERROR(one_constant(Tensor(kF32, {int64_t{1} << 62}), {}), ErrorCode::kOverflow);
  EXPECT_NO_THROW(Read(one_constant(Scalar(kF64), Bytes(8))));
}

TEST(GraphReader, RefusesDuplicateAndMissingOutputs) {
  ExpectErrorAt(Patched(ExampleGraph(), kSecondOutputAt, U32(4)), ErrorCode::kBadOutputs,
                kSecondOutputAt);
  GraphBuilder builder;
  builder.AddParameter(Tensor(kF32, {2}));
  ExpectErrorAt(builder.Finish(), ErrorCode::kBadOutputs, builder.Finish().size() - 4);
}

TEST(GraphReader, RefusesUnknownArgumentTagsAndBadBools) {
  const Bytes file = ExampleGraph();
  for (uint8_t tag : {0, 12, 255}) {
    ExpectErrorAt(Patched(file, kMaxDimTagAt, {tag}), ErrorCode::kBadArgument, kMaxDimTagAt);
  }
  ExpectErrorAt(Patched(file, kKeepdimAt, {2}), ErrorCode::kBadArgument, kKeepdimAt);
}

TEST(GraphReader, RefusesBadStringsAndOpNames) {
  const auto one_node = [](std::string op, std::string overload, std::string argument) {
    GraphBuilder builder;
    const ValueId x = builder.AddParameter(Tensor(kF32, {2}));
    builder.AddNode(std::move(op), std::move(overload), {x, std::move(argument)},
                    {Tensor(kF32, {2})});
    builder.SetOutputs({ValueId{1}});
    return builder.Finish();
  };
  EXPECT_NO_THROW(Read(one_node("aten::div", "Tensor_mode", "floor")));
  EXPECT_NO_THROW(Read(one_node("aten::__and__", "", "\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xBC")));
  EXPECT_NO_THROW(Read(one_node("aten::foo", "2", "")));
  const std::vector<std::string> bad_text = {
      std::string("flo\0or", 6), "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82",
      "\x80", "\xFF"};
  for (const std::string& text : bad_text) {
    SCOPED_TRACE(text);
    EXPECT_FORMAT_ERROR(one_node("aten::div", "Tensor_mode", text), ErrorCode::kBadString);
  }
  for (const char* op : {"add", "aten::", "::add", "aten:add", "aten::add.Tensor", "aten::a b",
                         "aten::mm::x", "1aten::mm"}) {
    SCOPED_TRACE(op);
    EXPECT_FORMAT_ERROR(one_node(op, "", ""), ErrorCode::kBadString);
  }
  EXPECT_FORMAT_ERROR(one_node("aten::add", "Tensor.out", ""), ErrorCode::kBadString);
  EXPECT_FORMAT_ERROR(one_node("aten::add", std::string("T\0", 2), ""), ErrorCode::kBadString);
}

TEST(GraphBuilder, NumbersParametersThenConstantsThenNodeOutputs) {
  GraphBuilder builder;
  EXPECT_EQ(builder.AddParameter(Tensor(kF32, {1})), ValueId{0});
  EXPECT_EQ(builder.AddConstant(Scalar(kI64), Bytes(8)), ValueId{1});
  EXPECT_THROW(builder.AddParameter(Tensor(kF32, {1})), std::logic_error);
  EXPECT_EQ(builder.AddNode("aten::relu", "", {ValueId{0}}, {Tensor(kF32, {1})})[0], ValueId{2});
  EXPECT_THROW(builder.AddConstant(Scalar(kI64), Bytes(8)), std::logic_error);
}

// Whatever a corrupted file holds, the reader answers a graph that keeps
// its promises or a FormatError: never a crash, never another exception.
void ExpectAcceptedOrFormatError(const Bytes& file) {
  try {
    ExpectWellFormed(Read(file));
  } catch (const FormatError&) {
  }
}

TEST(GraphReader, EveryFlippedByteIsReadOrRefused) {
  for (const Bytes& file : {ExampleGraph(), MakeRichGraph().bytes}) {
    for (size_t at = 0; at < file.size(); ++at) {
      for (uint8_t mask : {0x01, 0x80, 0xFF}) {
        Bytes flipped = file;
        flipped[at] ^= mask;
        ExpectAcceptedOrFormatError(flipped);
      }
    }
  }
}

TEST(GraphReader, RandomCorruptionsAreReadOrRefused) {
  const Bytes file = MakeRichGraph().bytes;
  std::mt19937 random(20240611);
  std::uniform_int_distribution<size_t> position(0, file.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 5000; ++i) {
    Bytes corrupted = file;
    for (int j = 0, n = 1 + i % 4; j < n; ++j) {
      corrupted[position(random)] = static_cast<uint8_t>(byte(random));
    }
    // Counts and lengths set to boundary values, where they do most harm.
    const size_t at = position(random) & ~size_t{3};
    if (i % 3 == 0 && at + 4 <= corrupted.size()) {
      corrupted = Patched(corrupted, at, U32(i % 2 ? 0xFFFFFFFF : 0x7FFFFFFF));
    }
    if (i % 5 == 0) corrupted.resize(position(random));
    ExpectAcceptedOrFormatError(corrupted);
  }
}

}  // namespace
}  // namespace ltc::graph
