// ltc-plugins: tells which backend plugins this installation has and
// whether each can run on this machine.
#include <ltc/loader.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: ltc-plugins <command>\n"
    "\n"
    "commands:\n"
    "  list     list the backend plugins found and whether each can run here\n"
    "  --help   show this text\n"
    "\n"
    "Plugins are looked for in the directories of LTC_PLUGIN_PATH (separated\n"
    "by ':'), then in the ltc-plugins directory beside the host library.\n"
    "SPDLOG_LEVEL=ltc=debug shows every step of the search.\n";

using Row = std::vector<std::string>;

// Columns padded to their widest cell; the last one, a free-form status,
// is not padded.
void PrintTable(const std::vector<Row>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const Row& row : rows) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  for (const Row& row : rows) {
    for (size_t column = 0; column + 1 < row.size(); ++column) {
      std::cout << row[column] << std::string(widths[column] - row[column].size() + 2, ' ');
    }
    std::cout << row.back() << '\n';
  }
}

void PrintSearchPath(const std::vector<ltc::SearchDirectory>& directories) {
  std::cout << "plugin directories, in search order:\n";
  for (const ltc::SearchDirectory& directory : directories) {
    std::error_code error;
    const bool exists = fs::is_directory(directory.path, error);
    std::cout << "  " << directory.path.string() << " (" << directory.origin
              << (exists ? "" : "; does not exist") << ")\n";
  }
  std::cout << '\n';
}

int List() {
  const std::vector<ltc::SearchDirectory> directories = ltc::PluginSearchPath(ltc::ExecutableLibDir());
  PrintSearchPath(directories);
  // The host of this installation runs the LibTorch it was built with; a
  // plugin for another is listed as the host would refuse it.
  const std::vector<ltc::PluginListing> listings =
      ltc::ListPlugins(directories, ltc::HostTraits{LTC_HOST_LIBTORCH});
  if (listings.empty()) {
    std::cout << "no backend plugin is installed: no manifest (*.ltcplugin) in the "
                 "directories above\n";
    return 0;
  }
  std::vector<Row> rows{{"NAME", "VERSION", "ABI", "LIBTORCH", "GRAPH FORMATS", "PATH", "STATUS"}};
  for (const ltc::PluginListing& listing : listings) {
    const std::string formats = ltc::Join(listing.attributes.graph_formats, ",");
    rows.push_back({listing.name, listing.version, listing.abi,
                    listing.libtorch.empty() ? "-" : listing.libtorch, formats.empty() ? "-" : formats,
                    listing.path.string(),
                    listing.available ? "available" : "unavailable: " + listing.reason});
  }
  PrintTable(rows);
  return 0;
}

int Usage(const std::string& problem) {
  std::cerr << "ltc-plugins: " << problem << "\n\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty()) return Usage("no command given");
  const std::string& command = arguments.front();
  if (command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (command != "list") return Usage("unknown command '" + command + "'");
  if (arguments.size() > 1) return Usage("list takes no arguments");
  try {
    return List();
  } catch (const std::exception& error) {
    // Only the search itself can fail here (e.g. no /proc to find ourselves
    // in); a bad plugin is a row of the table, not an error.
    std::cerr << "ltc-plugins: " << error.what() << '\n';
    return 1;
  }
}
