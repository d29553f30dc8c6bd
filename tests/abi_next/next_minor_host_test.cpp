// A plugin of an older minor (2.0: tests/plugins/older_minor.cpp) on a host
// of the next one (2.2, simulated): the loader and client built again against
// the 2.2 header, sending 2.2-sized structs. The host must accept the plugin
// at 2.0, never call what 2.0 lacks (older_minor keeps a trap where 2.2's
// slot would be), see 2.2's defaults wherever the plugin wrote nothing, and
// find arguments it donated (2.1) still holding their data.
#include <ltc/loader.h>
#include <ltc/plugin_api.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "golden_offsets_2_2.h"
#include "sequence.h"

namespace ltc::test {
namespace {

static_assert(LTC_PLUGIN_ABI_MINOR == 2, "built against the simulated 2.2 header");
static_assert(offsetof(LtcPluginApi, next_minor_slot) == LTC_PLUGIN_API_STRUCT_SIZE_2_0,
              "older_minor's trap lies where 2.2 appends its slot");

const char* const kLibrary = LTC_TEST_PLUGIN_DIR "/older_minor/libltc_older_minor.so";

// What a 2.2 host does with 2.2's slot: calls it only where the table has it.
bool CallNextMinorSlot(const PluginClient& client) {
  if (!client.plugin().HasSlot(offsetof(LtcPluginApi, next_minor_slot))) return false;
  LtcClientSynchronizeArgs args{};
  args.struct_size = LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE;
  args.client = client.get();
  client.Check("next_minor_slot", client.plugin().api().next_minor_slot(&args));
  return true;
}

TEST(OlderMinorPluginOnNextHost, IsAcceptedAtItsOwnMinor) {
  const auto plugin = Plugin::Load(kLibrary);
  EXPECT_EQ(plugin->abi(), "2.0");
  EXPECT_EQ(plugin->agreed_minor(), 0u);
  EXPECT_EQ(plugin->api().struct_size, LTC_PLUGIN_API_STRUCT_SIZE_2_0);
  EXPECT_TRUE(plugin->HasSlot(offsetof(LtcPluginApi, executable_destroy)));
  EXPECT_FALSE(plugin->HasSlot(offsetof(LtcPluginApi, next_minor_slot)));
}

TEST(OlderMinorPluginOnNextHost, RunsTheWholeSequenceWithoutTheNewSlot) {
  const PluginClient client(Plugin::Load(kLibrary), ClientConfig{});
  ExpectIdentityRoundTrip(client);
  EXPECT_FALSE(CallNextMinorSlot(client));  // the trap would have aborted
}

// 2.1's donation flags lie past the 2.0 plugin's struct: it never reads
// them, so a donated argument keeps its data and can be read and passed
// again.
TEST(OlderMinorPluginOnNextHost, IgnoresDonationFlags) {
  const PluginClient client(Plugin::Load(kLibrary), ClientConfig{});
  const std::vector<float> values{1.0f, -2.0f};
  const Buffer input = client.BufferFromHost(HostTensor(values), 0);
  const Buffer scalar = client.BufferFromScalar(DLDataType{kDLFloat, 64, 1}, 0, 1.0, 0);
  const Executable executable = client.Compile("test-identity", "2", "donation", 0);
  for (int run = 0; run < 2; ++run) {
    const std::vector<Buffer> results =
        client.Execute(executable, {input.get(), scalar.get()}, {true, true});
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(client.Info(input.get()).has_data);
    EXPECT_TRUE(client.Info(scalar.get()).has_data);
  }
  const DLManagedTensorPtr back = client.ToHost(input.get());
  EXPECT_EQ(std::memcmp(back->dl_tensor.data, values.data(), sizeof(float) * values.size()), 0);
}

// Raw calls where the typed client has no say: 2.2's fields and extension.
class OlderMinorRaw : public testing::Test {
 protected:
  void SetUp() override {
    plugin_ = Plugin::Load(kLibrary);
    client_ = std::make_unique<PluginClient>(plugin_, ClientConfig{});
  }
  const LtcPluginApi& api() const { return plugin_->api(); }

  std::shared_ptr<Plugin> plugin_;
  std::unique_ptr<PluginClient> client_;
};

TEST_F(OlderMinorRaw, IgnoresAnAppendedInputAndLeavesAnAppendedOutputAtItsDefault) {
  const std::string graph = "3";
  LtcClientCompileArgs compile{};
  compile.struct_size = LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE;
  compile.client = client_->get();
  compile.format = "test-identity";
  compile.graph = graph.data();
  compile.graph_size = graph.size();
  compile.next_minor_priority = 5;
  client_->Check("client_compile", api().client_compile(&compile));
  ASSERT_NE(compile.out_executable, nullptr);

  LtcExecutableGetInfoArgs info{};
  info.struct_size = LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE;
  info.client = client_->get();
  info.executable = compile.out_executable;
  info.out_next_minor_flops = UINT64_MAX;  // its documented default
  client_->Check("executable_get_info", api().executable_get_info(&info));
  EXPECT_EQ(info.out_num_parameters, 3u);
  EXPECT_EQ(info.out_num_results, 3u);
  EXPECT_EQ(info.out_next_minor_flops, UINT64_MAX);

  client_->Destroy(compile.out_executable);
}

TEST_F(OlderMinorRaw, SkipsAnExtensionTypeItDoesNotKnow) {
  client_.reset();  // a plugin may refuse a second live client
  LtcNextMinorHintExtension hint{};
  hint.base.struct_size = LTC_NEXT_MINOR_HINT_EXTENSION_STRUCT_SIZE;
  hint.base.type = LTC_EXTENSION_TYPE_NEXT_MINOR_HINT;
  hint.hint = 9;
  LtcHostServices services{};
  services.struct_size = LTC_HOST_SERVICES_STRUCT_SIZE;
  services.log_is_enabled = [](void*, LtcLogLevel) { return false; };
  services.log = [](void*, LtcLogLevel, const char*) {};
  services.trace_begin = [](void*, const char*) -> void* { return nullptr; };
  services.trace_end = [](void*, void*) {};
  LtcClientCreateArgs create{};
  create.struct_size = LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE;
  create.extension_start = &hint.base;
  create.host_abi_major = LTC_PLUGIN_ABI_MAJOR;
  create.host_abi_minor = LTC_PLUGIN_ABI_MINOR;
  create.plugin_name = "older_minor";
  create.host_services = &services;
  plugin_->Check("client_create", api().client_create(&create));
  ASSERT_NE(create.out_client, nullptr);

  LtcClientGetInfoArgs info{};
  info.struct_size = LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE;
  info.client = create.out_client;
  plugin_->Check("client_get_info", api().client_get_info(&info));
  EXPECT_EQ(info.out_device_count, 1);

  LtcClientDestroyArgs destroy{};
  destroy.struct_size = LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE;
  destroy.client = create.out_client;
  plugin_->Check("client_destroy", api().client_destroy(&destroy));
}

}  // namespace
}  // namespace ltc::test
