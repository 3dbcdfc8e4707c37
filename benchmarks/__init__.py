"""privkit benchmark suites: privkit timed beside its anchors, in one process.

Run them with ``python -m benchmarks [SUITE ...] [--quick] [--out DIR]``; see
``docs/benchmarks.md``.  The package is a development tool, not part of the
installed ``privkit`` distribution.

The pieces:

* :mod:`benchmarks.core`: the :class:`~benchmarks.core.Suite` interface a suite
  implements, and :func:`~benchmarks.core.run_suite`, which times every
  implementation of every case, interleaved, and returns a JSON-ready result.
* :mod:`benchmarks.report`: renders a result to JSON, Markdown and a PNG plot.
* :mod:`benchmarks.machine`: what the result records about the machine.
* :mod:`benchmarks.suites`: the registry of suites by name.
* :mod:`benchmarks.cli`: the command line (``python -m benchmarks``).
"""

from __future__ import annotations

from benchmarks.core import (
    Case,
    Check,
    Suite,
    SuiteUnavailableError,
    Target,
    evaluate_targets,
    run_suite,
    summarize,
)

__all__ = [
    "Case",
    "Check",
    "Suite",
    "SuiteUnavailableError",
    "Target",
    "evaluate_targets",
    "run_suite",
    "summarize",
]
