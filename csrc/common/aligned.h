// Owning 64-byte-aligned array for buffers that live for one operator call (packed
// weights, materialised padding).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace fastconv {

template <class T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(int64_t count) {
    size_t bytes = (static_cast<size_t>(count > 0 ? count : 1) * sizeof(T) + 63) / 64 * 64;
    data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    if (!data_) throw std::bad_alloc();
  }
  T* get() { return data_.get(); }
  const T* get() const { return data_.get(); }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
};

}  // namespace fastconv
