// A plugin whose buffer_get_info writes a field past struct_size when a
// newer host's larger struct arrives, as one built against a later header
// that forgets LTC_STRUCT_HAS_FIELD would: ltc-plugin-cts, which places the
// struct against a guard page, must report the crash by the check's name
// (tests/CMakeLists.txt). Hosts of 2.0 never send a larger struct, so no
// other call is harmed.
#include "cpu_backend.h"

namespace {

LtcBufferGetInfoFn g_buffer_get_info;

LtcError* BufferGetInfoWritingPastStructSize(LtcBufferGetInfoArgs* args) {
  LtcError* error = g_buffer_get_info(args);
  if (args->struct_size > sizeof(LtcBufferGetInfoArgs)) {
    reinterpret_cast<uint8_t*>(args)[args->struct_size] = 1;
  }
  return error;
}

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    g_buffer_get_info = api.buffer_get_info;
    api.buffer_get_info = BufferGetInfoWritingPastStructSize;
  });
}
