/* The layout of ltc/plugin_api.h as shipped, checked at compile time: the
 * offset and size of every field of every struct, and every versioned size
 * macro, on LP64 (x86-64 and aarch64 Linux). Reordering, retyping or
 * inserting a field fails the build of whatever includes this, in C and in
 * C++ (plugin_api_header_c.c, plugin_api_header_cxx.cpp).
 *
 * A shipped section is never edited. The next minor appends a section
 * "ABI 2.<n>" with one LTC_GOLDEN_FIELD per appended field and one
 * LTC_GOLDEN_SIZE per new _2_<n> macro; a field appended to an existing
 * struct lies at or past that struct's previous size macro. A new major
 * starts a new file. */
#ifndef LTC_PLUGIN_API_GOLDEN_OFFSETS_H_
#define LTC_PLUGIN_API_GOLDEN_OFFSETS_H_

#include <ltc/plugin_api.h>

#if defined(__LP64__) && !defined(_WIN32)

/* C99 has no static assertion: an array of negative size is the error. */
#ifdef __cplusplus
#define LTC_GOLDEN_ASSERT(condition, name) static_assert(condition, #name)
#else
#define LTC_GOLDEN_ASSERT(condition, name) \
  typedef char ltc_golden_##name[(condition) ? 1 : -1]
#endif

#define LTC_GOLDEN_FIELD(type, field, offset, size)                                   \
  LTC_GOLDEN_ASSERT(offsetof(type, field) == (offset) &&                              \
                        sizeof(((type*)0)->field) == (size),                          \
                    type##_##field)
#define LTC_GOLDEN_SIZE(macro, size) LTC_GOLDEN_ASSERT((macro) == (size), size_##macro)

/* ---- ABI 2.0 ------------------------------------------------------------ */

LTC_GOLDEN_FIELD(LtcExtensionBase, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcExtensionBase, type, 8, 4);
LTC_GOLDEN_FIELD(LtcExtensionBase, next, 16, 8);

LTC_GOLDEN_FIELD(LtcNamedValue, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, name, 16, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, type, 24, 4);
LTC_GOLDEN_FIELD(LtcNamedValue, string_value, 32, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, int64_value, 40, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, double_value, 48, 8);
LTC_GOLDEN_FIELD(LtcNamedValue, bool_value, 56, 1);

LTC_GOLDEN_FIELD(LtcHostServices, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcHostServices, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcHostServices, context, 16, 8);
LTC_GOLDEN_FIELD(LtcHostServices, log_is_enabled, 24, 8);
LTC_GOLDEN_FIELD(LtcHostServices, log, 32, 8);
LTC_GOLDEN_FIELD(LtcHostServices, trace_begin, 40, 8);
LTC_GOLDEN_FIELD(LtcHostServices, trace_end, 48, 8);

LTC_GOLDEN_FIELD(LtcErrorDestroyArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcErrorDestroyArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcErrorDestroyArgs, error, 16, 8);

LTC_GOLDEN_FIELD(LtcErrorGetCodeArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcErrorGetCodeArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcErrorGetCodeArgs, error, 16, 8);
LTC_GOLDEN_FIELD(LtcErrorGetCodeArgs, out_code, 24, 4);

LTC_GOLDEN_FIELD(LtcErrorGetMessageArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcErrorGetMessageArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcErrorGetMessageArgs, error, 16, 8);
LTC_GOLDEN_FIELD(LtcErrorGetMessageArgs, out_message, 24, 8);
LTC_GOLDEN_FIELD(LtcErrorGetMessageArgs, out_message_size, 32, 8);

LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_name, 16, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_version, 24, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_description, 32, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_vendor, 40, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_build, 48, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_graph_formats, 56, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_num_graph_formats, 64, 8);
LTC_GOLDEN_FIELD(LtcPluginGetAttributesArgs, out_libtorch_version, 72, 8);

LTC_GOLDEN_FIELD(LtcPluginCheckAvailableArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcPluginCheckAvailableArgs, extension_start, 8, 8);

LTC_GOLDEN_FIELD(LtcClientCreateArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, host_abi_major, 16, 4);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, host_abi_minor, 20, 4);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, plugin_name, 24, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, options, 32, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, num_options, 40, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, host_services, 48, 8);
LTC_GOLDEN_FIELD(LtcClientCreateArgs, out_client, 56, 8);

LTC_GOLDEN_FIELD(LtcClientDestroyArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientDestroyArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientDestroyArgs, client, 16, 8);

LTC_GOLDEN_FIELD(LtcClientGetInfoArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientGetInfoArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientGetInfoArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientGetInfoArgs, out_device_count, 24, 4);
LTC_GOLDEN_FIELD(LtcClientGetInfoArgs, out_eager_fallback_device, 28, 4);

LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, device_ordinal, 24, 4);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, out_kind, 32, 8);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, out_name, 40, 8);
LTC_GOLDEN_FIELD(LtcClientGetDeviceInfoArgs, out_memory_bytes, 48, 8);

LTC_GOLDEN_FIELD(LtcClientSynchronizeArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientSynchronizeArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientSynchronizeArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientSynchronizeArgs, device_ordinal, 24, 4);

LTC_GOLDEN_FIELD(LtcClientSetRngSeedArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientSetRngSeedArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientSetRngSeedArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientSetRngSeedArgs, seed, 24, 8);

LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, out_live_buffers, 24, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, out_live_executables, 32, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, out_compiles, 40, 8);
LTC_GOLDEN_FIELD(LtcClientGetStatsArgs, out_executes, 48, 8);

LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, tensor, 24, 8);
LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, device_ordinal, 32, 4);
LTC_GOLDEN_FIELD(LtcBufferFromHostArgs, out_buffer, 40, 8);

LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, dtype, 24, 4);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, int64_value, 32, 8);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, double_value, 40, 8);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, device_ordinal, 48, 4);
LTC_GOLDEN_FIELD(LtcBufferFromScalarArgs, out_buffer, 56, 8);

LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, dtype, 24, 4);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, shape, 32, 8);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, ndim, 40, 4);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, device_ordinal, 44, 4);
LTC_GOLDEN_FIELD(LtcBufferCreatePlaceholderArgs, out_buffer, 48, 8);

LTC_GOLDEN_FIELD(LtcBufferToHostArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferToHostArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferToHostArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferToHostArgs, buffer, 24, 8);
LTC_GOLDEN_FIELD(LtcBufferToHostArgs, out_tensor, 32, 8);

LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, buffer, 24, 8);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, out_dtype, 32, 4);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, out_device_ordinal, 36, 4);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, out_ndim, 40, 4);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, out_shape, 48, 8);
LTC_GOLDEN_FIELD(LtcBufferGetInfoArgs, out_has_data, 56, 1);

LTC_GOLDEN_FIELD(LtcBufferDestroyArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcBufferDestroyArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcBufferDestroyArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcBufferDestroyArgs, buffer, 24, 8);

LTC_GOLDEN_FIELD(LtcClientCompileArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, format, 24, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, graph, 32, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, graph_size, 40, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, cache_key, 48, 8);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, device_ordinal, 56, 4);
LTC_GOLDEN_FIELD(LtcClientCompileArgs, out_executable, 64, 8);

LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, executable, 24, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, out_num_parameters, 32, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, out_num_results, 40, 8);
LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, out_device_ordinal, 48, 4);

LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, executable, 24, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, arguments, 32, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, num_arguments, 40, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, out_results, 48, 8);
LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, num_results, 56, 8);

LTC_GOLDEN_FIELD(LtcExecutableDestroyArgs, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcExecutableDestroyArgs, extension_start, 8, 8);
LTC_GOLDEN_FIELD(LtcExecutableDestroyArgs, client, 16, 8);
LTC_GOLDEN_FIELD(LtcExecutableDestroyArgs, executable, 24, 8);

LTC_GOLDEN_FIELD(LtcPluginApi, struct_size, 0, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, abi_major, 8, 4);
LTC_GOLDEN_FIELD(LtcPluginApi, abi_minor, 12, 4);
LTC_GOLDEN_FIELD(LtcPluginApi, extension_start, 16, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, error_destroy, 24, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, error_get_code, 32, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, error_get_message, 40, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, plugin_get_attributes, 48, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, plugin_check_available, 56, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_create, 64, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_destroy, 72, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_get_info, 80, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_get_device_info, 88, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_synchronize, 96, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_set_rng_seed, 104, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_get_stats, 112, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_from_host, 120, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_from_scalar, 128, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_create_placeholder, 136, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_to_host, 144, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_get_info, 152, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, buffer_destroy, 160, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, client_compile, 168, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, executable_get_info, 176, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, executable_execute, 184, 8);
LTC_GOLDEN_FIELD(LtcPluginApi, executable_destroy, 192, 8);

LTC_GOLDEN_SIZE(LTC_EXTENSION_BASE_STRUCT_SIZE_2_0, 24);
LTC_GOLDEN_SIZE(LTC_NAMED_VALUE_STRUCT_SIZE_2_0, 57);
LTC_GOLDEN_SIZE(LTC_HOST_SERVICES_STRUCT_SIZE_2_0, 56);
LTC_GOLDEN_SIZE(LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0, 24);
LTC_GOLDEN_SIZE(LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0, 28);
LTC_GOLDEN_SIZE(LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0, 40);
LTC_GOLDEN_SIZE(LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0, 80);
LTC_GOLDEN_SIZE(LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0, 16);
LTC_GOLDEN_SIZE(LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0, 64);
LTC_GOLDEN_SIZE(LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0, 24);
LTC_GOLDEN_SIZE(LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0, 32);
LTC_GOLDEN_SIZE(LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0, 56);
LTC_GOLDEN_SIZE(LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0, 28);
LTC_GOLDEN_SIZE(LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0, 32);
LTC_GOLDEN_SIZE(LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0, 56);
LTC_GOLDEN_SIZE(LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0, 48);
LTC_GOLDEN_SIZE(LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0, 64);
LTC_GOLDEN_SIZE(LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0, 56);
LTC_GOLDEN_SIZE(LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0, 40);
LTC_GOLDEN_SIZE(LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0, 57);
LTC_GOLDEN_SIZE(LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0, 32);
LTC_GOLDEN_SIZE(LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0, 72);
LTC_GOLDEN_SIZE(LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0, 52);
LTC_GOLDEN_SIZE(LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0, 64);
LTC_GOLDEN_SIZE(LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0, 32);
LTC_GOLDEN_SIZE(LTC_PLUGIN_API_STRUCT_SIZE_2_0, 200);

/* ---- ABI 2.1 ------------------------------------------------------------ */

LTC_GOLDEN_FIELD(LtcExecutableExecuteArgs, donated_arguments, 64, 8);
LTC_GOLDEN_SIZE(LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_1, 72);

#endif /* LP64 */

#endif /* LTC_PLUGIN_API_GOLDEN_OFFSETS_H_ */
