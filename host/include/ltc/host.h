// ltc/host.h: the C++ entry point of libltc_host.so.
//
// After ltc::init(), tensors on device "lazy" are traced by LibTorch's Lazy
// Tensor Core and run by the chosen plugin.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#if defined(_WIN32)
#define LTC_HOST_API __declspec(dllexport)
#else
#define LTC_HOST_API __attribute__((visibility("default")))
#endif

namespace ltc {

// Client options by name: {"pool_mb", int64_t{512}}, {"optimize", false}.
// A name "plugin.option" applies only to that plugin.
using BackendOptions = std::map<std::string, std::variant<bool, int64_t, double, std::string>>;

// Loads the backend plugin and registers it as the lazy core's backend.
// `backend` uses LTC_BACKEND's syntax: a plugin name ("ts_cpu"), an absolute
// path to a plugin's shared object, or a comma-separated preference list.
// Empty means the LTC_BACKEND environment variable, else "ts_cpu".
// `options` are passed to the plugin's client, over those of
// LTC_PLUGIN_OPTIONS; a plugin refuses options it does not know.
// Returns the name of the plugin in use. Calling it again returns that name
// when the request names the loaded plugin (or is empty) and the options
// are the same; anything else throws, since the lazy core holds one backend
// per process. Throws std::runtime_error explaining every candidate when
// none loads. Thread-safe.
LTC_HOST_API std::string init(const std::string& backend = "",
                              const BackendOptions& options = {});

// The name of the plugin in use; empty before init().
LTC_HOST_API std::string backend();

}  // namespace ltc
