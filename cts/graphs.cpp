#include "graphs.h"

#include <ltc/graph_format.h>
#include <ltc/plugin_api.h>

#include <cstdint>
#include <vector>

namespace ltc::cts {
namespace {

std::string PortableGraph() {
  graph::GraphBuilder builder;
  const graph::ValueType type{graph::ValueKind::kTensor, DLDataType{kDLFloat, 32, 1},
                              std::vector<int64_t>{kGraphRows, kGraphColumns}};
  const graph::ValueId a = builder.AddParameter(type);
  const graph::ValueId b = builder.AddParameter(type);
  // Every schema argument in schema order: aten::add.Tensor(self, other, alpha).
  const graph::ValueId product = builder.AddNode("aten::mul", "Tensor", {a, b}, {type})[0];
  const graph::ValueId sum = builder.AddNode("aten::add", "Tensor", {a, b, int64_t{1}}, {type})[0];
  builder.SetOutputs({product, sum});
  const std::vector<uint8_t> bytes = builder.Finish();
  return std::string(bytes.begin(), bytes.end());
}

// The graph as torch::jit::parseIR reads it. Plain `Tensor` types, so the
// text holds for a plugin of any device.
constexpr const char* kIrText =
    "graph(%p0 : Tensor,\n"
    "      %p1 : Tensor):\n"
    "  %alpha : int = prim::Constant[value=1]()\n"
    "  %product : Tensor = aten::mul(%p0, %p1)\n"
    "  %sum : Tensor = aten::add(%p0, %p1, %alpha)\n"
    "  return (%product, %sum)\n";

void PutLittleEndian(std::string& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// The tuple (text, []) pickled (protocol 2) as torch::jit::Unpickler reads it.
std::string PickleTextAndEmptyList(const std::string& text) {
  std::string out = "\x80\x02";  // PROTO 2
  out += 'X';                    // BINUNICODE: u32 length, UTF-8
  PutLittleEndian(out, text.size(), 4);
  out += text;
  out += ']';     // EMPTY_LIST
  out += '\x86';  // TUPLE2
  out += '.';     // STOP
  return out;
}

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char byte : data) {
    crc ^= static_cast<uint8_t>(byte);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A zip of stored (uncompressed) entries, the container PyTorch's
// PyTorchStreamReader reads. Entries are named below one folder, as
// PyTorch's writer does.
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  std::string directory;
  for (const auto& [name, data] : entries) {
    const uint32_t crc = Crc32(data);
    const size_t local_offset = out.size();
    PutLittleEndian(out, 0x04034b50, 4);  // local file header
    PutLittleEndian(out, 20, 2);          // version needed: 2.0
    PutLittleEndian(out, 0, 2);           // flags
    PutLittleEndian(out, 0, 2);           // stored
    PutLittleEndian(out, 0, 4);           // time, date
    PutLittleEndian(out, crc, 4);
    PutLittleEndian(out, data.size(), 4);
    PutLittleEndian(out, data.size(), 4);
    PutLittleEndian(out, name.size(), 2);
    PutLittleEndian(out, 0, 2);  // extra length
    out += name;
    out += data;

    PutLittleEndian(directory, 0x02014b50, 4);  // central directory entry
    PutLittleEndian(directory, 20, 2);          // made by
    PutLittleEndian(directory, 20, 2);          // needed
    PutLittleEndian(directory, 0, 2);
    PutLittleEndian(directory, 0, 2);
    PutLittleEndian(directory, 0, 4);
    PutLittleEndian(directory, crc, 4);
    PutLittleEndian(directory, data.size(), 4);
    PutLittleEndian(directory, data.size(), 4);
    PutLittleEndian(directory, name.size(), 2);
    PutLittleEndian(directory, 0, 2);  // extra
    PutLittleEndian(directory, 0, 2);  // comment
    PutLittleEndian(directory, 0, 2);  // disk
    PutLittleEndian(directory, 0, 2);  // internal attributes
    PutLittleEndian(directory, 0, 4);  // external attributes
    PutLittleEndian(directory, local_offset, 4);
    directory += name;
  }
  const size_t directory_offset = out.size();
  out += directory;
  PutLittleEndian(out, 0x06054b50, 4);  // end of central directory
  PutLittleEndian(out, 0, 2);
  PutLittleEndian(out, 0, 2);
  PutLittleEndian(out, entries.size(), 2);
  PutLittleEndian(out, entries.size(), 2);
  PutLittleEndian(out, directory.size(), 4);
  PutLittleEndian(out, directory_offset, 4);
  PutLittleEndian(out, 0, 2);  // comment length
  return out;
}

// What torch::jit::pickle_save writes for (ir, constants): data.pkl and the
// file format version (3, what LibTorch 1.13 to 2.x write for it) in a zip.
std::string TorchScriptIrGraph() {
  return StoredZip(
      {{"archive/data.pkl", PickleTextAndEmptyList(kIrText)}, {"archive/version", "3\n"}});
}

}  // namespace

std::array<GraphValues, 2> ExpectedResults(const GraphValues& a, const GraphValues& b) {
  std::array<GraphValues, 2> results{};
  for (size_t i = 0; i < kGraphElements; ++i) {
    results[0][i] = a[i] * b[i];
    results[1][i] = a[i] + b[i];
  }
  return results;
}

std::optional<std::string> WriteTestGraph(const std::string& format) {
  if (format == LTC_GRAPH_FORMAT_PORTABLE) return PortableGraph();
  if (format == LTC_GRAPH_FORMAT_TORCHSCRIPT_IR) return TorchScriptIrGraph();
  return std::nullopt;
}

}  // namespace ltc::cts
