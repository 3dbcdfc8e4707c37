"""The documented JSON layout of a benchmark result row (docs/benchmarks.md), for the tests."""

from __future__ import annotations

ROW_KEYS = frozenset(
    {
        "implementation",
        "times_s",
        "median_s",
        "min_s",
        "max_s",
        "mean_s",
        "q1_s",
        "q3_s",
        "iqr_s",
        "throughput_per_s",
        "ratio",
    }
)
