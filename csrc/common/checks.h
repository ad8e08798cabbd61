// Internal consistency checks at the operator boundary. The Python layer validates user
// input with friendly messages; these guard the C++ entry points against misuse and turn
// into ValueError through pybind11.
#pragma once
#include <stdexcept>
#include <string>

namespace fastconv {

inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("fastconv internal check failed: ") + what);
}

}  // namespace fastconv
