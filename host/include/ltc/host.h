// ltc/host.h: the C++ entry point of libltc_host.so.
//
// After ltc::init(), tensors on device "lazy" are traced by LibTorch's Lazy
// Tensor Core and run by the chosen plugin.
#pragma once

#include <string>

#if defined(_WIN32)
#define LTC_HOST_API __declspec(dllexport)
#else
#define LTC_HOST_API __attribute__((visibility("default")))
#endif

namespace ltc {

// Loads the backend plugin and registers it as the lazy core's backend.
// `backend` uses LTC_BACKEND's syntax: a plugin name ("ts_cpu"), an absolute
// path to a plugin's shared object, or a comma-separated preference list.
// Empty means the LTC_BACKEND environment variable, else "ts_cpu".
// Returns the name of the plugin in use. Calling it again returns the same
// name when `backend` is empty or names the loaded plugin; asking for a
// different one throws, since the lazy core holds one backend per process.
// Throws std::runtime_error explaining every candidate when none loads.
// Thread-safe.
LTC_HOST_API std::string init(const std::string& backend = "");

// The name of the plugin in use; empty before init().
LTC_HOST_API std::string backend();

}  // namespace ltc
