// A plugin that breaks three rules of plugin_api.h that ltc-plugin-cts
// checks (tests/CMakeLists.txt), each the way a hand-written slot could:
// - buffer_to_host sets out_tensor when it fails, where it must stay NULL;
// - buffer_from_host never calls the deleter of the tensor it is given;
// - buffer_get_info writes the byte after its 2.0 fields (in the struct's
//   tail padding, so no caller's memory is harmed), past struct_size.
#include "cpu_backend.h"

namespace {

LtcBufferToHostFn g_buffer_to_host;
LtcBufferFromHostFn g_buffer_from_host;
LtcBufferGetInfoFn g_buffer_get_info;

// What a failing buffer_to_host leaves behind: never meant to be used.
DLManagedTensor g_stale_tensor;

LtcError* BufferToHostSettingOutputOnFailure(LtcBufferToHostArgs* args) {
  LtcError* error = g_buffer_to_host(args);
  if (error != nullptr) args->out_tensor = &g_stale_tensor;
  return error;
}

LtcError* BufferFromHostWithoutDeleter(LtcBufferFromHostArgs* args) {
  args->tensor->deleter = nullptr;
  return g_buffer_from_host(args);
}

LtcError* BufferGetInfoWritingPastStructSize(LtcBufferGetInfoArgs* args) {
  LtcError* error = g_buffer_get_info(args);
  reinterpret_cast<uint8_t*>(args)[LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0] = 1;
  return error;
}

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    g_buffer_to_host = api.buffer_to_host;
    g_buffer_from_host = api.buffer_from_host;
    api.buffer_to_host = BufferToHostSettingOutputOnFailure;
    api.buffer_from_host = BufferFromHostWithoutDeleter;
    g_buffer_get_info = api.buffer_get_info;
    api.buffer_get_info = BufferGetInfoWritingPastStructSize;
  });
}
