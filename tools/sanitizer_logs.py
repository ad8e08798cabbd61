"""Sorts the logs of a sanitizer run (tools/sanitize.sh) and fails on any report of ours.

usage: python tools/sanitizer_logs.py LOG_DIR REPO_DIR

Counted as failures: every AddressSanitizer error, every UBSan "runtime error", every failed
CHECK of a sanitizer runtime, and every leak record (direct or indirect) with a stack frame
in fastconv's code: its extension module, the ``fastconv::`` namespace or a source file
under REPO_DIR/csrc. Leak records of the interpreter
and of other libraries (objects CPython and NumPy keep until exit by design) are counted and
printed as such, not failed.
"""

from __future__ import annotations

import pathlib
import re
import sys

# An ASan error, a UBSan report, or a sanitizer runtime's own failed CHECK (which ends the
# process as surely as an error, with no "ERROR:" line).
REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|Sanitizer: CHECK failed")
LEAK_START = re.compile(r"^(Direct|Indirect) leak of (\d+) byte")


def leak_records(text):
    """The leak records of one LeakSanitizer report, each a list of lines."""
    records, current = [], None
    for line in text.splitlines():
        if LEAK_START.match(line):
            current = [line]
            records.append(current)
        elif current is not None and line.strip():
            current.append(line)
        else:
            current = None
    return records


def is_ours(lines, csrc):
    return any("fastconv" in line or csrc in line for line in lines[1:])


def main(log_dir, repo):
    csrc = str(pathlib.Path(repo).resolve() / "csrc")
    errors, ours, others = [], [], 0
    for path in sorted(pathlib.Path(log_dir).iterdir()):
        text = path.read_text(errors="replace")
        if REPORT.search(text):
            errors.append((path, text))
        for record in leak_records(text):
            if is_ours(record, csrc):
                ours.append((path, record))
            else:
                others += 1
    print(f"sanitizers: {len(errors)} ASan/UBSan report(s), {len(ours)} leak record(s) in fastconv's code, "
          f"{others} leak record(s) of the interpreter and other libraries (ignored)")
    for path, text in errors:
        print(f"--- {path}\n{text}")
    for path, record in ours:
        print(f"--- {path}\n" + "\n".join(record))
    return 1 if errors or ours else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
