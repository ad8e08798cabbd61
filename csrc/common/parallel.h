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

// Threads a parallel loop may use: fastconv.set_num_threads(n) if called, capped by the
// calling thread's OpenMP limit (OMP_NUM_THREADS, omp_set_num_threads, threadpoolctl).
int num_threads();
void set_num_threads(int n);  // n <= 0 returns to the OpenMP default

// Calls body(i) for i in [0, n); in parallel (static schedule) when total_work is large.
template <class Body>
void parallel_for(int64_t n, int64_t total_work, Body&& body) {
#ifdef _OPENMP
  if (n > 1 && total_work >= kMinParallelWork && !omp_in_parallel()) {
    const int threads = num_threads();
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < n; ++i) body(i);
      return;
    }
  }
#else
  (void)total_work;
#endif
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace fastconv
