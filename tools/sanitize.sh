#!/usr/bin/env bash
# Memory-safety run: builds fastconv with AddressSanitizer and UndefinedBehaviorSanitizer in a
# virtual environment of its own and runs the test suite with the ASan runtime preloaded (the
# Python interpreter is not instrumented, so the runtime must be loaded before it). Passes only
# if pytest passes and the logs hold no ASan error, no UBSan report and no leak whose stack
# passes through fastconv's own code (CPython and NumPy keep objects alive until exit by
# design; their leak records are counted and ignored).
#
#   tools/sanitize.sh                 # the whole suite
#   tools/sanitize.sh tests/test_x.py # any pytest arguments instead
#
# FASTCONV_SANITIZE_DIR=dir keeps the virtual environment, build and logs there (reused by a
# later run); otherwise they go to a fresh temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
work="${FASTCONV_SANITIZE_DIR:-$(mktemp -d)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -m pip install -q --upgrade pip
pip install -q ".[test]" -Ccmake.define.FASTCONV_SANITIZE=address,undefined -Cbuild-dir="$work/build"

module="$(ls "$(python -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"/fastconv/_core*.so)"
asan_runtime="$(ldd "$module" | awk '/libasan/ {print $3}')"
if [ -z "$asan_runtime" ]; then
  echo "sanitize: $module is not linked with libasan" >&2
  exit 1
fi
# libstdc++ too: ASan finds the real __cxa_throw when it starts, and the interpreter does not
# load libstdc++ until the extension is imported; without it the first C++ exception (a
# std::bad_alloc turned into MemoryError) ends the process on an ASan CHECK.
cxx_runtime="$(ldd "$module" | awk '/libstdc\+\+/ {print $3}')"

logs="$work/logs"
rm -rf "$logs" && mkdir -p "$logs"
# allocator_may_return_null: a huge request must reach fastconv (and NumPy) as a failed
# allocation, which they turn into MemoryError, as without ASan. Leaks are reported, not
# fatal: the log is sorted below. The suppressions are one-time allocations of module set-up.
export ASAN_OPTIONS="log_path=$logs/asan:allocator_may_return_null=1:detect_leaks=1:halt_on_error=1"
export LSAN_OPTIONS="exitcode=0:suppressions=$repo/tools/lsan.supp:print_suppressions=0"
# UBSan writes to standard error whatever its log_path: pytest must leave that descriptor
# alone (--capture=sys), and a copy goes to the logs.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
(cd "$repo" && LD_PRELOAD="$asan_runtime $cxx_runtime" python -m pytest -p no:cacheprovider --capture=sys "$@" \
  2> >(tee "$logs/pytest-stderr" >&2)) || status=$?

python "$repo/tools/sanitizer_logs.py" "$logs" "$repo" || status=$((status == 0 ? 1 : status))
exit "$status"
