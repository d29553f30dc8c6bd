// Loading one plugin library, checking the table it returns and reading its
// attributes.
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
using loader_internal::NewArgs;

// The smallest struct_size a table of each minor version may have. A table
// newer than the host must still hold every slot the host knows.
constexpr size_t kMinimumStructSize[] = {
    LTC_PLUGIN_API_STRUCT_SIZE_2_0,
    LTC_PLUGIN_API_STRUCT_SIZE_2_0,  // 2.1 appended no slot
#ifdef LTC_PLUGIN_API_STRUCT_SIZE_2_2  // tests/abi_next: the simulated 2.2 header
    LTC_PLUGIN_API_STRUCT_SIZE_2_2,
#endif
};
static_assert(std::size(kMinimumStructSize) == LTC_PLUGIN_ABI_MINOR + 1,
              "add the struct size of the new minor version");

// A slot the table must fill when it covers it (plugin_api.h marks these
// REQUIRED); the test reads the field only once its offset is known to be
// covered. OPTIONAL slots may be NULL.
struct RequiredSlot {
  const char* name;
  size_t offset;
  bool (*is_set)(const LtcPluginApi& api);
};

#define LTC_REQUIRED_SLOT(slot) \
  RequiredSlot{#slot, offsetof(LtcPluginApi, slot), [](const LtcPluginApi& api) { return api.slot != nullptr; }}

const RequiredSlot kRequiredSlots[] = {
    LTC_REQUIRED_SLOT(error_destroy),
    LTC_REQUIRED_SLOT(error_get_code),
    LTC_REQUIRED_SLOT(error_get_message),
    LTC_REQUIRED_SLOT(plugin_get_attributes),
    LTC_REQUIRED_SLOT(client_create),
    LTC_REQUIRED_SLOT(client_destroy),
    LTC_REQUIRED_SLOT(client_get_info),
    LTC_REQUIRED_SLOT(client_get_device_info),
    LTC_REQUIRED_SLOT(buffer_from_host),
    LTC_REQUIRED_SLOT(buffer_from_scalar),
    LTC_REQUIRED_SLOT(buffer_create_placeholder),
    LTC_REQUIRED_SLOT(buffer_to_host),
    LTC_REQUIRED_SLOT(buffer_get_info),
    LTC_REQUIRED_SLOT(buffer_destroy),
    LTC_REQUIRED_SLOT(client_compile),
    LTC_REQUIRED_SLOT(executable_get_info),
    LTC_REQUIRED_SLOT(executable_execute),
    LTC_REQUIRED_SLOT(executable_destroy),
};

#undef LTC_REQUIRED_SLOT

bool Covers(size_t struct_size, size_t slot_offset) {
  return slot_offset + sizeof(void*) <= struct_size;
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
  for (const RequiredSlot& slot : kRequiredSlots) {
    if (Covers(api.struct_size, slot.offset) && !slot.is_set(api)) {
      Reject(std::string("malformed table: ") + slot.name + " is NULL");
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

// The error's code and message, and the error destroyed.
std::pair<LtcErrorCode, std::string> TakeError(const LtcPluginApi& api, LtcError* error) {
  auto code = NewArgs<LtcErrorGetCodeArgs>(LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE);
  code.error = error;
  code.out_code = LTC_ERROR_UNKNOWN;
  api.error_get_code(&code);
  auto message = NewArgs<LtcErrorGetMessageArgs>(LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE);
  message.error = error;
  api.error_get_message(&message);
  // A NULL message breaks error_get_message's contract; say so rather than
  // show nothing.
  std::string text = message.out_message != nullptr
                         ? std::string(message.out_message, message.out_message_size)
                         : std::string("(no message: error_get_message gave NULL)");
  auto destroy = NewArgs<LtcErrorDestroyArgs>(LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE);
  destroy.error = error;
  api.error_destroy(&destroy);
  return {code.out_code, std::move(text)};
}

std::string Required(const char* value, const char* what) {
  if (value == nullptr) Reject(std::string("malformed attributes: ") + what + " is NULL");
  return value;
}

PluginAttributes ReadAttributes(const LtcPluginApi& api) {
  auto args = NewArgs<LtcPluginGetAttributesArgs>(LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE);
  if (LtcError* error = api.plugin_get_attributes(&args)) {
    const auto [code, message] = TakeError(api, error);
    Reject("malformed attributes: plugin_get_attributes failed: " + ErrorCodeName(code) + ": " +
           message);
  }
  PluginAttributes attributes;
  attributes.name = Required(args.out_name, "name");
  attributes.version = Required(args.out_version, "version");
  attributes.description = Required(args.out_description, "description");
  attributes.vendor = Required(args.out_vendor, "vendor");
  if (args.out_build != nullptr) attributes.build = args.out_build;
  if (args.out_libtorch_version != nullptr) attributes.libtorch_version = args.out_libtorch_version;
  if (args.out_num_graph_formats == 0 || args.out_graph_formats == nullptr) {
    Reject("malformed attributes: no graph formats");
  }
  for (size_t i = 0; i < args.out_num_graph_formats; ++i) {
    attributes.graph_formats.push_back(Required(args.out_graph_formats[i], "a graph format"));
  }
  return attributes;
}

}  // namespace

std::shared_ptr<Plugin> Plugin::Load(const fs::path& library) {
  std::unique_ptr<Library> opened(new Library{OpenLibrary(library)});
  const LtcPluginApi& api = Negotiate(opened->library);
  return std::shared_ptr<Plugin>(new Plugin(std::move(opened), &api, library));
}

Plugin::Plugin(std::unique_ptr<Library> library, const LtcPluginApi* api, fs::path path)
    : library_(std::move(library)), api_(api), path_(std::move(path)),
      attributes_(ReadAttributes(*api)) {}

Plugin::~Plugin() = default;

std::string Plugin::abi() const { return AbiText(api_->abi_major, api_->abi_minor); }

uint32_t Plugin::agreed_minor() const {
  return std::min<uint32_t>(api_->abi_minor, LTC_PLUGIN_ABI_MINOR);
}

bool Plugin::HasSlot(size_t slot_offset) const {
  if (!Covers(api_->struct_size, slot_offset)) return false;
  void* slot = nullptr;
  std::memcpy(&slot, reinterpret_cast<const char*>(api_) + slot_offset, sizeof(slot));
  return slot != nullptr;
}

void Plugin::Check(const char* call, LtcError* error) const {
  if (error == nullptr) return;
  auto [code, message] = TakeError(*api_, error);
  throw PluginError(name(), call, code, std::move(message));
}

std::string Plugin::UnavailableReason() const {
  if (!HasSlot(offsetof(LtcPluginApi, plugin_check_available))) return {};
  auto args = NewArgs<LtcPluginCheckAvailableArgs>(LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE);
  LtcError* error = api_->plugin_check_available(&args);
  if (error == nullptr) return {};
  const auto [code, message] = TakeError(*api_, error);
  // An empty reason would read as "available".
  if (message.empty()) return "no reason given (" + ErrorCodeName(code) + ")";
  return message;
}

}  // namespace ltc
