// ltc::init and the `ltc` operator namespace for Python
// (torch.ops.load_library(libltc_host.so); torch.ops.ltc.init(...)).
#include <ltc/host.h>

#include "plugin_backend.h"

#include <boost/dll/runtime_symbol_info.hpp>
#include <spdlog/spdlog.h>
#include <torch/library.h>

#include <filesystem>
#include <mutex>
#include <sstream>

namespace ltc {
namespace {

std::mutex g_mutex;
// Never destroyed: the lazy core keeps a raw pointer to its backend, and
// buffers may be released during interpreter shutdown.
host::PluginBackend* g_backend = nullptr;

std::filesystem::path HostDirectory() {
  return boost::dll::this_line_location().parent_path();
}

// True when `request` (already resolved) would pick the loaded plugin.
bool NamesLoadedPlugin(const std::string& request) {
  const Plugin& plugin = g_backend->client().plugin();
  std::stringstream entries(request);
  std::string entry;
  while (std::getline(entries, entry, ',')) {
    if (entry == plugin.name() || std::filesystem::path(entry) == plugin.path()) {
      return true;
    }
  }
  return false;
}

c10::List<c10::Dict<std::string, std::string>> ListPluginsOp() {
  c10::List<c10::Dict<std::string, std::string>> result;
  for (const PluginListing& listing : ListPlugins(PluginSearchPath(HostDirectory()))) {
    c10::Dict<std::string, std::string> row;
    row.insert("name", listing.name);
    row.insert("version", listing.version);
    row.insert("abi", listing.abi);
    row.insert("path", listing.path.string());
    row.insert("available", listing.available ? "yes" : "no");
    row.insert("reason", listing.reason);
    result.push_back(std::move(row));
  }
  return result;
}

void SetRngSeedOp(int64_t seed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_backend == nullptr) throw std::runtime_error("ltc: set_rng_seed before init()");
  // Seeds arrive as int64 (the op schema's int); the bits are the seed.
  g_backend->SetRngSeed(static_cast<uint64_t>(seed));
}

}  // namespace

std::string init(const std::string& backend) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::string request = ResolveBackendRequest(backend);
  if (g_backend != nullptr) {
    if (backend.empty() || NamesLoadedPlugin(request)) return g_backend->name();
    throw std::runtime_error("ltc: backend " + g_backend->name() +
                             " is already in use; the lazy core holds one backend "
                             "per process, so \"" + request + "\" cannot be loaded");
  }
  std::unique_ptr<PluginClient> client =
      SelectBackend(request, PluginSearchPath(HostDirectory()));
  // Registers the lazy kernels, autograd and the eager fallback, and the
  // in-tree backend, which the registrar below then replaces.
  torch::lazy::InitTorchScriptBackend();
  auto* backend_impl = new host::PluginBackend(std::move(client));
  static std::unique_ptr<torch::lazy::BackendRegistrar> registrar;
  registrar = std::make_unique<torch::lazy::BackendRegistrar>(backend_impl);
  g_backend = backend_impl;
  return g_backend->name();
}

std::string backend() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_backend != nullptr ? g_backend->name() : std::string();
}

}  // namespace ltc

TORCH_LIBRARY(ltc, m) {
  m.def("init(str backend=\"\") -> str", [](const std::string& backend) {
    return ltc::init(backend);
  });
  m.def("backend() -> str", [] { return ltc::backend(); });
  m.def("plugins() -> Dict(str, str)[]", ltc::ListPluginsOp);
  m.def("set_rng_seed(int seed) -> ()", ltc::SetRngSeedOp);
}
