// Loading one plugin library and checking the table it returns.
#include <ltc/loader.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string_view>
#include <system_error>

#include "internal.h"

namespace ltc {

struct Plugin::Library {
  boost::dll::shared_library library;
};

namespace {

namespace fs = std::filesystem;
using loader_internal::AbiText;

// The smallest struct_size a table of each minor version may have. A table
// newer than the host must still hold every slot the host knows.
constexpr size_t kMinimumStructSize[] = {
    LTC_PLUGIN_API_STRUCT_SIZE_1_0,
    LTC_PLUGIN_API_STRUCT_SIZE_1_1,
};
static_assert(std::size(kMinimumStructSize) == LTC_PLUGIN_ABI_MINOR + 1,
              "add the struct size of the new minor version");

// A field of the table that must not be NULL when the table covers it; the
// test reads the field only once its offset is known to be covered.
struct RequiredField {
  const char* name;
  size_t offset;
  bool (*is_set)(const LtcPluginApi& api);
};

#define LTC_REQUIRED_FIELD(field)                      \
  RequiredField{#field, offsetof(LtcPluginApi, field), \
                [](const LtcPluginApi& api) { return api.field != nullptr; }}

const RequiredField kRequiredFields[] = {
    LTC_REQUIRED_FIELD(name),
    LTC_REQUIRED_FIELD(version),
    LTC_REQUIRED_FIELD(description),
    LTC_REQUIRED_FIELD(error_destroy),
    LTC_REQUIRED_FIELD(error_code),
    LTC_REQUIRED_FIELD(error_message),
    LTC_REQUIRED_FIELD(plugin_check_available),
    LTC_REQUIRED_FIELD(client_create),
    LTC_REQUIRED_FIELD(client_destroy),
    LTC_REQUIRED_FIELD(client_device_count),
    LTC_REQUIRED_FIELD(client_device_kind),
    LTC_REQUIRED_FIELD(client_eager_fallback_device),
    LTC_REQUIRED_FIELD(buffer_from_host),
    LTC_REQUIRED_FIELD(buffer_from_scalar),
    LTC_REQUIRED_FIELD(buffer_create_placeholder),
    LTC_REQUIRED_FIELD(buffer_to_host),
    LTC_REQUIRED_FIELD(buffer_get_info),
    LTC_REQUIRED_FIELD(buffer_destroy),
    LTC_REQUIRED_FIELD(compile),
    LTC_REQUIRED_FIELD(executable_num_parameters),
    LTC_REQUIRED_FIELD(executable_num_results),
    LTC_REQUIRED_FIELD(executable_destroy),
    LTC_REQUIRED_FIELD(execute),
    LTC_REQUIRED_FIELD(synchronize),
    LTC_REQUIRED_FIELD(set_rng_seed),
    LTC_REQUIRED_FIELD(client_get_stats),
};

#undef LTC_REQUIRED_FIELD

bool Covers(size_t struct_size, size_t field_offset) {
  return field_offset + sizeof(void*) <= struct_size;
}

[[noreturn]] void Reject(const std::string& reason) { throw LoaderError(reason); }

// Boost.DLL words a failed dlopen as
//   "boost::dll::shared_library::load() failed (dlerror system message: TEXT): ..."
// and TEXT (which file is missing, "invalid ELF header", ...) is the part a
// user can act on.
std::string DynamicLoaderText(const std::system_error& error) {
  const std::string_view what = error.what();
  constexpr std::string_view kMarker = "(dlerror system message: ";
  const auto start = what.find(kMarker);
  const auto end = what.rfind(')');
  if (start == std::string_view::npos || end == std::string_view::npos ||
      end < start + kMarker.size()) {
    return std::string(what);
  }
  const auto text = start + kMarker.size();
  return std::string(what.substr(text, end - text));
}

boost::dll::shared_library OpenLibrary(const fs::path& path) {
  try {
    // Lazy binding keeps loading cheap for plugins that are only listed;
    // local symbols keep plugins from resolving against each other.
    return boost::dll::shared_library(
        path, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& error) {
    Reject("not loadable: " + DynamicLoaderText(error));
  }
}

void CheckTable(const LtcPluginApi& api) {
  const size_t required =
      kMinimumStructSize[std::min<uint32_t>(api.abi_minor, LTC_PLUGIN_ABI_MINOR)];
  if (api.struct_size < required) {
    Reject("malformed table: struct_size is " + std::to_string(api.struct_size) + " but ABI " +
           AbiText(api.abi_major, api.abi_minor) + " needs at least " + std::to_string(required));
  }
  for (const RequiredField& field : kRequiredFields) {
    if (Covers(api.struct_size, field.offset) && !field.is_set(api)) {
      Reject(std::string("malformed table: ") + field.name + " is NULL");
    }
  }
}

const LtcPluginApi& Negotiate(const boost::dll::shared_library& library) {
  if (!library.has(LTC_PLUGIN_QUERY_SYMBOL)) Reject("no ltc_plugin_query symbol");
  const auto& query = library.get<const LtcPluginApi*(uint32_t, uint32_t)>(LTC_PLUGIN_QUERY_SYMBOL);
  const LtcPluginApi* api = query(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR);
  if (api == nullptr) {
    Reject("ltc_plugin_query returned NULL for ABI " +
           AbiText(LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR));
  }
  // The version fields lead every table of every version, so they can be
  // read before anything else is known about the table.
  if (api->abi_major != LTC_PLUGIN_ABI_MAJOR) {
    Reject(loader_internal::UnsupportedAbi(api->abi_major, api->abi_minor));
  }
  CheckTable(*api);
  return *api;
}

// Converts a plugin's error object into an exception value, destroying it.
PluginError TakeError(const LtcPluginApi& api, LtcError* error) {
  const std::unique_ptr<LtcError, void (*)(LtcError*)> owned(error, api.error_destroy);
  const char* message = api.error_message(error);
  return PluginError(api.error_code(error), message != nullptr ? message : "");
}

}  // namespace

std::shared_ptr<Plugin> Plugin::Load(const fs::path& library) {
  std::unique_ptr<Library> opened(new Library{OpenLibrary(library)});
  const LtcPluginApi& api = Negotiate(opened->library);
  return std::shared_ptr<Plugin>(new Plugin(std::move(opened), &api, library));
}

Plugin::Plugin(std::unique_ptr<Library> library, const LtcPluginApi* api, fs::path path)
    : library_(std::move(library)), api_(api), path_(std::move(path)) {}

Plugin::~Plugin() = default;

std::string Plugin::abi() const { return AbiText(api_->abi_major, api_->abi_minor); }

bool Plugin::HasSlot(size_t slot_offset) const { return Covers(api_->struct_size, slot_offset); }

void Plugin::Check(LtcError* error) const {
  if (error != nullptr) throw TakeError(*api_, error);
}

std::string Plugin::UnavailableReason() const {
  LtcError* error = api_->plugin_check_available();
  if (error == nullptr) return {};
  const PluginError unavailable = TakeError(*api_, error);
  // An empty reason would read as "available".
  if (*unavailable.what() == '\0') {
    return "no reason given (error code " + std::to_string(unavailable.code()) + ")";
  }
  return unavailable.what();
}

PluginClient::PluginClient(std::shared_ptr<Plugin> plugin) : plugin_(std::move(plugin)) {
  const std::string name = plugin_->name();
  LtcClientCreateArgs args{};
  args.struct_size = LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE;
  args.plugin_name = name.c_str();
  Check(api().client_create(&args, &client_));
  if (client_ == nullptr) {
    throw PluginError(LTC_ERROR_INTERNAL, "client_create succeeded but returned no client");
  }
}

PluginClient::~PluginClient() {
  if (client_ != nullptr) api().client_destroy(client_);
}

}  // namespace ltc
