#include "common/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>

namespace fastconv {
namespace {
std::atomic<int> requested_threads{0};

// libgomp's thread pool does not survive fork(): a child that opens a parallel region after
// the parent used the pool waits forever (GCC bug 60035). A forked child runs on its own thread.
std::atomic<bool> in_forked_child{false};
[[maybe_unused]] const int fork_handler_registered =
    pthread_atfork(nullptr, nullptr, [] { in_forked_child.store(true, std::memory_order_relaxed); });
}  // namespace

int num_threads() {
#ifdef _OPENMP
  if (in_forked_child.load(std::memory_order_relaxed)) return 1;
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
