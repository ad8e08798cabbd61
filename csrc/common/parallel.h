// Threading helpers. Every parallel loop partitions *outputs*: each output element is
// written by exactly one thread and its reduction order does not depend on the thread
// count, so results are bitwise identical for any number of threads.
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

// Work items cheaper than this many multiply-adds in total run on the calling thread.
constexpr int64_t kMinParallelWork = 1 << 15;

// Calls body(i) for i in [0, n); in parallel (static schedule) when total_work is large.
template <class Body>
void parallel_for(int64_t n, int64_t total_work, Body&& body) {
#ifdef _OPENMP
  if (n > 1 && total_work >= kMinParallelWork && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#else
  (void)total_work;
#endif
  for (int64_t i = 0; i < n; ++i) body(i);
}

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace fastconv
