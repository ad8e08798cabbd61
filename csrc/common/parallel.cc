#include "common/parallel.h"

#include <algorithm>
#include <atomic>

namespace fastconv {
namespace {
std::atomic<int> requested_threads{0};
}  // namespace

int num_threads() {
#ifdef _OPENMP
  const int limit = omp_get_max_threads();
  const int requested = requested_threads.load(std::memory_order_relaxed);
  return requested > 0 ? std::min(requested, limit) : limit;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  requested_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#endif
}

}  // namespace fastconv
