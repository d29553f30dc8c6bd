#include "runner.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace ltc::cts {
namespace {

// What the crash handler reads: plain memory, written before the check runs.
char current_check[256];
constexpr int kGuardSlots = 4;
std::atomic<uintptr_t> guard_begin[kGuardSlots];
std::atomic<uintptr_t> guard_end[kGuardSlots];

bool InGuardPage(uintptr_t address) {
  for (int slot = 0; slot < kGuardSlots; ++slot) {
    if (address >= guard_begin[slot] && address < guard_end[slot]) return true;
  }
  return false;
}

const char* SignalName(int signal_number) {
  switch (signal_number) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "?";
  }
}

void WriteString(const char* text) {
  const ssize_t ignored = write(STDOUT_FILENO, text, strlen(text));
  (void)ignored;
}

// Async-signal-safe: write(2) and _exit only.
void OnCrash(int signal_number, siginfo_t* info, void*) {
  WriteString("FAIL ");
  WriteString(current_check);
  WriteString(": crashed with signal ");
  WriteString(SignalName(signal_number));
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  if ((signal_number == SIGSEGV || signal_number == SIGBUS) && InGuardPage(address)) {
    WriteString(
        " in the guard page right after the args struct: the plugin read or wrote "
        "past struct_size");
  }
  WriteString("; the remaining checks did not run\n");
  _exit(1);
}

}  // namespace

int AddGuardPage(const void* begin, size_t size) {
  for (int slot = 0; slot < kGuardSlots; ++slot) {
    // Claimed by its begin; matched only once its end is set.
    uintptr_t free = 0;
    if (guard_begin[slot].compare_exchange_strong(free, reinterpret_cast<uintptr_t>(begin))) {
      guard_end[slot] = reinterpret_cast<uintptr_t>(begin) + size;
      return slot;
    }
  }
  return -1;
}

void RemoveGuardPage(int slot) {
  if (slot < 0) return;
  guard_end[slot] = 0;
  guard_begin[slot] = 0;
}

Runner::Runner() {
  struct sigaction action {};
  action.sa_sigaction = OnCrash;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
    sigaction(signal_number, &action, nullptr);
  }
}

bool Runner::Run(const std::string& name, const std::function<void()>& body) {
  std::snprintf(current_check, sizeof current_check, "%s", name.c_str());
  // The crash handler writes with write(2): what is buffered goes first.
  std::cout.flush();
  std::string outcome;
  bool passed = false;
  try {
    body();
    passed = true;
  } catch (const Skipped& skipped) {
    std::cout << "SKIP " << name << ": " << skipped.what() << '\n';
    ++skipped_;
    return false;
  } catch (const Failure& failure) {
    outcome = failure.what();
  } catch (const std::exception& error) {
    outcome = std::string("unexpected error: ") + error.what();
  }
  if (passed) {
    std::cout << "PASS " << name << '\n';
    ++passed_;
  } else {
    std::cout << "FAIL " << name << ": " << outcome << '\n';
    ++failed_;
  }
  return passed;
}

void Runner::ReportSkip(const std::string& name, const std::string& why) {
  std::cout << "SKIP " << name << ": " << why << '\n';
  ++skipped_;
}

bool Runner::Tally(const std::string& line) {
  if (line.rfind("PASS ", 0) == 0) {
    ++passed_;
  } else if (line.rfind("FAIL ", 0) == 0) {
    ++failed_;
  } else if (line.rfind("SKIP ", 0) == 0) {
    ++skipped_;
  } else {
    return false;
  }
  return true;
}

void Runner::PrintSummary() const {
  std::cout << passed_ << " passed, " << failed_ << " failed";
  if (skipped_ > 0) std::cout << ", " << skipped_ << " skipped";
  std::cout << '\n';
}

}  // namespace ltc::cts
