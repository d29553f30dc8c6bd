// executable_execute as a plugin written against ABI 2.0 serves it: it reads
// only 2.0's fields of the host's args, whatever their struct_size, so 2.1's
// donated_arguments never reach `inner` (the adapter's slot). For the test
// plugins that play such a plugin (older_minor, cts_keeps_donated).
#pragma once

#include <ltc/plugin_api.h>

#include <cstring>

namespace ltc::test {

inline LtcError* ExecuteReadingTwoZeroFields(LtcExecutableExecuteFn inner,
                                             LtcExecutableExecuteArgs* args) {
  if (args == nullptr || args->struct_size < LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0) {
    return inner(args);
  }
  LtcExecutableExecuteArgs seen{};
  std::memcpy(&seen, args, LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0);
  seen.struct_size = LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0;
  return inner(&seen);
}

}  // namespace ltc::test
