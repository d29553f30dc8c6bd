// Helpers shared by the loader's source files; not part of its API.
#pragma once

#include <ltc/plugin_api.h>
#include <ltc/plugin_client.h>
#include <spdlog/logger.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ltc::loader_internal {

// The spdlog logger "ltc": the one a host or user configured if it exists,
// else a stderr logger at the registry's level (info by default).
// SPDLOG_LEVEL (e.g. "ltc=debug") is applied once, on first use.
spdlog::logger& Log();

// "2.0": how versions appear in every message.
inline std::string AbiText(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// The reason a plugin of another major version is refused.
inline std::string UnsupportedAbi(uint32_t major, uint32_t minor) {
  return "ABI " + AbiText(major, minor) + " not supported by host " +
         AbiText(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR);
}

// An args struct as the host writes it: every field zero (the documented
// default of nearly every out_ field), struct_size this host's size.
template <typename Args>
Args NewArgs(size_t struct_size) {
  Args args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = struct_size;
  return args;
}

// Throws the PluginError for an exception that `plugin` let out of slot
// `call`, which is the current exception.
[[noreturn]] void ThrowEscaped(const std::string& plugin, const char* call);

// Calls a slot. Every slot returns its errors; a C++ exception thrown
// through the C ABI breaks that contract and becomes a PluginError naming
// the plugin and the call, not an unwind through the host's frames.
template <typename Args>
LtcError* CallSlot(const std::string& plugin, const char* call, LtcError* (*slot)(Args*),
                   Args* args) {
  try {
    return slot(args);
  } catch (...) {
    ThrowEscaped(plugin, call);
  }
}

// `text` without leading and trailing blanks.
inline std::string Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace ltc::loader_internal
