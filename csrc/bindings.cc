// The extension module fastconv._core: thin pybind11 wrappers over the operators.
#include <pybind11/pybind11.h>

#include <string>

#include "common/parallel.h"
#include "kernels/kernel_table.h"

namespace fastconv::bind {
void bind_alloc(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
}  // namespace fastconv::bind

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "fastconv's C++ kernels; use the functions in the fastconv package instead.";
  fastconv::bind::bind_alloc(m);
  fastconv::bind::bind_conv(m);
  fastconv::bind::bind_pool(m);
  m.def("backend", &fastconv::active_backend, "Name of the microkernel set in use.");
  m.def("set_backend", &fastconv::set_backend, py::arg("name"),
        "Switch microkernel set; returns False if the name is unknown or unsupported here.");
  m.def("available_backends", &fastconv::available_backends);
  m.def("get_num_threads", &fastconv::num_threads);
  m.def(
      "fma_probe",
      [](int64_t iterations) {
        const auto& k = fastconv::kernels<float>();
        pybind11::gil_scoped_release release;
        return std::make_pair(k.fma_probe(iterations), iterations * k.probe_flops);
      },
      py::arg("iterations"), "float32 peak probe on one thread: (checksum, flops performed).");
  m.def("set_num_threads", &fastconv::set_num_threads, py::arg("n"));
#ifdef _OPENMP
  m.attr("openmp") = std::to_string(_OPENMP);  // the OpenMP version date, e.g. 201511
#else
  m.attr("openmp") = "";
#endif
  m.attr("compiler") = FASTCONV_COMPILER;
  m.attr("build_flags") = FASTCONV_BUILD_FLAGS;
  m.attr("sanitizers") = FASTCONV_SANITIZE;  // the -fsanitize= list the build used, "" for none
}
