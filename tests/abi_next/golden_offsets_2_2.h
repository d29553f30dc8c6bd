/* The simulated 2.2 header's layout: every 2.0 field where 2.0 shipped it
 * (the real golden table, unchanged), then the section a real 2.2 would
 * append to tests/plugin_api_golden_offsets.h. */
#ifndef LTC_ABI_NEXT_GOLDEN_OFFSETS_2_2_H_
#define LTC_ABI_NEXT_GOLDEN_OFFSETS_2_2_H_

#include "plugin_api_golden_offsets.h"

#if defined(__LP64__) && !defined(_WIN32)

/* ---- ABI 2.2 ------------------------------------------------------------ */

LTC_GOLDEN_FIELD(LtcNextMinorHintExtension, base, 0, 24);
LTC_GOLDEN_FIELD(LtcNextMinorHintExtension, hint, 24, 8);
LTC_GOLDEN_SIZE(LTC_NEXT_MINOR_HINT_EXTENSION_STRUCT_SIZE_2_2, 32);

LTC_GOLDEN_FIELD(LtcClientCompileArgs, next_minor_priority, 72, 8);
LTC_GOLDEN_SIZE(LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_2, 80);

LTC_GOLDEN_FIELD(LtcExecutableGetInfoArgs, out_next_minor_flops, 56, 8);
LTC_GOLDEN_SIZE(LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_2, 64);

LTC_GOLDEN_FIELD(LtcPluginApi, next_minor_slot, 200, 8);
LTC_GOLDEN_SIZE(LTC_PLUGIN_API_STRUCT_SIZE_2_2, 208);

#endif /* LP64 */

#endif /* LTC_ABI_NEXT_GOLDEN_OFFSETS_2_2_H_ */
