// Result arrays whose data starts on a cache line: a 64-byte AVX-512 load or store that
// straddles two lines costs about twice one that does not, and NumPy's own buffers start
// 0-48 bytes past a line. Results feed the next layer, so this aligns its input too.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

namespace fastconv::bind {

namespace py = pybind11;

namespace {

constexpr size_t kLine = 64;

py::array empty_aligned(const std::vector<py::ssize_t>& shape, const py::dtype& dtype) {
  size_t bytes = static_cast<size_t>(dtype.itemsize());
  for (py::ssize_t extent : shape) {
    if (extent < 0) throw py::value_error("empty_aligned: negative dimension");
    if (extent > 0 && bytes > (std::numeric_limits<size_t>::max() - kLine) / static_cast<size_t>(extent))
      throw std::bad_alloc();
    bytes *= static_cast<size_t>(extent);
  }
  void* data = std::aligned_alloc(kLine, (bytes + kLine) / kLine * kLine);  // never size 0
  if (data == nullptr) throw std::bad_alloc();
  py::capsule owner(data, [](void* p) { std::free(p); });
  return py::array(dtype, shape, data, owner);
}

}  // namespace

void bind_alloc(py::module_& m) {
  m.def("empty_aligned", &empty_aligned, py::arg("shape"), py::arg("dtype"),
        "An uninitialised C-contiguous array whose data starts on a 64-byte boundary.");
}

}  // namespace fastconv::bind
