"""The fuzz run's figure: how many inputs each function was called with and what they did,
printed in pytest's terminal summary."""

from __future__ import annotations

import json
import os

OUTCOMES = ("checked", "returned", "TypeError", "ValueError", "MemoryError", "OverflowError", "failed")
PLUGIN_NAME = "fastconv-fuzz-summary"
# If set, the counts are also written (as JSON) to this file every CHECKPOINT_EVERY calls and
# at the end, so a run that a crash or the hang watchdog ends still leaves its figure.
COUNTS_FILE_ENV = "FASTCONV_FUZZ_COUNTS_FILE"
CHECKPOINT_EVERY = 100


class FuzzSummary:
    """A pytest plugin; ``counts`` maps a function name to a Counter of outcomes."""

    def __init__(self, counts):
        self.counts = counts

    def pytest_terminal_summary(self, terminalreporter):
        if not self.counts:
            return
        save(self.counts)
        write = terminalreporter.write_line
        terminalreporter.section("fuzz inputs")
        write("checked: returned and matched the reference; returned: no reference run (too costly)")
        write(f"{'function':<22}" + "".join(f"{o:>14}" for o in OUTCOMES) + f"{'total':>14}")
        totals = dict.fromkeys(OUTCOMES, 0)
        for name in sorted(self.counts):
            row = self.counts[name]
            for o in OUTCOMES:
                totals[o] += row[o]
            write(f"{name:<22}" + "".join(f"{row[o]:>14,}" for o in OUTCOMES) + f"{sum(row.values()):>14,}")
        write(f"{'all':<22}" + "".join(f"{totals[o]:>14,}" for o in OUTCOMES) + f"{sum(totals.values()):>14,}")
        write(f"fuzz inputs tried: {sum(totals.values()):,}")


def register(config, counts):
    """Add the summary to this pytest run (once)."""
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(FuzzSummary(counts), PLUGIN_NAME)


def save(counts):
    path = os.environ.get(COUNTS_FILE_ENV)
    if not path:
        return
    table = {name: dict(row) for name, row in sorted(counts.items())}
    total = sum(sum(row.values()) for row in table.values())
    with open(path + ".tmp", "w") as f:
        json.dump({"total": total, "counts": table}, f, indent=1)
    os.replace(path + ".tmp", path)


def checkpoint(counts, calls):
    """Called after every fuzzed call with the number of calls so far."""
    if calls % CHECKPOINT_EVERY == 0:
        save(counts)
