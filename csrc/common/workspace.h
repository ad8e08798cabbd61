// One 64-byte-aligned scratch buffer per thread that grows on demand and is reused by
// every call on that thread (no allocation per call once warm).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastconv {

// Returns at least `bytes` of 64-byte-aligned memory private to the calling thread.
// The pointer stays valid until the next workspace() call on the same thread.
void* workspace(size_t bytes);

template <class T>
T* workspace_as(int64_t count) {
  return static_cast<T*>(workspace(static_cast<size_t>(count) * sizeof(T)));
}

}  // namespace fastconv
