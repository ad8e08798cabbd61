#include "common/workspace.h"

#include <cstdlib>
#include <new>

namespace fastconv {
namespace {

struct ThreadBuffer {
  void* data = nullptr;
  size_t size = 0;
  ~ThreadBuffer() { std::free(data); }
};

thread_local ThreadBuffer buffers[5];

}  // namespace

void* workspace(size_t bytes, WorkspaceSlot slot) {
  ThreadBuffer& buffer = buffers[static_cast<int>(slot)];
  if (bytes > buffer.size) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void* fresh = std::aligned_alloc(64, rounded);
    if (fresh == nullptr) throw std::bad_alloc();
    std::free(buffer.data);
    buffer.data = fresh;
    buffer.size = rounded;
  }
  return buffer.data;
}

}  // namespace fastconv
