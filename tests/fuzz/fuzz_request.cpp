// What a user types into LTC_BACKEND, LTC_PLUGIN_PATH and
// LTC_PLUGIN_OPTIONS. The first byte picks the variable, the rest is its
// value, read as the loader reads it from the environment (up to a NUL,
// which no variable can hold). Each parser must keep the promises of
// ltc/loader.h or throw what it documents.
#include <ltc/loader.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void Check(bool promise) {
  if (!promise) std::abort();
}

// Equality that holds for a NaN option too.
bool Same(const ltc::OptionValue& a, const ltc::OptionValue& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    return std::memcmp(x, std::get_if<double>(&b), sizeof *x) == 0;
  }
  return a == b;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool Trimmed(const std::string& text) {
  return !text.empty() && !IsBlank(text.front()) && !IsBlank(text.back());
}

void FuzzBackend(const std::string& text) {
  setenv("LTC_BACKEND", text.c_str(), 1);
  // An empty request reads the variable; a given one ignores it.
  for (const std::string& request : {std::string(), text}) {
    const ltc::BackendRequest resolved = ltc::BackendRequest::Resolve(request);
    Check(!resolved.text.empty());
    for (const std::string& entry : resolved.entries) {
      Check(Trimmed(entry) && entry.find(',') == std::string::npos);
    }
    // Parsing the entries joined again gives the same entries.
    Check(ltc::BackendRequest::Resolve(ltc::Join(resolved.entries, ",") + ",").entries ==
          resolved.entries);
  }
}

void FuzzPluginPath(const std::string& text) {
  setenv("LTC_PLUGIN_PATH", text.c_str(), 1);
  const std::vector<ltc::SearchDirectory> directories = ltc::PluginSearchPath("/anchor");
  Check(!directories.empty() && directories.back().path == "/anchor/ltc-plugins");
  for (size_t i = 0; i + 1 < directories.size(); ++i) {
    const std::string path = directories[i].path.string();
    Check(!path.empty() && path.find(':') == std::string::npos &&
          directories[i].origin == "LTC_PLUGIN_PATH");
  }
}

void FuzzOptions(const std::string& text) {
  ltc::ClientOptions parsed;
  try {
    parsed = ltc::ParseOptions(text);
  } catch (const std::invalid_argument&) {
    // The variable names itself in the same error.
    setenv("LTC_PLUGIN_OPTIONS", text.c_str(), 1);
    try {
      ltc::ResolveOptions({});
    } catch (const std::invalid_argument& error) {
      Check(std::strncmp(error.what(), "LTC_PLUGIN_OPTIONS: ", 20) == 0);
      return;
    }
    std::abort();
  }
  for (const auto& [name, value] : parsed) Check(Trimmed(name) && name.find(',') == std::string::npos);
  // Given options win over the variable's.
  setenv("LTC_PLUGIN_OPTIONS", text.c_str(), 1);
  const ltc::ClientOptions given{{"given", std::string("yes")}};
  const ltc::ClientOptions resolved = ltc::ResolveOptions(given);
  Check(resolved.at("given") == given.at("given"));
  // A plugin gets its scoped entries unscoped, over the unscoped ones of the
  // same name, and nothing scoped to another plugin.
  const ltc::ClientOptions mine = ltc::OptionsFor(resolved, "ts_cpu");
  for (const auto& [name, value] : mine) {
    const auto scoped = resolved.find("ts_cpu." + name);
    const auto unscoped = resolved.find(name);
    Check(scoped != resolved.end() ? Same(scoped->second, value)
                                   : unscoped != resolved.end() && Same(unscoped->second, value));
  }
  for (const auto& [name, value] : resolved) {
    if (name.rfind("ts_cpu.", 0) == 0) Check(mine.count(name.substr(7)) == 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* text = reinterpret_cast<const char*>(data + 1);
  const std::string value(text, strnlen(text, size - 1));
  switch (data[0] % 3) {
    case 0: FuzzBackend(value); break;
    case 1: FuzzPluginPath(value); break;
    case 2: FuzzOptions(value); break;
  }
  return 0;
}
