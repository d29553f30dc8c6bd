// ltc::init and the `ltc` operator namespace for Python
// (torch.ops.load_library(libltc_host.so); torch.ops.ltc.init(...)).
#include <ltc/host.h>

#include "lazy_gap_kernels.h"
#include "plugin_backend.h"

#include <ltc/loader.h>

#include <ATen/FunctionalTensorWrapper.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <torch/csrc/lazy/core/internal_ops/ltc_ops.h>
#include <torch/csrc/lazy/core/ir_util.h>
#include <torch/csrc/lazy/core/lazy_graph_executor.h>
#include <torch/library.h>
#include <torch/version.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace ltc {
namespace {

std::mutex g_mutex;
// Never destroyed: the lazy core keeps a raw pointer to its backend, and
// buffers may be released during interpreter shutdown.
host::PluginBackend* g_backend = nullptr;

std::filesystem::path HostDirectory() {
  return boost::dll::this_line_location().parent_path();
}

// The manifests Python distributions name (set_entry_points, from the
// Python package ltc_plugins); searched after LTC_PLUGIN_PATH. Under g_mutex.
std::vector<SearchDirectory> g_entry_points;

// The caller holds g_mutex.
std::vector<SearchDirectory> SearchPath() {
  return PluginSearchPath(HostDirectory(), g_entry_points);
}

void SetEntryPointsOp(const std::vector<std::string>& paths,
                      const std::vector<std::string>& origins,
                      const std::vector<std::string>& errors,
                      const std::vector<std::string>& plugins) {
  TORCH_CHECK(paths.size() == origins.size() && paths.size() == errors.size() &&
                  paths.size() == plugins.size(),
              "ltc::set_entry_points: paths, origins, errors and plugins differ in length");
  std::vector<SearchDirectory> sources;
  for (size_t i = 0; i < paths.size(); ++i) {
    sources.push_back({paths[i], origins[i], errors[i], plugins[i]});
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_entry_points = std::move(sources);
}

// The tracer behind every plugin's trace events; lives as long as the client.
const host::ProfilerTracer g_tracer;

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

// What the loader checks plugins against: the LibTorch this host is built
// with, which is the one in the process.
HostTraits ThisHost() {
  return {std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR)};
}

std::vector<SearchDirectory> LockedSearchPath() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return SearchPath();
}

c10::List<c10::Dict<std::string, std::string>> ListPluginsOp() {
  c10::List<c10::Dict<std::string, std::string>> result;
  for (const PluginListing& listing : ListPlugins(LockedSearchPath(), ThisHost())) {
    c10::Dict<std::string, std::string> row;
    row.insert("name", listing.name);
    row.insert("version", listing.version);
    row.insert("abi", listing.abi);
    row.insert("path", listing.path.string());
    row.insert("available", listing.available ? "yes" : "no");
    row.insert("reason", listing.reason);
    row.insert("vendor", listing.attributes.vendor);
    row.insert("graph_formats", ltc::Join(listing.attributes.graph_formats, ","));
    row.insert("libtorch", listing.libtorch);
    result.push_back(std::move(row));
  }
  return result;
}

host::PluginBackend& Backend() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_backend == nullptr) throw std::runtime_error("ltc: call init() first");
  return *g_backend;
}

// The plugin's counters (client_get_stats); empty for a plugin without them.
c10::Dict<std::string, int64_t> PluginStatsOp() {
  c10::Dict<std::string, int64_t> result;
  const std::optional<ClientStats> stats = Backend().client().Stats();
  if (!stats) return result;
  result.insert("live_buffers", static_cast<int64_t>(stats->live_buffers));
  result.insert("live_executables", static_cast<int64_t>(stats->live_executables));
  result.insert("compiles", static_cast<int64_t>(stats->compiles));
  result.insert("executes", static_cast<int64_t>(stats->executes));
  return result;
}

// How many lazy tensors are alive on every device, as the lazy core's own
// registry counts them (what mark_step syncs). A count that grows across
// training steps is a leak, whichever backend runs them.
int64_t LiveTensorsOp() {
  const auto tensors = torch::lazy::LazyGraphExecutor::Get()->GetLiveTensors(nullptr);
  return static_cast<int64_t>(tensors.size());
}

// Waits for the work queued on every device of the plugin; raises what
// failed there asynchronously (plugin_api.h, "Asynchronous work").
void SynchronizeOp() {
  const PluginClient& client = Backend().client();
  for (int32_t device = 0; device < client.device_count(); ++device) client.Synchronize(device);
}

void SetRngSeedOp(int64_t seed) {
  // Seeds arrive as int64 (the op schema's int); the bits are the seed.
  Backend().SetRngSeed(static_cast<uint64_t>(seed));
}

// The ids and host values of the device data a graph of lazy tensors reads,
// deduplicated, in post order: what extract_compiled_graph matches against
// a function's arguments. Same contract as the in-tree backend's
// _get_tensors_ts_device_data_node, for any plugin.
std::tuple<std::vector<int64_t>, c10::List<c10::IValue>> GetTensorsDeviceDataNodeOp(
    const std::vector<at::Tensor>& tensors) {
  const host::PluginBackend& backend = Backend();
  std::vector<compat::LazyNode*> roots;
  for (const at::Tensor& tensor : tensors) {
    torch::lazy::LazyTensorPtr lazy = torch::lazy::TryGetLtcTensor(tensor);
    TORCH_CHECK(lazy, "get_tensors_device_data_node takes lazy tensors");
    roots.push_back(lazy->GetIrValue().node.get());
  }
  std::vector<int64_t> ids;
  c10::List<c10::IValue> values(c10::AnyType::get());
  std::unordered_set<torch::lazy::BackendData::Handle> seen;
  for (compat::LazyNode* node : torch::lazy::Util::ComputePostOrder(roots)) {
    if (node->op() != *torch::lazy::ltc_device_data) continue;
    torch::lazy::BackendDataPtr data = backend.GetComputationDataFromNode(node);
    if (!seen.insert(data->GetHandle()).second) continue;
    const auto* info =
        dynamic_cast<const torch::lazy::LazyGraphExecutor::DeviceDataInfo*>(data->info());
    ids.push_back(info != nullptr ? info->tensor_id : -1);
    values.push_back(backend.HostValue(data));
  }
  return {std::move(ids), std::move(values)};
}

// Runs the lazy core's cached computation for `graph_hash` (the bytes of
// torch._C._lazy._get_graph_hash, in hex) on `inputs`.
std::vector<at::Tensor> RunCachedGraphOp(const std::string& graph_hash,
                                         const c10::List<c10::IValue>& inputs) {
  torch::lazy::hash_t hash;
  TORCH_CHECK(graph_hash.size() == 2 * sizeof(hash),
              "graph hash must be ", 2 * sizeof(hash), " hex digits, got \"", graph_hash, "\"");
  auto* bytes = reinterpret_cast<unsigned char*>(&hash);
  for (size_t i = 0; i < sizeof(hash); ++i) {
    bytes[i] = static_cast<unsigned char>(std::stoul(graph_hash.substr(2 * i, 2), nullptr, 16));
  }
  auto cached = torch::lazy::LazyGraphExecutor::Get()->GetComputationCache()->Get(hash);
  TORCH_CHECK(cached, "no cached computation for graph hash ", graph_hash,
              " (never synced, or evicted from the lazy core's cache)");
  return Backend().RunComputation(cached->computation, inputs);
}

// LibTorch 1.13's functionalization keeps every value an in-place op
// replaced (FunctionalStorageImpl's update list, replayed only when a view
// of the tensor is out of date): one dead lazy tensor per in-place op,
// which mark_step then computes and stores. Applying the updates folds
// them into the tensor's base and frees them; views stay correct, as they
// regenerate from that base.
int64_t DropUpdateHistoryOp(const std::vector<at::Tensor>& tensors) {
  int64_t dropped = 0;
  for (const at::Tensor& tensor : tensors) {
    if (!tensor.defined() || !at::functionalization::impl::isFunctionalTensor(tensor)) continue;
    if (at::functionalization::impl::unsafeGetFunctionalWrapper(tensor)->apply_updates()) {
      ++dropped;
    }
  }
  return dropped;
}

// ltc_plugins.init's options cross as three parallel lists: names, types
// ("bool", "int", "float", "str") and values as text, parsed exactly here.
std::string InitWithOptionsOp(const std::string& backend, const std::vector<std::string>& names,
                              const std::vector<std::string>& types,
                              const std::vector<std::string>& values) {
  TORCH_CHECK(names.size() == types.size() && names.size() == values.size(),
              "ltc::init_with_options: option names, types and values differ in length");
  BackendOptions options;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& type = types[i];
    const std::string& text = values[i];
    OptionValue value;
    try {
      if (type == "bool" && (text == "true" || text == "false")) {
        value = text == "true";
      } else if (type == "int") {
        value = static_cast<int64_t>(std::stoll(text));
      } else if (type == "float") {
        value = std::stod(text);
      } else if (type == "str") {
        value = text;
      } else {
        throw std::invalid_argument("not a " + type);
      }
    } catch (const std::logic_error&) {
      // std::stoll and std::stod name only themselves.
      TORCH_CHECK(false, "ltc::init_with_options: option ", names[i], ": '", text,
                  "' is not a value of type ", type, " (int options are 64-bit)");
    }
    options.emplace(names[i], std::move(value));
  }
  return init(backend, options);
}

}  // namespace

std::string init(const std::string& backend, const BackendOptions& options) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ClientOptions resolved_options;
  try {
    resolved_options = ResolveOptions(options);
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(std::string("ltc: ") + error.what());
  }
  if (g_backend != nullptr) {
    const PluginClient& client = g_backend->client();
    // With nothing asked for, the backend in use is the answer.
    if (backend.empty() && options.empty()) return client.name();
    const BackendRequest request = BackendRequest::Resolve(backend);
    if (!request.Names(client.plugin())) {
      throw std::runtime_error("ltc: backend " + client.name() +
                               " is already in use; the lazy core holds one backend per "
                               "process, so " + Quoted(request.text) + " cannot be loaded");
    }
    const ClientOptions wanted = OptionsFor(resolved_options, client.name());
    if (wanted != client.options()) {
      throw std::runtime_error("ltc: backend " + client.name() + " is already in use with " +
                               DescribeOptions(client.options()) +
                               "; the lazy core holds one backend per process, so it cannot "
                               "be started again with " + DescribeOptions(wanted));
    }
    return client.name();
  }
  std::unique_ptr<PluginClient> client =
      SelectBackend(BackendRequest::Resolve(backend), SearchPath(),
                    ClientConfig{std::move(resolved_options), &g_tracer}, ThisHost());
  // Registers the lazy kernels, autograd and the eager fallback, and the
  // in-tree backend, which the registrar below then replaces.
  torch::lazy::InitTorchScriptBackend();
  host::RegisterLazyGapKernels();
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
  m.def("init_with_options(str backend, str[] option_names, str[] option_types, "
        "str[] option_values) -> str",
        ltc::InitWithOptionsOp);
  m.def("backend() -> str", [] { return ltc::backend(); });
  m.def("plugins() -> Dict(str, str)[]", ltc::ListPluginsOp);
  m.def("set_entry_points(str[] paths, str[] origins, str[] errors, str[] plugins) -> ()",
        ltc::SetEntryPointsOp);
  m.def("plugin_stats() -> Dict(str, int)", ltc::PluginStatsOp);
  m.def("synchronize() -> ()", ltc::SynchronizeOp);
  m.def("live_tensors() -> int", ltc::LiveTensorsOp);
  m.def("set_rng_seed(int seed) -> ()", ltc::SetRngSeedOp);
  m.def("get_tensors_device_data_node(Tensor[] tensors) -> (int[], Any[])",
        ltc::GetTensorsDeviceDataNodeOp);
  m.def("drop_update_history(Tensor[] tensors) -> int", ltc::DropUpdateHistoryOp);
  m.def("gap_kernels() -> str[]", [] {
    ltc::Backend();  // registered by init
    return ltc::host::RegisterLazyGapKernels();
  });
  m.def("run_cached_graph(str graph_hash, Any[] graph_inputs) -> Tensor[]",
        ltc::RunCachedGraphOp);
}
