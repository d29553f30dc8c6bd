// Runs named checks and reports each as one line:
//   PASS abi.dlpack_round_trip.float32
//   FAIL abi.outputs_nulled_on_failure.buffer_to_host: <what was wrong>
//   SKIP abi.compile_execute.torchscript-archive-v1: <why it cannot apply>
// then "N passed, N failed, N skipped".
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace ltc::cts {

// Thrown by a check that found the plugin breaking the contract.
class Failure : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by a check that cannot apply to this plugin (a graph format it does
// not read, a dtype it refuses with UNIMPLEMENTED, an optional slot it
// leaves NULL). Counted apart: a skipped check has not passed.
class Skipped : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void Fail(const std::string& why) { throw Failure(why); }
[[noreturn]] inline void Skip(const std::string& why) { throw Skipped(why); }
inline void Expect(bool condition, const std::string& why) {
  if (!condition) Fail(why);
}

// Pages after args structs, whose touching means the plugin read or wrote
// past struct_size: a crash there says so (see GuardedArgs). A few at a
// time (a struct and the structs it points to); returns a slot for
// RemoveGuardPage, or -1 when all are taken (then a crash says less).
int AddGuardPage(const void* begin, size_t size);
void RemoveGuardPage(int slot);

class Runner {
 public:
  // Makes a crash (SIGSEGV, SIGBUS, SIGABRT, ...) inside a check print a
  // FAIL line for it before the process dies.
  Runner();

  // Runs `body` as check `name`: PASS when it returns, FAIL on a Failure or
  // any other exception, SKIP on Skipped. Returns whether it passed.
  bool Run(const std::string& name, const std::function<void()>& body);
  // Reports `name` as skipped without running anything.
  void ReportSkip(const std::string& name, const std::string& why);
  // Counts `line`, printed by another process (the Python tiers), when it
  // is a result line of the format above; returns whether it was one.
  bool Tally(const std::string& line);

  // Prints the summary line.
  void PrintSummary() const;

  int passed() const { return passed_; }
  int failed() const { return failed_; }
  int skipped() const { return skipped_; }

 private:
  int passed_ = 0;
  int failed_ = 0;
  int skipped_ = 0;
};

}  // namespace ltc::cts
