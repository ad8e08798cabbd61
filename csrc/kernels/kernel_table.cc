#include "kernels/kernel_table.h"

#include <cstdlib>

namespace fastconv {
namespace {

struct Backend {
  const char* name;
  bool (*supported)();
  void (*fill)(Kernels<float>&, Kernels<double>&);
};

bool always() { return true; }

// Ordered from most portable to most specialised; the last supported one is the default.
const Backend kBackends[] = {
    {"portable", always, fill_portable},
#ifdef FASTCONV_X86_KERNELS
    {"avx2", cpu_has_avx2_fma, fill_avx2},
    {"avx512", cpu_has_avx512f, fill_avx512},
#endif
};

struct Active {
  Kernels<float> f{};
  Kernels<double> d{};
  std::string name;
};

Active& active() {
  static Active a = [] {
    Active init;
    const char* forced = std::getenv("FASTCONV_BACKEND");
    for (const Backend& b : kBackends) {
      if (!b.supported()) continue;
      if (forced != nullptr && *forced != '\0' && init.name == forced) break;
      b.fill(init.f, init.d);
      init.name = b.name;
    }
    return init;
  }();
  return a;
}

}  // namespace

template <>
const Kernels<float>& kernels<float>() { return active().f; }
template <>
const Kernels<double>& kernels<double>() { return active().d; }

std::string active_backend() { return active().name; }

bool set_backend(const std::string& name) {
  Kernels<float> f{};
  Kernels<double> d{};
  for (const Backend& b : kBackends) {
    if (!b.supported()) return false;
    b.fill(f, d);
    if (name == b.name) {
      active().f = f;
      active().d = d;
      active().name = name;
      return true;
    }
  }
  return false;
}

std::string available_backends() {
  std::string out;
  for (const Backend& b : kBackends) {
    if (!b.supported()) break;
    if (!out.empty()) out += ",";
    out += b.name;
  }
  return out;
}

}  // namespace fastconv
