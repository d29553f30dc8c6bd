// Memory that ends where an inaccessible page begins, for checking that a
// plugin reads and writes nothing past the structs a host gives it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <new>
#include <stdexcept>

namespace ltc::test {

// `count` value-initialised Ts whose last byte is the last byte before a
// PROT_NONE page: touching one byte past them crashes. sizeof(T) is the
// size of T in the header this is compiled against (tail padding included,
// as every host allocates it), so a reader of a later version that reads
// one of its fields past the writer's struct_size crashes too.
template <typename T>
class Guarded {
 public:
  explicit Guarded(size_t count = 1) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = count * sizeof(T);
    mapped_size_ = (bytes + page - 1) / page * page + page;
    void* mapped = mmap(nullptr, mapped_size_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::runtime_error("mmap failed");
    mapped_ = static_cast<std::byte*>(mapped);
    std::byte* guard = mapped_ + mapped_size_ - page;
    if (mprotect(guard, page, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    first_ = reinterpret_cast<T*>(guard - bytes);
    for (size_t i = 0; i < count; ++i) new (first_ + i) T{};
  }
  ~Guarded() { munmap(mapped_, mapped_size_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  T* get() const { return first_; }
  T* operator->() const { return first_; }
  T& operator[](size_t i) const { return first_[i]; }

 private:
  std::byte* mapped_ = nullptr;
  size_t mapped_size_ = 0;
  T* first_ = nullptr;
};

// An args struct of the compiled header's current size, guarded.
template <typename T>
struct GuardedArgs : Guarded<T> {
  explicit GuardedArgs(size_t struct_size) { this->get()->struct_size = struct_size; }
};

}  // namespace ltc::test
