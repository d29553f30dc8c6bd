/* Facts about ltc/plugin_api.h that must hold in C and in C++. Included by
 * plugin_api_header_c.c and plugin_api_header_cxx.cpp, so the header and
 * these checks are compiled strictly as each language. */
#ifndef LTC_PLUGIN_API_HEADER_CHECKS_H_
#define LTC_PLUGIN_API_HEADER_CHECKS_H_

#include <ltc/plugin_api.h>
#include <stdio.h>

#define LTC_CHECK(condition)                             \
  do {                                                   \
    if (!(condition)) {                                  \
      fprintf(stderr, "check failed: %s\n", #condition); \
      ++failures;                                        \
    }                                                    \
  } while (0)

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

  /* 1.1 appended exactly one slot to 1.0, and the current size is 1.1's. */
  LTC_CHECK(LTC_PLUGIN_ABI_MAJOR == 1);
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE_1_0 < LTC_PLUGIN_API_STRUCT_SIZE_1_1);
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE_1_1 - LTC_PLUGIN_API_STRUCT_SIZE_1_0 == sizeof(void*));
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE == LTC_PLUGIN_API_STRUCT_SIZE_1_1);
  LTC_CHECK(LTC_PLUGIN_API_STRUCT_SIZE == sizeof(LtcPluginApi));

  /* Every struct size ends at its last field, inside the struct. */
  LTC_CHECK(LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE <= sizeof(LtcClientCreateArgs));
  LTC_CHECK(LTC_SCALAR_STRUCT_SIZE == sizeof(LtcScalar));
  LTC_CHECK(LTC_COMPILE_ARGS_STRUCT_SIZE <= sizeof(LtcCompileArgs));
  LTC_CHECK(LTC_EXECUTE_ARGS_STRUCT_SIZE == sizeof(LtcExecuteArgs));
  LTC_CHECK(LTC_BUFFER_INFO_STRUCT_SIZE == offsetof(LtcBufferInfo, has_data) + sizeof(bool));
  LTC_CHECK(LTC_CLIENT_STATS_STRUCT_SIZE == sizeof(LtcClientStats));

  LTC_CHECK(query(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR) == NULL);
  return failures;
}

#endif /* LTC_PLUGIN_API_HEADER_CHECKS_H_ */
