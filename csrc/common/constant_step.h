#pragma once
#include <cstdint>
#include <type_traits>

namespace fastconv {

// f(step), with steps 2 and 3 (the common strides) passed as compile-time constants, so
// that f's loops over `i * step` vectorise; other steps are passed as they are.
template <class F>
void with_constant_step(int64_t step, F&& f) {
  if (step == 2) return f(std::integral_constant<int64_t, 2>{});
  if (step == 3) return f(std::integral_constant<int64_t, 3>{});
  f(step);
}

}  // namespace fastconv
