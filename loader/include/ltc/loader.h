// ltc/loader.h: finding, loading and choosing backend plugins.
//
// Plugins are found in the directories of LTC_PLUGIN_PATH (colon-separated,
// searched first, in order), then through the manifests installed Python
// distributions name (entry points; the Python package ltc_plugins finds
// them), then in <anchor>/ltc-plugins, where the anchor is the directory of
// libltc_host.so. Each plugin has a manifest, <name>.ltcplugin, beside its
// shared object, so plugins can be listed and selected by name without
// loading any of them.
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
// The same at debug level (shown with SPDLOG_LEVEL=ltc=debug).
void LogDebug(std::string_view message);

// `pieces` with `separator` between them ("a, b, c"), for messages and
// listings that name several things.
std::string Join(const std::vector<std::string>& pieces, const std::string& separator = ", ");

// No plugin could be loaded for a request; what() explains every candidate.
class LoaderError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The manifest format this loader reads: every minor of this major (a
// minor adds keys, which are ignored here); a newer major is refused.
constexpr uint32_t kManifestFormatMajor = 1;
constexpr uint32_t kManifestFormatMinor = 0;

// The contents of a <name>.ltcplugin manifest: `key = value` lines, `#`
// comments. Required keys: manifest (the format, "MAJOR.MINOR"), name,
// library (relative to the manifest's directory, or absolute), abi
// ("MAJOR.MINOR"). Optional: libtorch ("MAJOR.MINOR" of the LibTorch the
// plugin links; absent when it links none), version, description. Other
// keys are ignored.
struct Manifest {
  std::filesystem::path path;          // the manifest file itself
  uint32_t format_major = 0;
  uint32_t format_minor = 0;
  std::string name;
  std::filesystem::path library;       // resolved to an absolute path
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::string libtorch;                // "2.11"; empty when the plugin links no LibTorch
  std::string version;
  std::string description;
};

// A manifest of a format major newer than kManifestFormatMajor: its other
// keys may mean something else, so nothing more is read from it.
class UnsupportedManifestError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses a manifest; throws std::runtime_error naming the file and line
// (UnsupportedManifestError for a newer format).
Manifest ReadManifest(const std::filesystem::path& path);
// Parses manifest text as ReadManifest does the file `path` holding it:
// `path` names it in messages and anchors a relative library.
Manifest ParseManifest(std::string_view text, const std::filesystem::path& path);

// The manifests (*.ltcplugin regular files) of `directory`, sorted: directory
// order is arbitrary, and the choice between same-named plugins must not
// depend on it. Empty when it cannot be listed.
std::vector<std::filesystem::path> ManifestPathsIn(const std::filesystem::path& directory);

// One place in the search: a directory of manifests, or one manifest file
// (what an entry point names), with where it came from for messages.
struct SearchDirectory {
  std::filesystem::path path;
  // "LTC_PLUGIN_PATH", "entry point ts_cpu of ltc-plugin-ts-cpu 0.1.0",
  // "next to libltc_host.so"
  std::string origin;
  // A source that failed before it could name a manifest (an entry point
  // that does not import): why, and the plugin it was to provide. It is
  // listed, and rejected when asked for, under that name; `path` is empty.
  std::string error;
  std::string plugin;
};

// The libdir of the tree (build or installed) the running executable is
// part of, where libltc_host.so and its plugins are, for the executables
// installed to the bindir (ltc-plugins, ltc-plugin-cts): every tree places
// bindir and libdir alike (<prefix>/bin and <prefix>/lib, or Debian's
// /usr/bin and /usr/lib/<triplet>).
std::filesystem::path ExecutableLibDir();

// LTC_PLUGIN_PATH's directories, then `entry_points`, then
// <anchor>/ltc-plugins.
std::vector<SearchDirectory> PluginSearchPath(const std::filesystem::path& anchor,
                                              const std::vector<SearchDirectory>& entry_points = {});

// One plugin as `ltc-plugins list` shows it.
struct PluginListing {
  std::string name;
  std::string version;
  std::string abi;             // from the loaded table; the manifest's if not loadable
  std::string libtorch;        // the same way; empty for a plugin linking no LibTorch
  std::filesystem::path path;  // the shared object
  bool available = false;
  std::string reason;          // why not available; empty when available
  PluginAttributes attributes; // empty when the plugin could not be loaded
};

// What the loading process is, for the checks made before a plugin loads.
struct HostTraits {
  // "MAJOR.MINOR" of the LibTorch this process runs (the host's), or empty
  // for a process without one. A plugin whose manifest names another is
  // refused unloaded ("built for LibTorch 2.11, this host runs 1.13"): two
  // LibTorch versions in one process abort it. So is one that reports
  // another when loaded by path.
  std::string libtorch;
};

// Every manifest in `directories`, loaded and checked for availability but
// never initialised (no client is created). Never throws for a bad plugin.
std::vector<PluginListing> ListPlugins(const std::vector<SearchDirectory>& directories,
                                       const HostTraits& host = {});

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
// is a candidate, in search order: the first that works wins, and a warning
// names the places of the others. Throws LoaderError naming the request,
// every directory searched and each candidate's reason when none works:
// not found / malformed manifest / unsupported manifest / built for
// LibTorch x.y, this host runs a.b / not loadable / no ltc_plugin_query /
// ABI x.y not supported by host a.b / manifest name ... does not match ... /
// unavailable: ... / init failed: ... When a later entry of a preference
// list is used, logs a warning with the reasons of the earlier ones.
std::unique_ptr<PluginClient> SelectBackend(const BackendRequest& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config = {},
                                            const HostTraits& host = {});
// The same for BackendRequest::Resolve(request).
std::unique_ptr<PluginClient> SelectBackend(const std::string& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config = {},
                                            const HostTraits& host = {});

}  // namespace ltc
