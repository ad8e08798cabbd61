#pragma once
#include <cstdint>

namespace fastconv {

// out = max(x, 0) elementwise, NaN kept; out may equal x.
template <class T>
void relu(const T* x, T* out, int64_t n);

// grad_in = grad_out where x > 0 or x is NaN, else 0 (PyTorch masks where relu(x) <= 0).
template <class T>
void relu_backward(const T* grad_out, const T* x, T* grad_in, int64_t n);

}  // namespace fastconv
