"""The long fuzz run: every test of tests/test_fuzz.py in its own pytest process (``--jobs``
at a time), so that a crash or a hang (which ends its process) costs only that test; then the
inputs tried, summed from each process's counts file.

    python tools/fuzz_long_run.py --examples 11000 --target-inputs 1000000 --jobs 2 --out /tmp/fuzz_long

Each test's output goes to OUT/<test>.log, its counts to OUT/<test>.json, the call running
at a crash to OUT/<test>.last_call; a line per test and the totals to stdout and
OUT/summary.txt.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")


def test_ids(keyword=None):
    """The fuzz tests' ids, those pytest's -k ``keyword`` selects if given."""
    select = ["-k", keyword] if keyword else []
    listing = subprocess.run([sys.executable, "-m", "pytest", os.path.join(TESTS, "test_fuzz.py"), "--collect-only",
                              "-q", "-p", "no:cacheprovider", *select], cwd=ROOT, capture_output=True, text=True,
                             check=True)
    return [line for line in listing.stdout.splitlines() if "::" in line]


def outcome(returncode, log_path):
    if returncode == 0:
        return "passed"
    with open(log_path, errors="replace") as log:
        if "fuzz watchdog:" in log.read():
            return "hung (ended by the watchdog)"
    if returncode == 1:
        return "failed"
    if returncode < 0 or returncode > 128:
        return f"crashed (signal {-returncode if returncode < 0 else returncode - 128})"
    return f"exit {returncode}"


def run_test(test, examples, out):
    """One test in its own process: (its line for the summary, the inputs it tried)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test.split("::", 1)[1])
    files = {ext: os.path.join(out, f"{name}.{ext}") for ext in ("log", "json", "last_call")}
    env = dict(os.environ, FASTCONV_FUZZ_EXAMPLES=str(examples), FASTCONV_FUZZ_COUNTS_FILE=files["json"],
               FASTCONV_FUZZ_LAST_CALL=files["last_call"])
    began = time.time()
    with open(files["log"], "w") as log:
        code = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "pytest", test, "-p", "no:cacheprovider",
                               "-q", "--hypothesis-show-statistics"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT).returncode
    inputs = 0
    if os.path.exists(files["json"]):
        with open(files["json"]) as f:
            inputs = json.load(f)["total"]
    return f"{test:<60} {inputs:>10,} inputs {time.time() - began:>8.0f} s  {outcome(code, files['log'])}", inputs


def run_pass(examples, out, jobs, lines, keyword=None):
    """Every (selected) test once, each in its own process; returns the inputs tried."""
    os.makedirs(out, exist_ok=True)
    total = 0
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for line, inputs in pool.map(lambda test: run_test(test, examples, out), test_ids(keyword)):
            total += inputs
            lines.append(line)
            print(line, flush=True)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=50000, help="FASTCONV_FUZZ_EXAMPLES per test")
    parser.add_argument("--target-inputs", type=int, default=0,
                        help="repeat the pass (OUT/pass2, ...) until this many inputs in all (tests that crash, "
                             "hang or fail stop early, so one pass may fall short)")
    parser.add_argument("--jobs", type=int, default=1, help="tests run at once, each in its own process")
    parser.add_argument("--out", default="/tmp/fuzz_long")
    parser.add_argument("-k", dest="keyword", default=None,
                        help="only the tests this pytest -k expression selects (a top-up run after a fix)")
    args = parser.parse_args()
    start = time.time()
    lines = []
    total = 0
    passes = 0
    while passes == 0 or total < args.target_inputs:
        passes += 1
        out = args.out if passes == 1 else os.path.join(args.out, f"pass{passes}")
        total += run_pass(args.examples, out, args.jobs, lines, args.keyword)
        lines.append(f"after pass {passes}: {total:,} inputs in {time.time() - start:,.0f} s")
        print(lines[-1], flush=True)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
