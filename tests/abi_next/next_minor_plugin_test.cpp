// A plugin built against the next minor (2.2, simulated) on a host of this
// one (2.1): the real header, loader and client. The host must load it and
// run everything; the plugin must read nothing and write nothing past the
// 2.1-sized structs it is given, and take 2.2's defaults instead.
#include <dlfcn.h>

#include <ltc/loader.h>
#include <ltc/plugin_api.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "guarded.h"
#include "sequence.h"

namespace ltc::test {
namespace {

const char* const kLibrary = LTC_TEST_PLUGIN_DIR "/next_minor_plugin/libltc_next_minor_plugin.so";
constexpr const char* kPriorityRead = "compile: next_minor_priority=0";

bool Contains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(part) != std::string::npos; });
}

TEST(NextMinorPluginOnThisHost, LoadsAsTwoTwoAndSpeaksTwoOne) {
  const auto plugin = Plugin::Load(kLibrary);
  EXPECT_EQ(plugin->abi(), "2.2");
  EXPECT_EQ(plugin->agreed_minor(), 1u);
  EXPECT_GT(plugin->api().struct_size, LTC_PLUGIN_API_STRUCT_SIZE);
  EXPECT_EQ(plugin->name(), "next_minor_plugin");
  EXPECT_EQ(plugin->attributes().vendor, "ltc-plugins tests");
}

TEST(NextMinorPluginOnThisHost, RunsTheWholeSequenceThroughTheHostClient) {
  // The client logs the plugin's lines to the logger "ltc".
  const auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto logger = spdlog::get("ltc");
  if (logger == nullptr) {
    logger = std::make_shared<spdlog::logger>("ltc");
    spdlog::register_logger(logger);
  }
  logger->sinks().push_back(sink);
  logger->set_level(spdlog::level::info);

  const PluginClient client(Plugin::Load(kLibrary), ClientConfig{});
  ExpectIdentityRoundTrip(client);
  EXPECT_TRUE(Contains(sink->last_formatted(), kPriorityRead));
}

// A 2.1 host's view of the plugin, without the loader: every slot called
// once with args structs of exactly 2.1's size, each ending at a page no one
// may touch.
class GuardedHost {
 public:
  GuardedHost() : library_(dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL)) {
    if (library_ == nullptr) throw std::runtime_error(dlerror());
    const auto query =
        reinterpret_cast<LtcPluginQueryFn>(dlsym(library_, LTC_PLUGIN_QUERY_SYMBOL));
    if (query == nullptr) throw std::runtime_error("no " LTC_PLUGIN_QUERY_SYMBOL);
    api_ = query(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR);
    if (api_ == nullptr) throw std::runtime_error("no table for 2.1");
    services_->context = this;
    services_->log_is_enabled = [](void*, LtcLogLevel) { return true; };
    services_->log = [](void* context, LtcLogLevel, const char* message) {
      static_cast<GuardedHost*>(context)->log_.push_back(message);
    };
    services_->trace_begin = [](void*, const char*) -> void* { return nullptr; };
    services_->trace_end = [](void*, void*) {};
  }
  ~GuardedHost() { dlclose(library_); }

  const LtcPluginApi& api() const { return *api_; }
  const LtcHostServices* services() const { return services_.get(); }
  const std::vector<std::string>& log() const { return log_; }

  // Fails the test with the error's code and message; destroys it.
  void ExpectOk(LtcError* error) const {
    if (error == nullptr) return;
    ADD_FAILURE() << "error " << Code(error) << ": " << Message(error);
    Destroy(error);
  }
  LtcErrorCode Code(LtcError* error) const {
    GuardedArgs<LtcErrorGetCodeArgs> args(LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE);
    args->error = error;
    api_->error_get_code(args.get());
    return args->out_code;
  }
  std::string Message(LtcError* error) const {
    GuardedArgs<LtcErrorGetMessageArgs> args(LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE);
    args->error = error;
    api_->error_get_message(args.get());
    return std::string(args->out_message, args->out_message_size);
  }
  void Destroy(LtcError* error) const {
    GuardedArgs<LtcErrorDestroyArgs> args(LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE);
    args->error = error;
    api_->error_destroy(args.get());
  }

 private:
  void* library_;
  const LtcPluginApi* api_ = nullptr;
  GuardedArgs<LtcHostServices> services_{LTC_HOST_SERVICES_STRUCT_SIZE};
  std::vector<std::string> log_;
};

TEST(NextMinorPluginOnThisHost, EverySlotStaysInsideTwoOneSizedStructs) {
  const GuardedHost host;
  const LtcPluginApi& api = host.api();
  EXPECT_EQ(api.abi_major, 2u);
  EXPECT_EQ(api.abi_minor, 2u);

  GuardedArgs<LtcPluginGetAttributesArgs> attributes(LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE);
  host.ExpectOk(api.plugin_get_attributes(attributes.get()));
  EXPECT_STREQ(attributes->out_name, "next_minor_plugin");
  ASSERT_EQ(attributes->out_num_graph_formats, 1u);
  EXPECT_STREQ(attributes->out_graph_formats[0], "test-identity");
  EXPECT_EQ(attributes->out_libtorch_version, nullptr);
  if (api.plugin_check_available != nullptr) {
    GuardedArgs<LtcPluginCheckAvailableArgs> available(
        LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE);
    host.ExpectOk(api.plugin_check_available(available.get()));
  }

  GuardedArgs<LtcClientCreateArgs> create(LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE);
  create->host_abi_major = LTC_PLUGIN_ABI_MAJOR;
  create->host_abi_minor = LTC_PLUGIN_ABI_MINOR;
  create->plugin_name = "next_minor_plugin";
  create->host_services = host.services();
  host.ExpectOk(api.client_create(create.get()));
  LtcClient* const client = create->out_client;
  ASSERT_NE(client, nullptr);

  GuardedArgs<LtcClientGetInfoArgs> info(LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE);
  info->client = client;
  host.ExpectOk(api.client_get_info(info.get()));
  EXPECT_EQ(info->out_device_count, 1);
  EXPECT_EQ(info->out_eager_fallback_device, kDLCPU);

  GuardedArgs<LtcClientGetDeviceInfoArgs> device(LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE);
  device->client = client;
  host.ExpectOk(api.client_get_device_info(device.get()));
  EXPECT_STREQ(device->out_kind, "cpu");
  EXPECT_STREQ(device->out_name, "test device 0");
  // And the three error slots, on the error of an ordinal out of range.
  GuardedArgs<LtcClientGetDeviceInfoArgs> no_device(LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE);
  no_device->client = client;
  no_device->device_ordinal = 1;
  LtcError* const error = api.client_get_device_info(no_device.get());
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(host.Code(error), LTC_ERROR_OUT_OF_RANGE);
  EXPECT_FALSE(host.Message(error).empty());
  host.Destroy(error);

  const std::vector<float> values{1.0f, 2.0f, 3.0f};
  GuardedArgs<LtcBufferFromHostArgs> upload(LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE);
  upload->client = client;
  upload->tensor = HostTensor(values).release();
  host.ExpectOk(api.buffer_from_host(upload.get()));

  GuardedArgs<LtcBufferFromScalarArgs> scalar(LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE);
  scalar->client = client;
  scalar->dtype = DLDataType{kDLInt, 64, 1};
  scalar->int64_value = -3;
  host.ExpectOk(api.buffer_from_scalar(scalar.get()));

  const Guarded<int64_t> shape(2);
  shape[0] = 2;
  shape[1] = 3;
  GuardedArgs<LtcBufferCreatePlaceholderArgs> placeholder(
      LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE);
  placeholder->client = client;
  placeholder->dtype = DLDataType{kDLFloat, 32, 1};
  placeholder->shape = shape.get();
  placeholder->ndim = 2;
  host.ExpectOk(api.buffer_create_placeholder(placeholder.get()));

  GuardedArgs<LtcBufferGetInfoArgs> buffer_info(LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE);
  buffer_info->client = client;
  buffer_info->buffer = placeholder->out_buffer;
  host.ExpectOk(api.buffer_get_info(buffer_info.get()));
  EXPECT_EQ(buffer_info->out_ndim, 2);
  EXPECT_FALSE(buffer_info->out_has_data);

  const std::string graph = "2";
  GuardedArgs<LtcClientCompileArgs> compile(LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE);
  compile->client = client;
  compile->format = "test-identity";
  compile->graph = graph.data();
  compile->graph_size = graph.size();
  host.ExpectOk(api.client_compile(compile.get()));
  ASSERT_NE(compile->out_executable, nullptr);
  // The plugin read 2.2's next_minor_priority as its default: 2.1's
  // struct has no such field (reading it would have crashed).
  EXPECT_NE(std::find(host.log().begin(), host.log().end(), kPriorityRead), host.log().end());

  // 2.2 writes out_next_minor_flops only where it fits: here it would
  // have crashed.
  GuardedArgs<LtcExecutableGetInfoArgs> executable_info(
      LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE);
  executable_info->client = client;
  executable_info->executable = compile->out_executable;
  host.ExpectOk(api.executable_get_info(executable_info.get()));
  EXPECT_EQ(executable_info->out_num_parameters, 2u);
  EXPECT_EQ(executable_info->out_num_results, 2u);

  const Guarded<LtcBuffer*> arguments(2);
  arguments[0] = upload->out_buffer;
  arguments[1] = scalar->out_buffer;
  const Guarded<LtcBuffer*> results(2);
  // 2.1's field, which this 2.2 plugin reads: the scalar is donated.
  const Guarded<bool> donated(2);
  donated[1] = true;
  GuardedArgs<LtcExecutableExecuteArgs> execute(LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE);
  execute->client = client;
  execute->executable = compile->out_executable;
  execute->arguments = arguments.get();
  execute->num_arguments = 2;
  execute->out_results = results.get();
  execute->num_results = 2;
  execute->donated_arguments = donated.get();
  host.ExpectOk(api.executable_execute(execute.get()));
  for (const auto& [buffer, has_data] :
       {std::pair{upload->out_buffer, true}, std::pair{scalar->out_buffer, false}}) {
    GuardedArgs<LtcBufferGetInfoArgs> donated_info(LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE);
    donated_info->client = client;
    donated_info->buffer = buffer;
    host.ExpectOk(api.buffer_get_info(donated_info.get()));
    EXPECT_EQ(donated_info->out_has_data, has_data);
  }

  GuardedArgs<LtcBufferToHostArgs> download(LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE);
  download->client = client;
  download->buffer = results[0];
  host.ExpectOk(api.buffer_to_host(download.get()));
  ASSERT_NE(download->out_tensor, nullptr);
  std::vector<float> back(3);
  std::memcpy(back.data(), download->out_tensor->dl_tensor.data, sizeof(float) * 3);
  EXPECT_EQ(back, values);
  download->out_tensor->deleter(download->out_tensor);

  GuardedArgs<LtcClientSynchronizeArgs> synchronize(LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE);
  synchronize->client = client;
  if (api.client_synchronize != nullptr) host.ExpectOk(api.client_synchronize(synchronize.get()));
  GuardedArgs<LtcClientSetRngSeedArgs> seed(LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE);
  seed->client = client;
  seed->seed = 42;
  if (api.client_set_rng_seed != nullptr) host.ExpectOk(api.client_set_rng_seed(seed.get()));
  ASSERT_NE(api.client_get_stats, nullptr);
  GuardedArgs<LtcClientGetStatsArgs> stats(LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE);
  stats->client = client;
  host.ExpectOk(api.client_get_stats(stats.get()));
  EXPECT_EQ(stats->out_live_buffers, 5u);
  EXPECT_EQ(stats->out_live_executables, 1u);
  EXPECT_EQ(stats->out_compiles, 1u);
  EXPECT_EQ(stats->out_executes, 1u);

  for (LtcBuffer* buffer : {upload->out_buffer, scalar->out_buffer, placeholder->out_buffer,
                            results[0], results[1]}) {
    GuardedArgs<LtcBufferDestroyArgs> destroy(LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE);
    destroy->client = client;
    destroy->buffer = buffer;
    host.ExpectOk(api.buffer_destroy(destroy.get()));
  }
  GuardedArgs<LtcExecutableDestroyArgs> destroy_executable(
      LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE);
  destroy_executable->client = client;
  destroy_executable->executable = compile->out_executable;
  host.ExpectOk(api.executable_destroy(destroy_executable.get()));
  GuardedArgs<LtcClientDestroyArgs> destroy_client(LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE);
  destroy_client->client = client;
  host.ExpectOk(api.client_destroy(destroy_client.get()));
}

// The harness above proves something only if its guard really traps.
TEST(GuardedMemoryDeathTest, TouchingTheByteAfterAStructCrashes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const GuardedArgs<LtcExecutableGetInfoArgs> args(LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE);
  volatile unsigned char* const end = reinterpret_cast<unsigned char*>(args.get() + 1);
  EXPECT_DEATH(end[0] = 1, "");
  EXPECT_EQ(args->struct_size, LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE);
}

}  // namespace
}  // namespace ltc::test
