/* Facts about ltc/plugin_api.h that must hold in C and in C++. Included by
 * plugin_api_header_c.c and plugin_api_header_cxx.cpp, so the header and
 * these checks are compiled strictly as each language; the layout itself is
 * pinned at compile time by plugin_api_golden_offsets.h. */
#ifndef LTC_PLUGIN_API_HEADER_CHECKS_H_
#define LTC_PLUGIN_API_HEADER_CHECKS_H_

#include <ltc/plugin_api.h>
#include <stdio.h>

#include "plugin_api_golden_offsets.h"

#define LTC_CHECK(condition)                             \
  do {                                                   \
    if (!(condition)) {                                  \
      fprintf(stderr, "check failed: %s\n", #condition); \
      ++failures;                                        \
    }                                                    \
  } while (0)

/* A size macro that stops short of the struct's last field would let a
 * field be appended without a new version: only tail padding may follow. */
#define LTC_CHECK_ENDS_STRUCT(type, size_macro) \
  LTC_CHECK((size_macro) <= sizeof(type) && sizeof(type) - (size_macro) < sizeof(void*))

/* A plugin entry point written against the header's typedef. */
static const LtcPluginApi* ltc_header_test_query(uint32_t host_abi_major, uint32_t host_abi_minor) {
  (void)host_abi_major;
  (void)host_abi_minor;
  return NULL;
}

/* The number of failed checks, each reported on stderr. */
static int ltc_header_check_failures(void) {
  int failures = 0;
  LtcPluginQueryFn query = ltc_header_test_query;

  /* The version prefix sits where every host of every version reads it. */
  LTC_CHECK(offsetof(LtcPluginApi, struct_size) == 0);
  LTC_CHECK(offsetof(LtcPluginApi, abi_major) == sizeof(size_t));
  LTC_CHECK(offsetof(LtcPluginApi, abi_minor) == sizeof(size_t) + sizeof(uint32_t));

  LTC_CHECK(LTC_PLUGIN_ABI_MAJOR == 2);
  LTC_CHECK(LTC_PLUGIN_ABI_MINOR == 1);

  /* Every current size macro is this version's: 2.1 grew only execute's args. */
  LTC_CHECK(LTC_EXTENSION_BASE_STRUCT_SIZE == LTC_EXTENSION_BASE_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_NAMED_VALUE_STRUCT_SIZE == LTC_NAMED_VALUE_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_HOST_SERVICES_STRUCT_SIZE == LTC_HOST_SERVICES_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE == LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE == LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE == LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE == LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE == LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE == LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE == LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE == LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE == LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE == LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE == LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE == LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE == LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE == LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE == LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE == LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE == LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE == LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE == LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE == LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE == LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_1);
  LTC_CHECK(LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE == LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0);
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE == LTC_PLUGIN_API_STRUCT_SIZE_2_0);

  /* Every size macro reaches its struct's last field. */
  LTC_CHECK_ENDS_STRUCT(LtcExtensionBase, LTC_EXTENSION_BASE_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcNamedValue, LTC_NAMED_VALUE_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcHostServices, LTC_HOST_SERVICES_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcErrorDestroyArgs, LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcErrorGetCodeArgs, LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcErrorGetMessageArgs, LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcPluginGetAttributesArgs, LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcPluginCheckAvailableArgs, LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientCreateArgs, LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientDestroyArgs, LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientGetInfoArgs, LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientGetDeviceInfoArgs, LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientSynchronizeArgs, LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientSetRngSeedArgs, LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientGetStatsArgs, LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferFromHostArgs, LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferFromScalarArgs, LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferCreatePlaceholderArgs, LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferToHostArgs, LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferGetInfoArgs, LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcBufferDestroyArgs, LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcClientCompileArgs, LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcExecutableGetInfoArgs, LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcExecutableExecuteArgs, LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcExecutableDestroyArgs, LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE);
  LTC_CHECK_ENDS_STRUCT(LtcPluginApi, LTC_PLUGIN_API_STRUCT_SIZE);
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE == sizeof(LtcPluginApi));

  /* Every struct that crosses starts with struct_size, then its chain. */
  LTC_CHECK(offsetof(LtcNamedValue, extension_start) == sizeof(size_t));
  LTC_CHECK(offsetof(LtcHostServices, extension_start) == sizeof(size_t));
  LTC_CHECK(offsetof(LtcPluginApi, extension_start) == 2 * sizeof(size_t));

  LTC_CHECK(LTC_STRUCT_HAS_FIELD(LtcClientCompileArgs, LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0,
                                 out_executable));
  LTC_CHECK(!LTC_STRUCT_HAS_FIELD(LtcClientCompileArgs,
                                  offsetof(LtcClientCompileArgs, out_executable), out_executable));

  LTC_CHECK(query(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR) == NULL);
  return failures;
}

#endif /* LTC_PLUGIN_API_HEADER_CHECKS_H_ */
