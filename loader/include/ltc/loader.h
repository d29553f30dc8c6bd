// ltc/loader.h: finding, loading and choosing backend plugins.
//
// Plugins are found in the directories of LTC_PLUGIN_PATH (colon-separated,
// searched first, in order) and then in <anchor>/ltc-plugins, where the
// anchor is the directory of libltc_host.so. Each plugin has a manifest,
// <name>.ltcplugin, beside its shared object, so plugins can be listed and
// selected by name without loading any of them.
//
// Logs go to the spdlog logger "ltc" (SPDLOG_LEVEL=ltc=debug shows every
// directory, every candidate with its ABI and verdict, and the choice).
// The typed client over a loaded plugin's table is in ltc/plugin_client.h.
#pragma once

#include <ltc/plugin_client.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ltc {

// Logs `message` as a warning to the spdlog logger "ltc", where the loader
// logs: the one the application registered under that name, else one to
// stderr. A plain function, so that callers need not see spdlog's headers
// (the LibTorch of PyTorch 2.x wheels bundles another fmt).
void LogWarning(std::string_view message);

// `pieces` with `separator` between them ("a, b, c"), for messages and
// listings that name several things.
std::string Join(const std::vector<std::string>& pieces, const std::string& separator = ", ");

// No plugin could be loaded for a request; what() explains every candidate.
class LoaderError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The contents of a <name>.ltcplugin manifest: `key = value` lines, `#`
// comments. Required keys: name, library (relative to the manifest's
// directory, or absolute), abi ("MAJOR.MINOR"). Optional: version,
// description. Other keys are ignored.
struct Manifest {
  std::filesystem::path path;          // the manifest file itself
  std::string name;
  std::filesystem::path library;       // resolved to an absolute path
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::string version;
  std::string description;
};

// Parses a manifest; throws std::runtime_error naming the file and line.
Manifest ReadManifest(const std::filesystem::path& path);
// Parses manifest text as ReadManifest does the file `path` holding it:
// `path` names it in messages and anchors a relative library.
Manifest ParseManifest(std::string_view text, const std::filesystem::path& path);

// Where a directory in the search came from, for messages.
struct SearchDirectory {
  std::filesystem::path path;
  std::string origin;  // "LTC_PLUGIN_PATH" or "next to libltc_host.so"
};

// LTC_PLUGIN_PATH's directories, then <anchor>/ltc-plugins.
std::vector<SearchDirectory> PluginSearchPath(const std::filesystem::path& anchor);

// One plugin as `ltc-plugins list` shows it.
struct PluginListing {
  std::string name;
  std::string version;
  std::string abi;             // from the loaded table; the manifest's if not loadable
  std::filesystem::path path;  // the shared object
  bool available = false;
  std::string reason;          // why not available; empty when available
  PluginAttributes attributes; // empty when the plugin could not be loaded
};

// Every manifest in `directories`, loaded and checked for availability but
// never initialised (no client is created). Never throws for a bad plugin.
std::vector<PluginListing> ListPlugins(const std::vector<SearchDirectory>& directories);

// A backend request in LTC_BACKEND's syntax: a plugin name, an absolute
// path to a shared object, or a comma-separated list of those tried in
// order. Blanks around entries and empty entries are ignored. This is the
// one parser of requests: the loader selects by it and the host compares
// by it.
struct BackendRequest {
  std::string text;                  // what was asked for, for messages
  std::vector<std::string> entries;  // trimmed, non-empty, in order

  // `request`, or the LTC_BACKEND environment variable when it is empty,
  // or "ts_cpu" when that is unset or empty.
  static BackendRequest Resolve(const std::string& request);
  // Whether an entry names `plugin`: its name, or the path of its library.
  bool Names(const Plugin& plugin) const;
};

// Options for the plugin a request selects, from LTC_PLUGIN_OPTIONS
// overridden by `given` (same name: `given` wins). The variable's syntax is
// `name=value[,name=value...]`: `true`/`false` are bools, integers int64,
// other numbers doubles, anything else a string. A name `plugin.option`
// applies only to that plugin (option names have no dots). Throws
// std::invalid_argument naming the entry for malformed text.
ClientOptions ResolveOptions(const ClientOptions& given);
ClientOptions ParseOptions(const std::string& text);
// `options` as plugin `name` gets them: its scoped entries unscoped, other
// plugins' scoped entries dropped.
ClientOptions OptionsFor(const ClientOptions& options, const std::string& name);

// Loads and initialises the first plugin of `request` that works, with
// OptionsFor(config.options, its name). Every manifest with a matching name
// is a candidate, in search order. Throws LoaderError naming the request,
// every directory searched and each candidate's reason when none works:
// not found / not loadable / no ltc_plugin_query / ABI x.y not supported by
// host a.b / manifest name ... does not match ... / unavailable: ... /
// init failed: ... When a later entry of a preference list is used, logs a
// warning with the reasons of the earlier ones.
std::unique_ptr<PluginClient> SelectBackend(const BackendRequest& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config = {});
// The same for BackendRequest::Resolve(request).
std::unique_ptr<PluginClient> SelectBackend(const std::string& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config = {});

}  // namespace ltc
