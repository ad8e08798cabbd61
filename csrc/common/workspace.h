// One 64-byte-aligned scratch buffer per thread that grows on demand and is reused by
// every call on that thread (no allocation per call once warm).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastconv {

// Which of the thread's buffers: Task for the scratch of one work item of a parallel loop,
// Call for what one operator call keeps across its parallel loops (on the calling thread,
// which also runs work items, so the two must differ).
enum class WorkspaceSlot : int { Task = 0, Call = 1 };

// Returns at least `bytes` of 64-byte-aligned memory private to the calling thread.
// The pointer stays valid until the next workspace() call for the same slot on the same thread.
void* workspace(size_t bytes, WorkspaceSlot slot = WorkspaceSlot::Task);

template <class T>
T* workspace_as(int64_t count, WorkspaceSlot slot = WorkspaceSlot::Task) {
  return static_cast<T*>(workspace(static_cast<size_t>(count) * sizeof(T), slot));
}

}  // namespace fastconv
