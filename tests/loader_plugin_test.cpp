// Loading plugins: each way a plugin can be broken is reported with its
// reason, and a good plugin loads and works across the ABI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "loader_test_util.h"

namespace ltc {
namespace {

using loader_test::CaseDir;
using loader_test::CaseDirs;
using loader_test::CaseLibrary;
using loader_test::HostAbi;
using loader_test::SelectError;
using ::testing::HasSubstr;

struct BadCase {
  std::string test_case;      // also the plugin's name
  std::string select_reason;  // why SelectBackend refuses it
  std::string list_reason;    // why ListPlugins calls it unavailable; empty: available
};

std::string PrintCase(const ::testing::TestParamInfo<BadCase>& info) {
  return info.param.test_case;
}

std::vector<BadCase> BadCases() {
  const std::string too_short =
      "malformed table: struct_size is " + std::to_string(LTC_PLUGIN_API_STRUCT_SIZE_1_0) +
      " but ABI 1.1 needs at least " + std::to_string(LTC_PLUGIN_API_STRUCT_SIZE_1_1);
  const std::string not_elf =
      "not loadable: " + CaseLibrary("not_elf").string() + ": invalid ELF header";
  const std::string missing_dep =
      "not loadable: libltc_test_vanished.so: cannot open shared object file: "
      "No such file or directory";
  return {
      {"no_entry", "no ltc_plugin_query symbol", "no ltc_plugin_query symbol"},
      {"null_query", "ltc_plugin_query returned NULL for ABI " + HostAbi(),
       "ltc_plugin_query returned NULL for ABI " + HostAbi()},
      {"major_mismatch", "ABI 2.0 not supported by host " + HostAbi(),
       "ABI 2.0 not supported by host " + HostAbi()},
      {"null_slot", "malformed table: compile is NULL", "malformed table: compile is NULL"},
      {"short_table", too_short, too_short},
      {"not_elf", not_elf, not_elf},
      {"missing_dep", missing_dep, missing_dep},
      {"unavailable", "unavailable: no test accelerator present", "no test accelerator present"},
      // Listing never starts a client, so it cannot know this one fails.
      {"init_fails", "init failed: frobnicator not connected", ""},
  };
}

class BadPlugin : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadPlugin, SelectBackendSaysWhy) {
  const BadCase& bad = GetParam();
  EXPECT_EQ(SelectError(bad.test_case, CaseDirs({bad.test_case})),
            "no LTC backend could be loaded for \"" + bad.test_case + "\"\n" + "  searched: " +
                CaseDir(bad.test_case).string() + " (LTC_PLUGIN_PATH)\n" + "  " + bad.test_case +
                ": " + CaseLibrary(bad.test_case).string() + ": " + bad.select_reason);
}

TEST_P(BadPlugin, ListPluginsSaysWhy) {
  const BadCase& bad = GetParam();
  const std::vector<PluginListing> listings = ListPlugins(CaseDirs({bad.test_case}));
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_EQ(listings[0].name, bad.test_case);
  EXPECT_EQ(listings[0].path, CaseLibrary(bad.test_case));
  EXPECT_EQ(listings[0].available, bad.list_reason.empty());
  EXPECT_EQ(listings[0].reason, bad.list_reason);
}

INSTANTIATE_TEST_SUITE_P(Cases, BadPlugin, ::testing::ValuesIn(BadCases()), PrintCase);

// The PluginError a call throws; a test failure if it throws none.
template <typename Call>
PluginError CaughtPluginError(Call&& call) {
  try {
    call();
  } catch (const PluginError& error) {
    return error;
  }
  ADD_FAILURE() << "no PluginError was thrown";
  return PluginError(LTC_ERROR_UNKNOWN, "");
}

// Host memory handed to a plugin, which reports when the plugin lets go.
struct HostFloats {
  std::vector<float> values;
  std::vector<int64_t> shape;
  bool* released;
  DLManagedTensor managed{};
};

DLManagedTensor* MakeTensor(std::vector<float> values, std::vector<int64_t> shape, bool* released) {
  auto* host = new HostFloats{std::move(values), std::move(shape), released};
  DLTensor& tensor = host->managed.dl_tensor;
  tensor.data = host->values.data();
  tensor.device = DLDevice{kDLCPU, 0};
  tensor.ndim = static_cast<int32_t>(host->shape.size());
  tensor.dtype = DLDataType{kDLFloat, 32, 1};
  tensor.shape = host->shape.data();
  host->managed.manager_ctx = host;
  host->managed.deleter = [](DLManagedTensor* self) {
    auto* owner = static_cast<HostFloats*>(self->manager_ctx);
    *owner->released = true;
    delete owner;
  };
  return &host->managed;
}

// A client of one test plugin and the calls the tests make through it.
class ClientTest : public ::testing::Test {
 protected:
  void Open(const std::string& test_case) {
    client_ = SelectBackend(test_case, CaseDirs({test_case}));
  }
  const LtcPluginApi& api() const { return client_->api(); }
  LtcClient* client() const { return client_->get(); }

  LtcBuffer* FromHost(const std::vector<float>& values, const std::vector<int64_t>& shape) {
    bool released = false;
    LtcBuffer* buffer = nullptr;
    client_->Check(
        api().buffer_from_host(client(), MakeTensor(values, shape, &released), 0, &buffer));
    // The test backend copies, so it gives the memory back at once.
    EXPECT_TRUE(released);
    return buffer;
  }

  template <typename T>
  std::vector<T> ToHost(LtcBuffer* buffer) {
    DLManagedTensor* tensor = nullptr;
    client_->Check(api().buffer_to_host(client(), buffer, &tensor));
    int64_t count = 1;
    for (int32_t dim = 0; dim < tensor->dl_tensor.ndim; ++dim)
      count *= tensor->dl_tensor.shape[dim];
    std::vector<T> values(static_cast<size_t>(count));
    std::memcpy(values.data(), tensor->dl_tensor.data, values.size() * sizeof(T));
    tensor->deleter(tensor);
    return values;
  }

  LtcClientStats Stats() {
    LtcClientStats stats{};
    stats.struct_size = LTC_CLIENT_STATS_STRUCT_SIZE;
    client_->Check(api().client_get_stats(client(), &stats));
    return stats;
  }

  LtcExecutable* Compile(const char* format, const std::string& graph) {
    LtcCompileArgs args{};
    args.struct_size = LTC_COMPILE_ARGS_STRUCT_SIZE;
    args.format = format;
    args.graph = graph.data();
    args.graph_size = graph.size();
    LtcExecutable* executable = nullptr;
    client_->Check(api().compile(client(), &args, &executable));
    return executable;
  }

  std::unique_ptr<PluginClient> client_;
};

using GoodPlugin = ClientTest;

TEST_F(GoodPlugin, DescribesItself) {
  Open("good");
  EXPECT_EQ(client_->plugin().name(), "good");
  EXPECT_EQ(client_->plugin().abi(), HostAbi());
  EXPECT_STREQ(api().version, "0.0.1-test");
  int32_t count = 0;
  client_->Check(api().client_device_count(client(), &count));
  EXPECT_EQ(count, 1);
  const char* kind = nullptr;
  client_->Check(api().client_device_kind(client(), &kind));
  EXPECT_STREQ(kind, "cpu");
}

TEST_F(GoodPlugin, BufferRoundTripsItsBytes) {
  Open("good");
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 1e-3f};
  LtcBuffer* buffer = FromHost(values, {2, 2});
  EXPECT_EQ(Stats().live_buffers, 1u);

  LtcBufferInfo info{};
  info.struct_size = LTC_BUFFER_INFO_STRUCT_SIZE;
  client_->Check(api().buffer_get_info(client(), buffer, &info));
  EXPECT_EQ(std::vector<int64_t>(info.shape, info.shape + info.ndim), (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(info.has_data);
  EXPECT_EQ(ToHost<float>(buffer), values);

  api().buffer_destroy(client(), buffer);
  EXPECT_EQ(Stats().live_buffers, 0u);
}

TEST_F(GoodPlugin, IdentityGraphReturnsCopiesOfItsArguments) {
  Open("good");
  LtcExecutable* executable = Compile("test-identity", "2");
  LtcBuffer* arguments[] = {FromHost({1, 2, 3}, {3}), FromHost({4}, {1})};
  LtcBuffer* results[2] = {};
  LtcExecuteArgs args{};
  args.struct_size = LTC_EXECUTE_ARGS_STRUCT_SIZE;
  args.executable = executable;
  args.arguments = arguments;
  args.num_arguments = 2;
  args.out_results = results;
  args.num_results = 2;
  client_->Check(api().execute(client(), &args));

  EXPECT_EQ(ToHost<float>(results[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(ToHost<float>(results[1]), (std::vector<float>{4}));
  LtcClientStats stats = Stats();
  EXPECT_EQ(stats.live_buffers, 4u);
  EXPECT_EQ(stats.live_executables, 1u);
  EXPECT_EQ(stats.compiles, 1u);
  EXPECT_EQ(stats.executes, 1u);

  for (LtcBuffer* buffer : {arguments[0], arguments[1], results[0], results[1]}) {
    api().buffer_destroy(client(), buffer);
  }
  api().executable_destroy(client(), executable);
  stats = Stats();
  EXPECT_EQ(stats.live_buffers, 0u);
  EXPECT_EQ(stats.live_executables, 0u);
}

TEST_F(GoodPlugin, ScalarBecomesAZeroDimBuffer) {
  Open("good");
  LtcScalar scalar{};
  scalar.struct_size = LTC_SCALAR_STRUCT_SIZE;
  scalar.dtype = DLDataType{kDLFloat, 64, 1};
  scalar.f = 2.5;
  LtcBuffer* buffer = nullptr;
  client_->Check(api().buffer_from_scalar(client(), &scalar, 0, &buffer));
  EXPECT_EQ(ToHost<double>(buffer), std::vector<double>{2.5});
  api().buffer_destroy(client(), buffer);
}

// The plugin's error codes and messages reach the host unchanged.
TEST_F(GoodPlugin, ErrorsKeepTheirCodeAndMessage) {
  Open("good");
  const PluginError unimplemented =
      CaughtPluginError([&] { Compile(LTC_GRAPH_FORMAT_TORCHSCRIPT, "graph"); });
  EXPECT_EQ(unimplemented.code(), LTC_ERROR_UNIMPLEMENTED);
  EXPECT_THAT(unimplemented.what(), HasSubstr("is not supported, only test-identity"));

  LtcBuffer* placeholder = nullptr;
  const int64_t shape[] = {3};
  client_->Check(api().buffer_create_placeholder(client(), DLDataType{kDLFloat, 32, 1}, shape, 1, 0,
                                                 &placeholder));
  const PluginError no_data = CaughtPluginError([&] { ToHost<float>(placeholder); });
  EXPECT_EQ(no_data.code(), LTC_ERROR_FAILED_PRECONDITION);
  api().buffer_destroy(client(), placeholder);
}

TEST_F(ClientTest, ThrowingSlotBecomesAnInternalError) {
  Open("throws");
  int32_t count = -1;
  const PluginError error =
      CaughtPluginError([&] { client_->Check(api().client_device_count(client(), &count)); });
  EXPECT_EQ(error.code(), LTC_ERROR_INTERNAL);
  EXPECT_THAT(error.what(), HasSubstr("device enumeration exploded"));
  EXPECT_EQ(count, 0) << "outputs are zeroed on failure";
}

// A 1.0 plugin has no client_get_stats; its slot holds a trap that aborts,
// so this test dies if the loader reads past struct_size.
TEST_F(ClientTest, OlderMinorLoadsWithoutTheNewerSlots) {
  const auto plugin = Plugin::Load(CaseLibrary("older_minor"));
  EXPECT_EQ(plugin->abi(), "1.0");
  EXPECT_TRUE(plugin->HasSlot(offsetof(LtcPluginApi, set_rng_seed)));
  EXPECT_FALSE(plugin->HasSlot(offsetof(LtcPluginApi, client_get_stats)));

  Open("older_minor");
  LtcBuffer* buffer = FromHost({7, 8}, {2});
  EXPECT_EQ(ToHost<float>(buffer), (std::vector<float>{7, 8}));
  api().buffer_destroy(client(), buffer);
}

// A 1.7 plugin's table is longer than the host's; the host uses what it knows.
TEST_F(ClientTest, NewerMinorLoadsAndWorks) {
  Open("newer_minor");
  EXPECT_EQ(client_->plugin().abi(), "1.7");
  ASSERT_TRUE(client_->plugin().HasSlot(offsetof(LtcPluginApi, client_get_stats)));
  LtcBuffer* buffer = FromHost({7, 8}, {2});
  EXPECT_EQ(Stats().live_buffers, 1u);
  EXPECT_EQ(ToHost<float>(buffer), (std::vector<float>{7, 8}));
  api().buffer_destroy(client(), buffer);
  EXPECT_EQ(Stats().live_buffers, 0u);
}

TEST(Plugin, CheckPassesSuccess) {
  const auto plugin = Plugin::Load(CaseLibrary("good"));
  EXPECT_NO_THROW(plugin->Check(nullptr));
  EXPECT_EQ(plugin->UnavailableReason(), "");
}

}  // namespace
}  // namespace ltc
