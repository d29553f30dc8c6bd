// Finding manifests in the search path, listing plugins and choosing the
// backend a request names.
#include <ltc/loader.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <system_error>

#include "internal.h"

namespace ltc {
namespace {

namespace fs = std::filesystem;
using loader_internal::AbiText;
using loader_internal::Log;

constexpr const char* kPathVariable = "LTC_PLUGIN_PATH";
constexpr const char* kManifestExtension = ".ltcplugin";

std::vector<std::string> SplitNonEmpty(std::string_view text, char separator) {
  std::vector<std::string> pieces;
  while (!text.empty()) {
    const auto end = std::min(text.find(separator), text.size());
    if (end > 0) pieces.emplace_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return pieces;
}

bool IsManifestFile(const fs::path& path) {
  std::error_code error;
  return path.extension() == kManifestExtension && fs::is_regular_file(path, error);
}

// Why `directory` cannot be searched, or empty when it can: a directory, or
// one manifest file.
std::string DirectoryProblem(const SearchDirectory& directory) {
  if (!directory.error.empty()) return directory.error;
  std::error_code error;
  const fs::file_status status = fs::status(directory.path, error);
  if (!fs::exists(status)) return "does not exist";
  if (!fs::is_directory(status) && !IsManifestFile(directory.path)) {
    return "neither a directory nor a " + std::string(kManifestExtension) + " file";
  }
  return {};
}

// "/p/lib/ltc-plugins (next to libltc_host.so; does not exist)"; a broken
// source has no path: "entry point x of d 1.0 (ImportError: ...)".
std::string Describe(const SearchDirectory& directory) {
  const std::string problem = DirectoryProblem(directory);
  if (directory.path.empty()) return directory.origin + " (" + problem + ")";
  return directory.path.string() + " (" + directory.origin +
         (problem.empty() ? "" : "; " + problem) + ")";
}

// One *.ltcplugin file found in the search, or a source that named none.
struct ManifestFile {
  fs::path path;                     // empty for a broken source
  std::string origin;                // its SearchDirectory's
  std::optional<Manifest> manifest;  // empty when the file could not be read
  std::string error;                 // why it could not be read: the rejection reason
  std::string promised;              // a broken source's plugin name

  // The name the manifest gives; for an unreadable one, the name its file
  // name (or its broken source) promises, so that a request for that name
  // reports the problem.
  std::string name() const {
    if (manifest) return manifest->name;
    return promised.empty() ? path.stem().string() : promised;
  }
  // "/p/ts_cpu.ltcplugin (LTC_PLUGIN_PATH)"
  std::string place() const {
    return (path.empty() ? std::string() : path.string() + " ") + "(" + origin + ")";
  }
};

ManifestFile ReadManifestFile(const fs::path& path, const std::string& origin) {
  ManifestFile file{path, origin, std::nullopt, {}, {}};
  try {
    file.manifest = ReadManifest(path);
    const Manifest& manifest = *file.manifest;
    Log().debug("manifest {}: name {}, ABI {}, LibTorch {}, library {}", path.string(),
                manifest.name, AbiText(manifest.abi_major, manifest.abi_minor),
                manifest.libtorch.empty() ? "none" : manifest.libtorch, manifest.library.string());
  } catch (const UnsupportedManifestError& error) {
    file.error = std::string("unsupported manifest: ") + error.what();
  } catch (const std::runtime_error& error) {
    file.error = std::string("malformed manifest: ") + error.what();
  }
  if (!file.manifest) Log().debug("{}", file.error);
  return file;
}

std::vector<ManifestFile> ScanDirectories(const std::vector<SearchDirectory>& directories) {
  std::vector<ManifestFile> files;
  for (const SearchDirectory& directory : directories) {
    Log().debug("searching {}", Describe(directory));
    if (!directory.error.empty()) {
      files.push_back(ManifestFile{{}, directory.origin, std::nullopt,
                                   directory.origin + ": " + directory.error, directory.plugin});
    } else if (IsManifestFile(directory.path)) {
      files.push_back(ReadManifestFile(directory.path, directory.origin));
    } else if (DirectoryProblem(directory).empty()) {
      for (const fs::path& path : ManifestPathsIn(directory.path)) {
        files.push_back(ReadManifestFile(path, directory.origin));
      }
    }
  }
  return files;
}

// Throws when a plugin linking LibTorch `plugin_libtorch` ("" for none)
// cannot share this host's process.
void RefuseOtherLibTorch(const std::string& plugin_libtorch, const HostTraits& host) {
  if (!host.libtorch.empty() && !plugin_libtorch.empty() && plugin_libtorch != host.libtorch) {
    throw LoaderError("built for LibTorch " + plugin_libtorch + ", this host runs " +
                      host.libtorch);
  }
}

// A plugin loaded by path has no manifest to say which LibTorch it links;
// its attributes say so once loaded (if loading did not abort already).
std::shared_ptr<Plugin> CheckLibTorch(std::shared_ptr<Plugin> plugin, const HostTraits& host) {
  RefuseOtherLibTorch(plugin->attributes().libtorch_version, host);
  return plugin;
}

// The plugin a manifest describes, loaded and with its ABI checked. Throws
// LoaderError with the reason it cannot be used.
std::shared_ptr<Plugin> LoadManifestPlugin(const ManifestFile& file, const HostTraits& host) {
  if (!file.manifest) throw LoaderError(file.error);
  const Manifest& manifest = *file.manifest;
  // Refused unloaded: a plugin built for another major or LibTorch may not
  // even load here (two LibTorch versions abort the process), and loading
  // runs its static initialisers.
  if (manifest.abi_major != LTC_PLUGIN_ABI_MAJOR) {
    throw LoaderError(loader_internal::UnsupportedAbi(manifest.abi_major, manifest.abi_minor));
  }
  RefuseOtherLibTorch(manifest.libtorch, host);
  std::shared_ptr<Plugin> plugin = CheckLibTorch(Plugin::Load(manifest.library), host);
  // Users select by the manifest's name; a plugin answering to another
  // would make init("fast") report a backend nobody asked for.
  if (plugin->name() != manifest.name) {
    throw LoaderError("manifest name '" + manifest.name + "' does not match the plugin's name '" +
                      plugin->name() + "'");
  }
  return plugin;
}

PluginListing Inspect(const ManifestFile& file, const HostTraits& host) {
  PluginListing listing;
  listing.name = file.name();
  // An unreadable manifest names no library: show the file to fix instead.
  listing.path = file.manifest ? file.manifest->library : file.path;
  if (file.manifest) {
    listing.version = file.manifest->version;
    listing.abi = AbiText(file.manifest->abi_major, file.manifest->abi_minor);
    listing.libtorch = file.manifest->libtorch;
  }
  try {
    const std::shared_ptr<Plugin> plugin = LoadManifestPlugin(file, host);
    listing.version = plugin->attributes().version;
    listing.abi = plugin->abi();
    listing.libtorch = plugin->attributes().libtorch_version;
    listing.attributes = plugin->attributes();
    listing.reason = plugin->UnavailableReason();
  } catch (const LoaderError& error) {
    listing.reason = error.what();
  }
  listing.available = listing.reason.empty();
  return listing;
}

// A plugin that may serve one entry of a request; not loaded yet.
struct Candidate {
  const ManifestFile* manifest;  // null when the request named a path
  fs::path library;              // empty when the manifest is unreadable

  // How messages name it: "<entry>: <library>" for a manifest's plugin;
  // an entry that is a path already names its library.
  std::string Label(const std::string& entry) const {
    return manifest != nullptr && !library.empty() ? entry + ": " + library.string() : entry;
  }
};

std::vector<Candidate> CandidatesFor(const std::string& entry,
                                     const std::vector<ManifestFile>& files) {
  if (entry.find('/') != std::string::npos) {
    return {Candidate{nullptr, fs::absolute(entry).lexically_normal()}};
  }
  std::vector<Candidate> candidates;
  for (const ManifestFile& file : files) {
    if (file.name() != entry) continue;
    candidates.push_back(Candidate{&file, file.manifest ? file.manifest->library : fs::path()});
  }
  return candidates;
}

// Loads, checks and initialises a candidate. Throws LoaderError with the
// reason it cannot serve.
std::unique_ptr<PluginClient> Initialise(const Candidate& candidate, const ClientConfig& config,
                                         const HostTraits& host) {
  std::shared_ptr<Plugin> plugin = candidate.manifest != nullptr
                                       ? LoadManifestPlugin(*candidate.manifest, host)
                                       : CheckLibTorch(Plugin::Load(candidate.library), host);
  Log().debug("{}: plugin {} {}, ABI {}", plugin->path().string(), plugin->name(),
              plugin->attributes().version, plugin->abi());
  const std::string unavailable = plugin->UnavailableReason();
  if (!unavailable.empty()) throw LoaderError("unavailable: " + unavailable);
  ClientConfig own{OptionsFor(config.options, plugin->name()), config.tracer};
  Log().debug("{}: creating a client with {}", plugin->name(), DescribeOptions(own.options));
  try {
    return std::make_unique<PluginClient>(std::move(plugin), std::move(own));
  } catch (const PluginError& error) {
    // The loader's message already names the candidate.
    throw LoaderError("init failed: " + error.message());
  }
}

void ReportChoice(const Plugin& plugin, const std::vector<std::string>& rejections) {
  if (!rejections.empty()) {
    Log().warn("LTC backend {} is used because the ones before it failed: {}", plugin.name(),
               Join(rejections, "; "));
  }
  Log().info("LTC backend {} {} from {}", plugin.name(), plugin.attributes().version,
             plugin.path().string());
}

std::string NothingLoaded(const std::string& request,
                          const std::vector<SearchDirectory>& directories,
                          const std::vector<std::string>& rejections) {
  std::vector<std::string> searched;
  for (const SearchDirectory& directory : directories) searched.push_back(Describe(directory));
  std::string text = "no LTC backend could be loaded for \"" + request + "\"\n  searched: " +
                     (searched.empty() ? "no directories" : Join(searched, ", "));
  if (rejections.empty()) text += "\n  the request names no backend";
  for (const std::string& rejection : rejections) text += "\n  " + rejection;
  return text;
}

}  // namespace

std::vector<fs::path> ManifestPathsIn(const fs::path& directory) {
  std::vector<fs::path> paths;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    std::error_code type_error;
    if (it->path().extension() == kManifestExtension && it->is_regular_file(type_error)) {
      paths.push_back(it->path());
    }
  }
  if (error) Log().debug("cannot list {}: {}", directory.string(), error.message());
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string Join(const std::vector<std::string>& pieces, const std::string& separator) {
  std::string joined;
  for (const std::string& piece : pieces) {
    if (!joined.empty()) joined += separator;
    joined += piece;
  }
  return joined;
}


fs::path ExecutableLibDir() {
  return (fs::path(boost::dll::program_location()).parent_path() / LTC_LIBDIR_FROM_BINDIR)
      .lexically_normal();
}

std::vector<SearchDirectory> PluginSearchPath(const fs::path& anchor,
                                              const std::vector<SearchDirectory>& entry_points) {
  std::vector<SearchDirectory> directories;
  if (const char* variable = std::getenv(kPathVariable)) {
    for (const std::string& entry : SplitNonEmpty(variable, ':')) {
      directories.push_back({entry, kPathVariable, {}, {}});
    }
  }
  directories.insert(directories.end(), entry_points.begin(), entry_points.end());
  directories.push_back({anchor / "ltc-plugins", "next to libltc_host.so", {}, {}});
  return directories;
}

std::vector<PluginListing> ListPlugins(const std::vector<SearchDirectory>& directories,
                                       const HostTraits& host) {
  std::vector<PluginListing> listings;
  for (const ManifestFile& file : ScanDirectories(directories)) {
    const PluginListing& listing = listings.emplace_back(Inspect(file, host));
    Log().debug("{}: {} (ABI {}): {}", listing.name, listing.path.string(), listing.abi,
                listing.available ? "available" : listing.reason);
  }
  return listings;
}

std::unique_ptr<PluginClient> SelectBackend(const BackendRequest& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config, const HostTraits& host) {
  Log().debug("choosing an LTC backend for \"{}\"{}", request.text,
              host.libtorch.empty() ? "" : " in a host of LibTorch " + host.libtorch);
  const std::vector<ManifestFile> files = ScanDirectories(directories);
  std::vector<std::string> rejections;  // "<label>: <reason>", in the order tried
  for (const std::string& entry : request.entries) {
    const std::vector<Candidate> candidates = CandidatesFor(entry, files);
    if (candidates.empty()) {
      Log().debug("{}: not found", entry);
      rejections.push_back(entry + ": not found");
    }
    if (candidates.size() > 1) {
      std::vector<std::string> places;
      for (const Candidate& candidate : candidates) places.push_back(candidate.manifest->place());
      Log().warn("plugin {} is found in {} places, in search order: {}; the first that loads "
                 "is used", entry, places.size(), Join(places, ", "));
    }
    for (const Candidate& candidate : candidates) {
      const std::string label = candidate.Label(entry);
      try {
        std::unique_ptr<PluginClient> client = Initialise(candidate, config, host);
        Log().debug("{}: chosen", label);
        ReportChoice(client->plugin(), rejections);
        return client;
      } catch (const LoaderError& error) {
        Log().debug("{}: rejected: {}", label, error.what());
        rejections.push_back(label + ": " + error.what());
      }
    }
  }
  throw LoaderError(NothingLoaded(request.text, directories, rejections));
}

std::unique_ptr<PluginClient> SelectBackend(const std::string& request,
                                            const std::vector<SearchDirectory>& directories,
                                            const ClientConfig& config, const HostTraits& host) {
  return SelectBackend(BackendRequest::Resolve(request), directories, config, host);
}

}  // namespace ltc
