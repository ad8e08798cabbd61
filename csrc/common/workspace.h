// One 64-byte-aligned scratch buffer per thread that grows on demand and is reused by
// every call on that thread (no allocation per call once warm).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/aligned.h"

namespace fastconv {

// Which of the thread's buffers: Task for the scratch of one work item of a parallel loop,
// Call for what one operator call keeps across its parallel loops (on the calling thread,
// which also runs work items, so the two must differ), Weights for a call's repacked or
// transformed weights (alongside its Call scratch), Input for a kernel's padded copy of
// its input (which may be a caller's Call scratch), GemmWeights for the pixel GEMM's packed
// weights (which a Winograd call that falls back to the GEMM takes while holding its Weights).
enum class WorkspaceSlot : int { Task = 0, Call = 1, Weights = 2, Input = 3, GemmWeights = 4 };

// Returns at least `bytes` of 64-byte-aligned memory private to the calling thread.
// The pointer stays valid until the next workspace() call for the same slot on the same thread.
void* workspace(size_t bytes, WorkspaceSlot slot = WorkspaceSlot::Task);

template <class T>
T* workspace_as(int64_t count, WorkspaceSlot slot = WorkspaceSlot::Task) {
  return static_cast<T*>(workspace(static_cast<size_t>(count) * sizeof(T), slot));
}

// Scratch for one operator call, taken on the calling thread outside its parallel loops (or,
// with the Task slot, for one work item inside them): the thread's workspace of that slot
// (kept for the next call, no page faults once warm) up to 32 MB, else memory owned by this
// object for the call only (a huge image's copy is not kept).
template <class T>
class CallScratch {
 public:
  explicit CallScratch(int64_t count, WorkspaceSlot slot = WorkspaceSlot::Call) {
    constexpr int64_t kKeptBytes = int64_t{32} << 20;
    if (count * static_cast<int64_t>(sizeof(T)) > kKeptBytes) {
      owned_ = std::make_unique<AlignedBuffer<T>>(count);
      data_ = owned_->get();
    } else {
      data_ = workspace_as<T>(count, slot);
    }
  }
  T* get() const { return data_; }

 private:
  std::unique_ptr<AlignedBuffer<T>> owned_;
  T* data_;
};

}  // namespace fastconv
