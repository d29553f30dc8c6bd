// Loading plugins: each way a plugin can be broken is reported with its
// reason, and a good plugin loads and works across the ABI through the
// host's typed client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "abi_next/guarded.h"
#include "loader_test_util.h"

namespace ltc {
namespace {

using loader_test::CaseDir;
using loader_test::CaseDirs;
using loader_test::CaseLibrary;
using loader_test::HostAbi;
using loader_test::LogCapture;
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
      "malformed table: struct_size is " + std::to_string(LTC_PLUGIN_API_STRUCT_SIZE_2_0 - 8) +
      " but ABI " + HostAbi() + " needs at least " + std::to_string(LTC_PLUGIN_API_STRUCT_SIZE_2_0);
  const std::string not_elf =
      "not loadable: " + CaseLibrary("not_elf").string() + ": invalid ELF header";
  const std::string missing_dep =
      "not loadable: libltc_test_vanished.so: cannot open shared object file: "
      "No such file or directory";
  const std::string mismatch =
      "manifest name 'name_mismatch' does not match the plugin's name 'someone_else'";
  return {
      {"no_entry", "no ltc_plugin_query symbol", "no ltc_plugin_query symbol"},
      {"null_query", "ltc_plugin_query returned NULL for ABI " + HostAbi(),
       "ltc_plugin_query returned NULL for ABI " + HostAbi()},
      {"major_mismatch", "ABI 3.0 not supported by host " + HostAbi(),
       "ABI 3.0 not supported by host " + HostAbi()},
      {"null_slot", "malformed table: client_compile is NULL",
       "malformed table: client_compile is NULL"},
      {"short_table", too_short, too_short},
      {"not_elf", not_elf, not_elf},
      {"missing_dep", missing_dep, missing_dep},
      {"name_mismatch", mismatch, mismatch},
      {"unavailable", "unavailable: no test accelerator present", "no test accelerator present"},
      // Listing never starts a client, so it cannot know these fail.
      {"init_fails", "init failed: frobnicator not connected", ""},
      // The adapter turns the plugin's exception into an error object.
      {"throws", "init failed: device enumeration exploded", ""},
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
  return PluginError("", "", LTC_ERROR_UNKNOWN, "");
}

// Host memory handed to a plugin, which reports when the plugin lets go.
struct HostFloats {
  std::vector<float> values;
  std::vector<int64_t> shape;
  bool* released;
  DLManagedTensor managed{};
};

DLManagedTensorPtr MakeTensor(std::vector<float> values, std::vector<int64_t> shape,
                              bool* released) {
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
  return DLManagedTensorPtr(&host->managed);
}

// A client of one test plugin and the calls the tests make through it.
class ClientTest : public ::testing::Test {
 protected:
  void Open(const std::string& test_case, ClientOptions options = {}) {
    client_ = SelectBackend(test_case, CaseDirs({test_case}), ClientConfig{std::move(options)});
  }
  PluginClient& client() const { return *client_; }

  Buffer FromHost(const std::vector<float>& values, const std::vector<int64_t>& shape,
                  int32_t device = 0) {
    bool released = false;
    Buffer buffer = client().BufferFromHost(MakeTensor(values, shape, &released), device);
    // The test backend copies, so it gives the memory back at once.
    EXPECT_TRUE(released);
    return buffer;
  }

  template <typename T>
  std::vector<T> ToHost(const Buffer& buffer) {
    DLManagedTensorPtr tensor = client().ToHost(buffer.get());
    int64_t count = 1;
    for (int32_t dim = 0; dim < tensor->dl_tensor.ndim; ++dim) count *= tensor->dl_tensor.shape[dim];
    std::vector<T> values(static_cast<size_t>(count));
    std::memcpy(values.data(), tensor->dl_tensor.data, values.size() * sizeof(T));
    return values;
  }

  ClientStats Stats() {
    const std::optional<ClientStats> stats = client().Stats();
    EXPECT_TRUE(stats.has_value());
    return stats.value_or(ClientStats{});
  }

  std::unique_ptr<PluginClient> client_;
};

using GoodPlugin = ClientTest;

TEST_F(GoodPlugin, DescribesItselfWithoutAClient) {
  const auto plugin = Plugin::Load(CaseLibrary("good"));
  const PluginAttributes& attributes = plugin->attributes();
  EXPECT_EQ(attributes.name, "good");
  EXPECT_EQ(attributes.version, "0.0.1-test");
  EXPECT_EQ(attributes.vendor, "ltc-plugins tests");
  EXPECT_EQ(attributes.graph_formats, std::vector<std::string>{"test-identity"});
  EXPECT_EQ(attributes.libtorch_version, "") << "the test backend links no LibTorch";
  EXPECT_EQ(plugin->abi(), HostAbi());
  EXPECT_EQ(plugin->UnavailableReason(), "");
}

TEST_F(GoodPlugin, DescribesItsDevices) {
  Open("good");
  EXPECT_EQ(client().device_count(), 1);
  EXPECT_EQ(client().eager_fallback_device(), kDLCPU);
  EXPECT_EQ(client().device_info(0).kind, "cpu");
  const PluginError out_of_range = CaughtPluginError([&] { client().device_info(1); });
  EXPECT_EQ(out_of_range.code(), LTC_ERROR_OUT_OF_RANGE);
  EXPECT_EQ(out_of_range.call(), "client_get_device_info");
}

TEST_F(GoodPlugin, BufferRoundTripsItsBytes) {
  Open("good");
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 1e-3f};
  {
    Buffer buffer = FromHost(values, {2, 2});
    EXPECT_EQ(Stats().live_buffers, 1u);
    const BufferInfo info = client().Info(buffer.get());
    EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(info.device_ordinal, 0);
    EXPECT_TRUE(info.has_data);
    EXPECT_EQ(ToHost<float>(buffer), values);
  }
  EXPECT_EQ(Stats().live_buffers, 0u) << "the handle destroys its buffer";
}

TEST_F(GoodPlugin, IdentityGraphReturnsCopiesOfItsArguments) {
  Open("good");
  {
    const Executable executable = client().Compile("test-identity", "2", "", 0);
    EXPECT_EQ(executable.num_parameters(), 2u);
    EXPECT_EQ(executable.num_results(), 2u);
    EXPECT_EQ(executable.device_ordinal(), 0);
    const Buffer a = FromHost({1, 2, 3}, {3});
    const Buffer b = FromHost({4}, {1});
    const std::vector<Buffer> results = client().Execute(executable, {a.get(), b.get()});
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(ToHost<float>(results[0]), (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(ToHost<float>(results[1]), (std::vector<float>{4}));
    const ClientStats stats = Stats();
    EXPECT_EQ(stats.live_buffers, 4u);
    EXPECT_EQ(stats.live_executables, 1u);
    EXPECT_EQ(stats.compiles, 1u);
    EXPECT_EQ(stats.executes, 1u);
  }
  const ClientStats stats = Stats();
  EXPECT_EQ(stats.live_buffers, 0u);
  EXPECT_EQ(stats.live_executables, 0u);
}

// Donation (since 2.1): a donated argument is the plugin's from then on.
TEST_F(GoodPlugin, DonatedArgumentHoldsNoDataAfterASuccessfulExecute) {
  Open("good");
  const Executable executable = client().Compile("test-identity", "2", "", 0);
  const Buffer a = FromHost({1, 2, 3}, {3});
  const Buffer b = FromHost({4}, {1});
  const std::vector<Buffer> results =
      client().Execute(executable, {a.get(), b.get()}, {true, false});
  EXPECT_EQ(ToHost<float>(results[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_FALSE(client().Info(a.get()).has_data);
  EXPECT_TRUE(client().Info(b.get()).has_data);

  const PluginError read = CaughtPluginError([&] { client().ToHost(a.get()); });
  EXPECT_EQ(read.code(), LTC_ERROR_FAILED_PRECONDITION);
  EXPECT_THAT(read.message(), HasSubstr("donated"));
  const PluginError reused =
      CaughtPluginError([&] { client().Execute(executable, {a.get(), b.get()}); });
  EXPECT_EQ(reused.code(), LTC_ERROR_FAILED_PRECONDITION);
  EXPECT_THAT(reused.message(), HasSubstr("argument 0 holds no data: it was donated"));
  EXPECT_EQ(ToHost<float>(b), std::vector<float>{4});
  EXPECT_EQ(Stats().live_buffers, 4u) << "the caller still destroys a donated buffer";
}

TEST_F(GoodPlugin, ABufferDonatedAndPassedTwiceIsRefusedAndKept) {
  Open("good");
  const Executable executable = client().Compile("test-identity", "2", "", 0);
  const Buffer a = FromHost({1, 2}, {2});
  for (const std::vector<bool>& donated : {std::vector<bool>{true, false}, {false, true}}) {
    const PluginError twice =
        CaughtPluginError([&] { client().Execute(executable, {a.get(), a.get()}, donated); });
    EXPECT_EQ(twice.code(), LTC_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(twice.message(), HasSubstr("is donated but its buffer is also argument"));
  }
  EXPECT_EQ(Stats().executes, 0u);
  EXPECT_EQ(ToHost<float>(a), (std::vector<float>{1, 2}));
  // Passed twice without donating is fine.
  EXPECT_EQ(client().Execute(executable, {a.get(), a.get()}).size(), 2u);
}

TEST_F(GoodPlugin, DonationFlagsMustMatchTheArguments) {
  Open("good");
  const Executable executable = client().Compile("test-identity", "2", "", 0);
  const Buffer a = FromHost({1}, {1});
  EXPECT_THROW(client().Execute(executable, {a.get(), a.get()}, {true}), std::invalid_argument);
  EXPECT_TRUE(client().Info(a.get()).has_data);
}

// What a 2.0 host sends: execute's args end before donated_arguments (a
// guard page follows them), so this 2.1 plugin reads no flags and donates
// nothing.
TEST_F(GoodPlugin, TwoZeroSizedExecuteArgsDonateNothing) {
  Open("good");
  const Executable executable = client().Compile("test-identity", "1", "", 0);
  const Buffer a = FromHost({5, 6}, {2});
  struct TwoZeroArgs {
    unsigned char bytes[LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0];
  };
  const test::Guarded<TwoZeroArgs> memory;
  auto* args = reinterpret_cast<LtcExecutableExecuteArgs*>(memory.get());
  LtcBuffer* arguments[] = {a.get()};
  LtcBuffer* results[] = {nullptr};
  args->struct_size = LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0;
  args->client = client().get();
  args->executable = executable.get();
  args->arguments = arguments;
  args->num_arguments = 1;
  args->out_results = results;
  args->num_results = 1;
  client().Check("executable_execute", client().plugin().api().executable_execute(args));
  const Buffer result(client(), results[0]);
  EXPECT_TRUE(client().Info(a.get()).has_data);
  EXPECT_EQ(ToHost<float>(a), (std::vector<float>{5, 6}));
  EXPECT_EQ(ToHost<float>(result), (std::vector<float>{5, 6}));
}

TEST_F(GoodPlugin, ScalarBecomesAZeroDimBuffer) {
  Open("good");
  const Buffer buffer = client().BufferFromScalar(DLDataType{kDLFloat, 64, 1}, 0, 2.5, 0);
  EXPECT_TRUE(client().Info(buffer.get()).shape.empty());
  EXPECT_EQ(ToHost<double>(buffer), std::vector<double>{2.5});
}

// Errors reach the user with the plugin's name, the call and the code.
TEST_F(GoodPlugin, ErrorsNameThePluginTheCallAndTheCode) {
  Open("good");
  const PluginError unimplemented =
      CaughtPluginError([&] { client().Compile(LTC_GRAPH_FORMAT_TORCHSCRIPT, "graph", "", 0); });
  EXPECT_EQ(unimplemented.code(), LTC_ERROR_UNIMPLEMENTED);
  EXPECT_THAT(unimplemented.what(), HasSubstr("good: compile: UNIMPLEMENTED: "));
  EXPECT_THAT(unimplemented.what(), HasSubstr("test-identity"));

  const Executable executable = client().Compile("test-identity", "2", "", 0);
  const Buffer one = FromHost({1}, {1});
  const PluginError arity = CaughtPluginError([&] { client().Execute(executable, {one.get()}); });
  EXPECT_THAT(arity.what(), HasSubstr("good: execute: INVALID_ARGUMENT: "));

  const Buffer placeholder = client().CreatePlaceholder(DLDataType{kDLFloat, 32, 1}, {3}, 0);
  EXPECT_FALSE(client().Info(placeholder.get()).has_data);
  const PluginError no_data = CaughtPluginError([&] { ToHost<float>(placeholder); });
  EXPECT_EQ(no_data.code(), LTC_ERROR_FAILED_PRECONDITION);
  EXPECT_EQ(no_data.call(), "buffer_to_host");
  const PluginError bad_ordinal = CaughtPluginError([&] { FromHost({1}, {1}, 3); });
  EXPECT_EQ(bad_ordinal.code(), LTC_ERROR_OUT_OF_RANGE);
}

// OPTIONAL slots left NULL: the host never calls them and uses their
// documented defaults.
TEST_F(ClientTest, OptionalSlotsMayBeNull) {
  Open("optional_null");
  EXPECT_FALSE(client().plugin().HasSlot(offsetof(LtcPluginApi, client_synchronize)));
  EXPECT_EQ(client().plugin().UnavailableReason(), "");
  EXPECT_NO_THROW(client().Synchronize(0));
  EXPECT_NO_THROW(client().SetRngSeed(7));
  EXPECT_FALSE(client().Stats().has_value());
  const Buffer buffer = FromHost({7, 8}, {2});
  EXPECT_EQ(ToHost<float>(buffer), (std::vector<float>{7, 8}));
}

// A 2.7 plugin's table is longer than the host's, with traps past 2.0's
// slots; the host uses what it knows.
TEST_F(ClientTest, NewerMinorLoadsAndWorks) {
  Open("newer_minor");
  EXPECT_EQ(client().plugin().abi(), "2.7");
  EXPECT_EQ(client().plugin().agreed_minor(), static_cast<uint32_t>(LTC_PLUGIN_ABI_MINOR));
  const Buffer buffer = FromHost({7, 8}, {2});
  EXPECT_EQ(Stats().live_buffers, 1u);
  EXPECT_EQ(ToHost<float>(buffer), (std::vector<float>{7, 8}));
}

// Executables and buffers belong to one device; lazy:N is ordinal N.
TEST_F(ClientTest, ExecutablesRunOnTheDeviceTheyWereCompiledFor) {
  Open("two_devices");
  ASSERT_EQ(client().device_count(), 2);
  EXPECT_EQ(client().device_info(1).name, "test device 1");
  EXPECT_EQ(client().device_info(1).memory_bytes, uint64_t{1} << 30);
  const Executable on_one = client().Compile("test-identity", "1", "", 1);
  EXPECT_EQ(on_one.device_ordinal(), 1);
  const Buffer x1 = FromHost({5}, {1}, 1);
  const std::vector<Buffer> results = client().Execute(on_one, {x1.get()});
  EXPECT_EQ(client().Info(results[0].get()).device_ordinal, 1);
  EXPECT_EQ(ToHost<float>(results[0]), std::vector<float>{5});

  const Buffer x0 = FromHost({5}, {1}, 0);
  const PluginError wrong_device = CaughtPluginError([&] { client().Execute(on_one, {x0.get()}); });
  EXPECT_EQ(wrong_device.code(), LTC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(wrong_device.message(), HasSubstr("device 0"));
  EXPECT_THAT(wrong_device.message(), HasSubstr("device 1"));
}

// An asynchronous failure surfaces once, from the first read or wait.
TEST_F(ClientTest, AsynchronousErrorSurfacesOnceAtTheFirstRead) {
  Open("async_fails", {{"fail_execution", int64_t{1}}});
  const Executable executable = client().Compile("test-identity", "1", "", 0);
  const Buffer x = FromHost({3}, {1});
  const std::vector<Buffer> results = client().Execute(executable, {x.get()});
  const PluginError failure = CaughtPluginError([&] { ToHost<float>(results[0]); });
  EXPECT_EQ(failure.code(), LTC_ERROR_INTERNAL);
  EXPECT_THAT(failure.what(),
              HasSubstr("async_fails: buffer_to_host: INTERNAL: asynchronous failure injected"));
  EXPECT_NO_THROW(client().Synchronize(0)) << "reported once, not again at the next wait";
  EXPECT_FALSE(client().Info(results[0].get()).has_data);
  EXPECT_EQ(CaughtPluginError([&] { ToHost<float>(results[0]); }).code(),
            LTC_ERROR_FAILED_PRECONDITION);
  // The next execution is unaffected.
  const std::vector<Buffer> again = client().Execute(executable, {x.get()});
  EXPECT_EQ(ToHost<float>(again[0]), std::vector<float>{3});
}

TEST_F(ClientTest, AsynchronousErrorSurfacesAtSynchronizeWhenThatComesFirst) {
  Open("async_fails", {{"fail_execution", int64_t{1}}});
  const Executable executable = client().Compile("test-identity", "1", "", 0);
  const Buffer x = FromHost({3}, {1});
  const std::vector<Buffer> results = client().Execute(executable, {x.get()});
  const PluginError failure = CaughtPluginError([&] { client().Synchronize(0); });
  EXPECT_THAT(failure.what(), HasSubstr("async_fails: client_synchronize: INTERNAL: "));
  EXPECT_EQ(CaughtPluginError([&] { ToHost<float>(results[0]); }).code(),
            LTC_ERROR_FAILED_PRECONDITION);
  EXPECT_NO_THROW(client().Synchronize(0));
}

TEST_F(ClientTest, OptionsReachThePluginTyped) {
  LogCapture log;
  Open("options", {{"count", int64_t{3}},
                   {"flag", true},
                   {"label", std::string("x")},
                   {"scale", 0.5},
                   {"good.count", int64_t{9}}});
  EXPECT_THAT(log.text(), HasSubstr("info options: options: count=3 flag=true label=x scale=0.5\n"));
}

TEST_F(ClientTest, ScopedOptionsGoOnlyToTheirPlugin) {
  LogCapture log;
  Open("options", {{"count", int64_t{3}}, {"options.count", int64_t{4}}});
  EXPECT_THAT(log.text(), HasSubstr("options: count=4\n"));
}

TEST_F(ClientTest, UnknownOptionFailsInitNamingTheKnownOnes) {
  const std::string unknown = [] {
    try {
      SelectBackend("options", CaseDirs({"options"}), ClientConfig{{{"colour", int64_t{1}}}});
    } catch (const LoaderError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  }();
  EXPECT_THAT(unknown, HasSubstr("init failed: unknown option 'colour'"));
  EXPECT_THAT(unknown, HasSubstr("count"));
  EXPECT_THAT(unknown, HasSubstr("flag"));
}

TEST_F(ClientTest, OptionOfTheWrongTypeFailsInit) {
  try {
    SelectBackend("options", CaseDirs({"options"}), ClientConfig{{{"count", std::string("many")}}});
    ADD_FAILURE() << "a string was accepted for an int64 option";
  } catch (const LoaderError& e) {
    EXPECT_THAT(e.what(), HasSubstr("option 'count' must be an int64"));
  }
}

TEST_F(ClientTest, PluginLogLinesGoToTheLtcLoggerTaggedWithItsName) {
  LogCapture log;
  Open("options", {{"flag", false}});
  EXPECT_THAT(log.text(), HasSubstr("info options: options: flag=false\n"));
}

TEST(Plugin, CheckPassesSuccess) {
  const auto plugin = Plugin::Load(CaseLibrary("good"));
  EXPECT_NO_THROW(plugin->Check("anything", nullptr));
}

TEST(PluginError, TextNamesPluginCallAndCode) {
  const PluginError error("ts_cpu", "execute", LTC_ERROR_INVALID_ARGUMENT, "bad");
  EXPECT_STREQ(error.what(), "ts_cpu: execute: INVALID_ARGUMENT: bad");
  EXPECT_EQ(ErrorCodeName(static_cast<LtcErrorCode>(99)), "CODE_99");
}

}  // namespace
}  // namespace ltc
