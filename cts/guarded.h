// Args structs placed against an inaccessible page, for checking that a
// plugin reads and writes nothing past the struct_size the host gives it
// (the idea of tests/abi_next/guarded.h, with the struct_size a check asks
// for rather than the compiled header's).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include "runner.h"

namespace ltc::cts {

// An Args of `struct_size` bytes whose last byte is the last before a
// PROT_NONE page: a plugin touching one byte past them crashes (the runner
// says where). `known_size` is the struct's size in 2.0, the version the CTS
// speaks. Two cases:
//   - struct_size == known_size: the struct's tail padding, which lies past
//     struct_size, is filled with a pattern that must survive the call;
//   - struct_size > known_size (a newer host): the bytes past known_size are
//     zero, as a newer host's defaults for fields 2.0 does not have.
template <typename Args>
class GuardedArgs {
  static_assert(std::is_trivially_copyable_v<Args>, "args structs are plain C");

 public:
  static constexpr uint8_t kPattern = 0xA5;

  GuardedArgs(size_t struct_size, size_t known_size)
      : struct_size_(struct_size), known_size_(known_size) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes_ = std::max(sizeof(Args), struct_size);
    mapped_size_ = (bytes_ + page_ - 1) / page_ * page_ + page_;
    void* mapped =
        mmap(nullptr, mapped_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    mapped_ = static_cast<uint8_t*>(mapped);
    uint8_t* guard = mapped_ + mapped_size_ - page_;
    if (mprotect(guard, page_, PROT_NONE) != 0) {
      munmap(mapped_, mapped_size_);
      throw std::bad_alloc();
    }
    start_ = guard - bytes_;
    new (start_) Args{};
    if (struct_size_ <= known_size_) {
      std::memset(start_ + struct_size_, kPattern, bytes_ - struct_size_);
    }
    get()->struct_size = struct_size_;
    guard_slot_ = AddGuardPage(guard, page_);
  }
  ~GuardedArgs() {
    RemoveGuardPage(guard_slot_);
    munmap(mapped_, mapped_size_);
  }
  GuardedArgs(const GuardedArgs&) = delete;
  GuardedArgs& operator=(const GuardedArgs&) = delete;

  Args* get() const { return reinterpret_cast<Args*>(start_); }
  Args* operator->() const { return get(); }
  Args& operator*() const { return *get(); }

  // Empty when the bytes past the struct's 2.0 fields are as they were
  // given, else what changed. `newer_fields_allowed`: the plugin speaks a
  // later minor than 2.0 and may fill fields of its own there, when the
  // struct_size holds them.
  std::string ChangedPastKnownFields(bool newer_fields_allowed) const {
    const bool beyond_struct_size = struct_size_ <= known_size_;
    if (!beyond_struct_size && newer_fields_allowed) return {};
    const size_t from = beyond_struct_size ? struct_size_ : known_size_;
    const uint8_t expected = beyond_struct_size ? kPattern : 0;
    for (size_t offset = from; offset < bytes_; ++offset) {
      if (start_[offset] != expected) {
        return beyond_struct_size
                   ? "wrote byte " + std::to_string(offset) + ", past struct_size " +
                         std::to_string(struct_size_)
                   : "wrote byte " + std::to_string(offset) +
                         ", past every field of 2.0 (its size is " + std::to_string(known_size_) +
                         "), in a struct a newer host sized " + std::to_string(struct_size_);
      }
    }
    return {};
  }

 private:
  size_t struct_size_;
  size_t known_size_;
  size_t page_ = 0;
  size_t bytes_ = 0;
  size_t mapped_size_ = 0;
  uint8_t* mapped_ = nullptr;
  uint8_t* start_ = nullptr;
  int guard_slot_ = -1;
};

}  // namespace ltc::cts
