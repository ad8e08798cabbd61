// std::vector whose memory comes from malloc, with std::bad_alloc thrown here when there is
// none. In a normal build that is what operator new does; under AddressSanitizer a failed
// operator new aborts the process instead of throwing, while a failed malloc returns null
// (allocator_may_return_null=1). So a buffer whose size follows the arguments (an index map
// over a hugely padded axis) still ends as MemoryError under the sanitizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace fastconv {

template <class T>
struct MallocAllocator {
  using value_type = T;
  MallocAllocator() = default;
  template <class U>
  MallocAllocator(const MallocAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    void* p = std::malloc(n > 0 ? n * sizeof(T) : 1);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const MallocAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using HeapVector = std::vector<T, MallocAllocator<T>>;

// Source index per padded position (padding.h's pad_index_map).
using IndexMap = HeapVector<int64_t>;

}  // namespace fastconv
