#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "internal.h"

namespace ltc::loader_internal {
namespace {

constexpr const char* kLoggerName = "ltc";

std::shared_ptr<spdlog::logger> GetOrCreateLogger() {
  if (auto existing = spdlog::get(kLoggerName)) return existing;
  auto created = std::make_shared<spdlog::logger>(
      kLoggerName, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  try {
    // Registers it with the registry's defaults: its pattern, and its global
    // level, which is info unless the application changed it.
    spdlog::initialize_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another library of this process registered "ltc" since the lookup:
    // log where it logs.
    if (auto existing = spdlog::get(kLoggerName)) return existing;
  }
  return created;
}

}  // namespace

spdlog::logger& Log() {
  // A function-local static: created once, even when threads race here.
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto result = GetOrCreateLogger();
    // After the logger exists, so that "ltc=debug" applies to it.
    spdlog::cfg::load_env_levels();
    return result;
  }();
  return *logger;
}

}  // namespace ltc::loader_internal

namespace ltc {

void LogWarning(std::string_view message) { loader_internal::Log().warn("{}", message); }
void LogDebug(std::string_view message) { loader_internal::Log().debug("{}", message); }

}  // namespace ltc
