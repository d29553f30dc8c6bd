// The TorchScript plugins' graph readers (ReadTorchScriptArchive,
// ReadTorchScriptIr) on what the host writes, and on damaged bytes, which
// they refuse with an error before LibTorch trips on them.
#include "ts_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace ltc::torchscript {
namespace {

using ::testing::HasSubstr;

// An archive as the host writes one: forward(self, x) returns a tuple.
std::string Archive() {
  torch::jit::Module module("__torch__.ltc.LoweredGraph");
  module.define("def forward(self, x):\n  return (x + 1, x * 2)\n");
  std::ostringstream archive;
  module.save(archive);
  return archive.str();
}

// `zip` with the first byte of the entry `name` flipped: an entry stored
// uncompressed, as the writers store pickles.
std::string DamageEntry(std::string zip, const std::string& name) {
  const auto u16 = [&](size_t offset) {
    return static_cast<uint8_t>(zip[offset]) | static_cast<uint8_t>(zip[offset + 1]) << 8;
  };
  for (size_t at = zip.find("PK\x03\x04"); at != std::string::npos;
       at = zip.find("PK\x03\x04", at + 4)) {
    const size_t name_length = u16(at + 26);
    if (zip.compare(at + 30, name_length, name) == 0) {
      zip[at + 30 + name_length + u16(at + 28)] ^= 0x01;
      return zip;
    }
  }
  ADD_FAILURE() << "no entry " << name;
  return zip;
}

std::string ErrorOf(const std::function<void()>& read) {
  try {
    read();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(TorchScriptArchive, ReadsWhatTheHostWrites) {
  const std::string archive = Archive();
  const auto graph = ReadTorchScriptArchive(archive.data(), archive.size(), at::kCPU);
  EXPECT_EQ(graph->inputs().size(), 1u);
  EXPECT_EQ(graph->outputs().size(), 2u);
}

TEST(TorchScriptArchive, RefusesADamagedEntry) {
  const std::string damaged = DamageEntry(Archive(), "archive/data.pkl");
  EXPECT_THAT(ErrorOf([&] { ReadTorchScriptArchive(damaged.data(), damaged.size(), at::kCPU); }),
              HasSubstr("entry 'archive/data.pkl' does not match its CRC-32"));
}

// IR text and its constants, pickled as the host writes them.
std::string Ir() {
  c10::impl::GenericList constants(c10::AnyType::get());
  constants.push_back(torch::ones({2}));
  const std::vector<char> bytes = torch::jit::pickle_save(c10::ivalue::Tuple::create(
      std::string("graph(%x : Tensor, %c : Tensor):\n"
                  "  %y : Tensor = aten::mul(%x, %c)\n"
                  "  return (%y)\n"),
      std::move(constants)));
  return std::string(bytes.begin(), bytes.end());
}

TEST(TorchScriptIr, ReadsWhatTheHostWrites) {
  const std::string ir = Ir();
  const auto graph = ReadTorchScriptIr(ir.data(), ir.size(), at::kCPU);
  EXPECT_EQ(graph->inputs().size(), 1u);  // the constant is bound
  EXPECT_EQ(graph->outputs().size(), 1u);
}

TEST(TorchScriptIr, RefusesADamagedEntry) {
  const std::string damaged = DamageEntry(Ir(), "archive/data.pkl");
  EXPECT_THAT(ErrorOf([&] { ReadTorchScriptIr(damaged.data(), damaged.size(), at::kCPU); }),
              HasSubstr("entry 'archive/data.pkl' does not match its CRC-32"));
}

// A zip whose directory names bytes past its end, found by fuzz_ts_ir:
// pickle_load's reader copied them (a heap overflow under ASan).
TEST(TorchScriptIr, RefusesAZipThatPointsPastItsEnd) {
  std::ifstream in(LTC_FUZZ_CORPUS_DIR "/fuzz_ts_ir/oob_zip_directory.ir", std::ios::binary);
  const std::string zip(std::istreambuf_iterator<char>(in), {});
  ASSERT_FALSE(zip.empty());
  EXPECT_THAT(ErrorOf([&] { ReadTorchScriptIr(zip.data(), zip.size(), at::kCPU); }),
              HasSubstr("failed reading zip archive"));
}

}  // namespace
}  // namespace ltc::torchscript
