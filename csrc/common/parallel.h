// Threading helpers. Every parallel loop partitions *outputs*: each output element is
// written by exactly one thread and its reduction order does not depend on the thread
// count, so results are bitwise identical for any number of threads.
#pragma once
#include <atomic>
#include <cstdint>
#include <new>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

// Work items cheaper than this many multiply-adds in total run on the calling thread.
constexpr int64_t kMinParallelWork = 1 << 15;

// Threads a parallel loop may use: fastconv.set_num_threads(n) if called, capped by the
// calling thread's OpenMP limit (OMP_NUM_THREADS, omp_set_num_threads, threadpoolctl).
int num_threads();
void set_num_threads(int n);  // n <= 0 returns to the OpenMP default

// The threads parallel_for(n, total_work, ...) runs on: 1 when it runs on the calling thread
// (one item, too little work, or already inside a parallel region).
inline int parallel_threads(int64_t n, int64_t total_work) {
#ifdef _OPENMP
  if (n > 1 && total_work >= kMinParallelWork && !omp_in_parallel()) return num_threads();
#else
  (void)n;
  (void)total_work;
#endif
  return 1;
}

// Calls body(i) for i in [0, n); in parallel (static schedule) when total_work is large.
template <class Body>
void parallel_for(int64_t n, int64_t total_work, Body&& body) {
#ifdef _OPENMP
  const int threads = parallel_threads(n, total_work);
  if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) body(i);
}

// parallel_for for bodies that allocate (scratch that grows with the arguments): a
// std::bad_alloc must not leave an OpenMP region (an exception escaping one ends the
// process), so the items after it are skipped and it is rethrown once the loop is done.
template <class Body>
void parallel_for_allocating(int64_t n, int64_t total_work, Body&& body) {
  std::atomic<bool> out_of_memory{false};
  parallel_for(n, total_work, [&](int64_t i) {
    if (out_of_memory.load(std::memory_order_relaxed)) return;
    try {
      body(i);
    } catch (const std::bad_alloc&) {
      out_of_memory.store(true, std::memory_order_relaxed);
    }
  });
  if (out_of_memory.load()) throw std::bad_alloc();
}

}  // namespace fastconv
