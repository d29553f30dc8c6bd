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
#pragma once

#include <ltc/plugin_api.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ltc {

// An LtcError from a plugin, as a C++ exception.
class PluginError : public std::runtime_error {
 public:
  PluginError(LtcErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  LtcErrorCode code() const { return code_; }

 private:
  LtcErrorCode code_;
};

// No plugin could be loaded for a request; what() explains every candidate.
class LoaderError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The contents of a <name>.ltcplugin manifest: `key = value` lines, `#`
// comments. Required keys: name, library (relative to the manifest's
// directory, or absolute), abi ("MAJOR.MINOR"). Optional: version,
// description.
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

// A shared object that is loaded and whose table passed the ABI check.
// Keeps the library loaded while any copy of the shared_ptr lives.
class Plugin {
 public:
  // Loads `library` and negotiates the ABI. Throws LoaderError whose text is
  // the rejection reason, one of:
  //   "not loadable: <the dynamic loader's text>"
  //   "no ltc_plugin_query symbol"
  //   "ltc_plugin_query returned NULL for ABI <host major.minor>"
  //   "ABI <x.y> not supported by host <a.b>"
  //   "malformed table: <what>"
  static std::shared_ptr<Plugin> Load(const std::filesystem::path& library);
  ~Plugin();

  const LtcPluginApi& api() const { return *api_; }
  const std::filesystem::path& path() const { return path_; }
  std::string name() const { return api_->name; }
  std::string abi() const;  // "major.minor" as the plugin reports it

  // True when the plugin's table is long enough to hold `slot`, e.g.
  // HasSlot(offsetof(LtcPluginApi, client_get_stats)).
  bool HasSlot(size_t slot_offset) const;

  // Throws PluginError (and destroys `error`) unless it is NULL.
  void Check(LtcError* error) const;

  // Empty when plugin_check_available says yes, else its reason.
  std::string UnavailableReason() const;

 private:
  struct Library;
  Plugin(std::unique_ptr<Library> library, const LtcPluginApi* api,
         std::filesystem::path path);
  std::unique_ptr<Library> library_;
  const LtcPluginApi* api_;
  std::filesystem::path path_;
};

// An initialised plugin: owns the LtcClient and destroys it last.
class PluginClient {
 public:
  // Throws PluginError with the plugin's message when client_create fails.
  explicit PluginClient(std::shared_ptr<Plugin> plugin);
  ~PluginClient();
  PluginClient(const PluginClient&) = delete;
  PluginClient& operator=(const PluginClient&) = delete;

  const Plugin& plugin() const { return *plugin_; }
  const LtcPluginApi& api() const { return plugin_->api(); }
  LtcClient* get() const { return client_; }
  void Check(LtcError* error) const { plugin_->Check(error); }

 private:
  std::shared_ptr<Plugin> plugin_;
  LtcClient* client_ = nullptr;
};

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
  std::string abi;          // from the loaded table; the manifest's if not loadable
  std::filesystem::path path;  // the shared object
  bool available = false;
  std::string reason;       // why not available; empty when available
};

// Every manifest in `directories`, loaded and checked for availability but
// never initialised (no client is created). Never throws for a bad plugin.
std::vector<PluginListing> ListPlugins(const std::vector<SearchDirectory>& directories);

// What `request` names: LTC_BACKEND's syntax, a plugin name, an absolute
// path to a shared object, or a comma-separated list of those tried in
// order. Empty means the LTC_BACKEND environment variable, or "ts_cpu" when
// that is unset or empty.
std::string ResolveBackendRequest(const std::string& request);

// Loads and initialises the first plugin of `request` (see
// ResolveBackendRequest) that works. Every plugin manifest with a matching
// name is a candidate, in search order. Throws LoaderError naming the
// request, every directory searched and each candidate's reason when none
// works: not found / not loadable / no ltc_plugin_query / ABI x.y not
// supported by host a.b / unavailable: ... / init failed: ...
// When a later entry of a preference list is used, logs a warning with the
// reasons of the earlier ones.
std::unique_ptr<PluginClient> SelectBackend(
    const std::string& request, const std::vector<SearchDirectory>& directories);

}  // namespace ltc
