// Helpers shared by the binding files: dtype dispatch and cheap buffer checks. The Python
// layer has already validated user input; these checks keep a direct caller of _core from
// crashing the process.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastconv::bind {

namespace py = pybind11;

// Equivalent, not identical: a dtype carrying metadata is a different object from float32's
// but describes the same elements (a byte-swapped one does not).
inline bool same_dtype(const py::dtype& a, const py::dtype& b) {
  return a.is(b) || py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}
inline bool is_float32(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<float>()); }
inline bool is_float64(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<double>()); }

// Calls fn(T{}) with T the element type of `a` (float or double), unless `out` is empty:
// then there is nothing to compute, and a kernel's loops over the other axes (which may be
// huge, as in (2**40, 5, 1, 0)) would still run.
template <class Fn>
void dispatch_float(const py::array& a, const char* name, const py::array& out, Fn&& fn) {
  const bool f32 = is_float32(a);
  if (!f32 && !is_float64(a)) throw py::type_error(std::string(name) + " must be float32 or float64");
  if (out.size() == 0) return;
  if (f32)
    fn(float{});
  else
    fn(double{});
}

inline void check_array(const py::array& a, const char* name, const py::array& like, int64_t ndim,
                        bool writeable = false) {
  if (!same_dtype(a.dtype(), like.dtype())) throw py::type_error(std::string(name) + ": dtype mismatch");
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
  if (ndim >= 0 && a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions");
  if (writeable && !a.writeable()) throw py::value_error(std::string(name) + " must be writeable");
}

inline void check_shape(const py::array& a, const char* name, const std::vector<int64_t>& shape) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) throw py::value_error(std::string(name) + " has the wrong shape");
}

// Refuses an output that shares a byte with an input (kernels read inputs while writing).
inline void check_no_overlap(const py::array& out, const char* out_name, const py::array& in, const char* in_name) {
  const auto* out_lo = static_cast<const char*>(out.data());
  const auto* in_lo = static_cast<const char*>(in.data());
  if (in_lo < out_lo + out.nbytes() && out_lo < in_lo + in.nbytes())
    throw py::value_error(std::string(out_name) + " must not overlap " + in_name);
}

template <class T>
const T* ptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}
template <class T>
T* mutable_ptr(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}
template <class T>
const T* optional_ptr(const py::object& a) {
  return a.is_none() ? nullptr : static_cast<const T*>(py::cast<py::array>(a).data());
}

}  // namespace fastconv::bind
