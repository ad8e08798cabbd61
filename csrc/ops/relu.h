#pragma once
#include <cstdint>

namespace fastconv {

// out = max(x, 0) elementwise, NaN kept; out may equal x.
template <class T>
void relu(const T* x, T* out, int64_t n);

}  // namespace fastconv
