// Reading <name>.ltcplugin manifests: `key = value` lines and `#` comments.
#include <ltc/loader.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "internal.h"

namespace ltc {
namespace {

namespace fs = std::filesystem;
using loader_internal::Trim;

struct Entry {
  std::string value;
  int line;
};

[[noreturn]] void Fail(const fs::path& path, int line, const std::string& what) {
  throw std::runtime_error(path.string() + ":" + std::to_string(line) + ": " + what);
}

// Every `key = value` line; blank lines and lines starting with '#' are
// skipped. A '#' later in a line is part of the value ("C# bindings").
std::map<std::string, Entry> ReadEntries(std::string_view text, const fs::path& path) {
  std::map<std::string, Entry> entries;
  std::istringstream in{std::string(text)};
  std::string line_text;
  for (int line = 1; std::getline(in, line_text); ++line) {
    const std::string content = Trim(line_text);
    if (content.empty() || content.front() == '#') continue;
    const auto equals = content.find('=');
    if (equals == std::string::npos) Fail(path, line, "expected `key = value`");
    const std::string key = Trim(std::string_view(content).substr(0, equals));
    if (key.empty()) Fail(path, line, "expected `key = value`");
    Entry entry{Trim(std::string_view(content).substr(equals + 1)), line};
    if (!entries.emplace(key, entry).second) {
      Fail(path, line, "key '" + key + "' appears twice");
    }
  }
  return entries;
}

const Entry& Require(const std::map<std::string, Entry>& entries, const std::string& key,
                     const fs::path& path) {
  const auto it = entries.find(key);
  if (it == entries.end()) {
    throw std::runtime_error(path.string() + ": missing required key '" + key + "'");
  }
  return it->second;
}

std::string Optional(const std::map<std::string, Entry>& entries, const std::string& key) {
  const auto it = entries.find(key);
  return it == entries.end() ? std::string() : it->second.value;
}

bool ParseUint32(std::string_view text, uint32_t& out) {
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, out);
  return !text.empty() && result.ec == std::errc() && result.ptr == end;
}

// A request lists names separated by commas and tells paths by their '/',
// so a name holding either could never be selected.
void CheckName(const Entry& name, const fs::path& path) {
  if (name.value.empty()) Fail(path, name.line, "name is empty");
  if (name.value.find_first_of(",/ \t") != std::string::npos) {
    Fail(path, name.line, "name '" + name.value + "' contains ',', '/' or a space");
  }
}

fs::path ResolveLibrary(const Entry& library, const fs::path& path) {
  if (library.value.empty()) Fail(path, library.line, "library is empty");
  const fs::path directory = fs::absolute(path).parent_path();
  // `directory / library` is `library` itself when that is absolute.
  return (directory / library.value).lexically_normal();
}

// "MAJOR.MINOR" into its two numbers; `what` names the key in the error.
void ParseVersion(const Entry& entry, const char* what, const fs::path& path, uint32_t& major,
                  uint32_t& minor) {
  const std::string_view text = entry.value;
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || !ParseUint32(text.substr(0, dot), major) ||
      !ParseUint32(text.substr(dot + 1), minor)) {
    Fail(path, entry.line, std::string(what) + " '" + entry.value + "' is not MAJOR.MINOR");
  }
}

}  // namespace

Manifest ReadManifest(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot be opened");
  // Line by line, as getline reports a read error (a directory) in badbit.
  std::string text;
  for (std::string line; std::getline(in, line);) text += line + '\n';
  if (in.bad()) throw std::runtime_error(path.string() + ": cannot be read");
  return ParseManifest(text, path);
}

Manifest ParseManifest(std::string_view text, const fs::path& path) {
  // Keys this reader does not know are ignored: a newer manifest may add
  // some, and must still be readable here.
  const std::map<std::string, Entry> entries = ReadEntries(text, path);

  Manifest manifest;
  manifest.path = path;
  // The format first: a newer major may have changed what the other keys
  // mean, so none of them is read.
  const Entry& format = Require(entries, "manifest", path);
  ParseVersion(format, "manifest", path, manifest.format_major, manifest.format_minor);
  if (manifest.format_major > kManifestFormatMajor) {
    throw UnsupportedManifestError(
        path.string() + ":" + std::to_string(format.line) + ": manifest format " + format.value +
        " is newer than this loader reads (" + std::to_string(kManifestFormatMajor) + "." +
        std::to_string(kManifestFormatMinor) + "); update ltc-plugins");
  }
  const Entry& name = Require(entries, "name", path);
  CheckName(name, path);
  manifest.name = name.value;
  manifest.library = ResolveLibrary(Require(entries, "library", path), path);
  ParseVersion(Require(entries, "abi", path), "abi", path, manifest.abi_major,
               manifest.abi_minor);
  if (const auto libtorch = entries.find("libtorch"); libtorch != entries.end()) {
    uint32_t major = 0, minor = 0;
    ParseVersion(libtorch->second, "libtorch", path, major, minor);
    manifest.libtorch = libtorch->second.value;
  }
  manifest.version = Optional(entries, "version");
  manifest.description = Optional(entries, "description");
  return manifest;
}

}  // namespace ltc
