// What a user asks for: the backend request (LTC_BACKEND's syntax) and the
// client options (LTC_PLUGIN_OPTIONS's syntax). The one parser of both.
#include <ltc/loader.h>

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "internal.h"

namespace ltc {
namespace {

namespace fs = std::filesystem;
using loader_internal::Trim;

constexpr const char* kBackendVariable = "LTC_BACKEND";
constexpr const char* kOptionsVariable = "LTC_PLUGIN_OPTIONS";
constexpr const char* kDefaultBackend = "ts_cpu";

std::vector<std::string> TrimmedEntries(std::string_view text, char separator) {
  std::vector<std::string> entries;
  while (true) {
    const auto end = std::min(text.find(separator), text.size());
    std::string entry = Trim(text.substr(0, end));
    if (!entry.empty()) entries.push_back(std::move(entry));
    if (end == text.size()) return entries;
    text.remove_prefix(end + 1);
  }
}

bool IsPath(const std::string& entry) { return entry.find('/') != std::string::npos; }

// "512" is an int64, "0.5" and "1e3" doubles, "true"/"false" bools; the rest
// strings. Text that only looks numeric ("12abc") stays a string.
OptionValue ParseValue(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  const char* begin = text.data();
  const char* end = begin + text.size();
  int64_t integer = 0;
  auto parsed = std::from_chars(begin, end, integer);
  if (!text.empty() && parsed.ec == std::errc() && parsed.ptr == end) return integer;
  char* double_end = nullptr;
  const double number = std::strtod(begin, &double_end);
  if (!text.empty() && double_end == end && text.find_first_of("0123456789") != std::string::npos) {
    return number;
  }
  return text;
}

}  // namespace

BackendRequest BackendRequest::Resolve(const std::string& request) {
  BackendRequest resolved;
  resolved.text = request;
  if (resolved.text.empty()) {
    const char* variable = std::getenv(kBackendVariable);
    resolved.text = variable != nullptr && *variable != '\0' ? variable : kDefaultBackend;
  }
  resolved.entries = TrimmedEntries(resolved.text, ',');
  return resolved;
}

bool BackendRequest::Names(const Plugin& plugin) const {
  for (const std::string& entry : entries) {
    if (IsPath(entry) ? fs::absolute(entry).lexically_normal() == plugin.path()
                      : entry == plugin.name()) {
      return true;
    }
  }
  return false;
}

ClientOptions ParseOptions(const std::string& text) {
  ClientOptions options;
  for (const std::string& entry : TrimmedEntries(text, ',')) {
    const auto equals = entry.find('=');
    const std::string name = Trim(std::string_view(entry).substr(0, equals));
    if (equals == std::string::npos || name.empty()) {
      throw std::invalid_argument("option '" + entry + "' is not name=value");
    }
    if (!options.emplace(name, ParseValue(Trim(std::string_view(entry).substr(equals + 1)))).second) {
      throw std::invalid_argument("option '" + name + "' is given twice");
    }
  }
  return options;
}

ClientOptions ResolveOptions(const ClientOptions& given) {
  ClientOptions options = given;
  if (const char* variable = std::getenv(kOptionsVariable)) {
    try {
      // insert() keeps what `given` already holds.
      for (auto& entry : ParseOptions(variable)) options.insert(std::move(entry));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(std::string(kOptionsVariable) + ": " + error.what());
    }
  }
  return options;
}

ClientOptions OptionsFor(const ClientOptions& options, const std::string& name) {
  ClientOptions mine;
  // Scoped entries win over unscoped ones of the same name.
  for (const auto& [key, value] : options) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      mine.insert({key, value});
    } else if (key.compare(0, dot, name) == 0 && dot == name.size()) {
      mine[key.substr(dot + 1)] = value;
    }
  }
  return mine;
}

}  // namespace ltc
