// ParseManifest on any text: it returns a manifest that keeps the reader's
// promises, or throws std::runtime_error; anything else is a bug.
#include <ltc/loader.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ltc::Manifest manifest;
  try {
    manifest = ltc::ParseManifest(text, "/plugins/fuzzed.ltcplugin");
  } catch (const std::runtime_error&) {
    return 0;
  }
  // A name a request can select, and a library the loader can open by path.
  if (manifest.name.empty() || manifest.name.find_first_of(",/ \t") != std::string::npos ||
      !manifest.library.is_absolute()) {
    std::abort();
  }
  return 0;
}
