// Shared by the loader tests: where the test plugins are, and changes to the
// environment and the file system that undo themselves.
#pragma once

#include <gtest/gtest.h>
#include <ltc/loader.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ltc::loader_test {

// The directory of one test plugin case (see tests/plugins/CMakeLists.txt).
inline std::filesystem::path CaseDir(const std::string& test_case) {
  return std::filesystem::path(LTC_TEST_PLUGIN_DIR) / test_case;
}

inline std::filesystem::path CaseLibrary(const std::string& test_case, const std::string& name) {
  return CaseDir(test_case) / ("libltc_" + name + ".so");
}

inline std::filesystem::path CaseLibrary(const std::string& test_case) {
  return CaseLibrary(test_case, test_case);
}

// A search path made of test case directories, in the given order.
inline std::vector<SearchDirectory> CaseDirs(std::initializer_list<std::string> cases) {
  std::vector<SearchDirectory> directories;
  for (const std::string& test_case : cases) {
    directories.push_back({CaseDir(test_case), "LTC_PLUGIN_PATH"});
  }
  return directories;
}

// "2.0": the host's ABI as messages write it.
inline std::string HostAbi() {
  return std::to_string(LTC_PLUGIN_ABI_MAJOR) + "." + std::to_string(LTC_PLUGIN_ABI_MINOR);
}

// What SelectBackend throws for `request`; empty (and a test failure) when
// it loads a plugin instead.
inline std::string SelectError(const std::string& request,
                               const std::vector<SearchDirectory>& directories) {
  try {
    SelectBackend(request, directories);
  } catch (const LoaderError& error) {
    return error.what();
  }
  ADD_FAILURE() << "SelectBackend(\"" << request << "\") loaded a plugin";
  return {};
}

// Sets an environment variable (or unsets it, given nullopt) until the end
// of the scope, then restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    Set(value);
  }
  ~ScopedEnv() { Set(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void Set(const std::optional<std::string>& value) {
    if (value) {
      setenv(name_.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

// A new empty directory, removed with its contents at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ltc_loader_test_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to `name` in the directory; returns the file's path.
  std::filesystem::path Write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = path_ / name;
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// Everything the loader logs on "ltc" while it lives, at debug level, one
// "<level> <message>" line per record.
class LogCapture {
 public:
  LogCapture() : logger_(LoaderLogger()), old_level_(logger_->level()) {
    sink_->set_pattern("%l %v");
    logger_->sinks().push_back(sink_);
    logger_->set_level(spdlog::level::debug);
  }
  ~LogCapture() {
    logger_->sinks().pop_back();
    logger_->set_level(old_level_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const { return stream_.str(); }

 private:
  // The loader logs to an existing "ltc" logger, so the test can attach to
  // it whether or not the loader has logged yet.
  static std::shared_ptr<spdlog::logger> LoaderLogger() {
    if (auto logger = spdlog::get("ltc")) return logger;
    return spdlog::stderr_color_mt("ltc");
  }

  // The loader applies SPDLOG_LEVEL when it first logs; a user's setting
  // must not override the level set here.
  ScopedEnv no_env_levels_{"SPDLOG_LEVEL", std::nullopt};
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
  spdlog::level::level_enum old_level_;
};

}  // namespace ltc::loader_test
