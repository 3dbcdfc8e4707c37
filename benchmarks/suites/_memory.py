"""Peak memory of one call, for suites that report memory beside time.

On Linux the peak resident set size of the process (``VmHWM``) can be reset
to the current size by writing ``5`` to ``/proc/self/clear_refs`` (Linux >=
4.0).  :func:`measure_peak` collects garbage, asks glibc to return free heap
pages to the system (``malloc_trim``, so that the call's allocations show up
as new resident pages instead of reusing pages that were already counted),
resets the peak, runs the call and reports ``VmHWM - VmRSS before``: the most
memory the call held at once, native buffers, numpy arrays and C libraries
included.  It slows nothing down.

Where the reset is impossible it falls back to :mod:`tracemalloc` (Python and
numpy allocations only, and it slows allocation-heavy Python code down), and
says which method it used.

The suites measure the untimed warm-up call (:func:`probe_first_call`), so
the timed rounds never pay for the measurement.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.core import Job, OneShot

__all__ = ["measure_peak", "probe_first_call", "probe_job", "probe_jobs"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``), or None."""
    try:
        text = _STATUS.read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return None


def _reset_peak() -> bool:
    """Reset the process's peak RSS to its current RSS; False where impossible."""
    try:
        with _CLEAR_REFS.open("w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None and _status_kib("VmRSS") is not None


def _malloc_trim() -> None:
    """Return free heap memory to the system (glibc only; a no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)


def measure_peak(fn: Callable[[], object]) -> tuple[object, dict[str, Any]]:
    """Call ``fn`` once and measure the most memory it held at once.

    Args:
        fn: the call.

    Returns:
        ``fn``'s result and ``{"method": "rss", "peak_bytes": ...,
        "rss_before_bytes": ...}`` (peak resident growth during the call) or,
        without a resettable peak, ``{"method": "tracemalloc", "peak_bytes":
        ...}`` (peak of traced allocations during the call).
    """
    gc.collect()
    _malloc_trim()
    if _reset_peak():
        before = _status_kib("VmRSS") or 0
        result = fn()
        peak = _status_kib("VmHWM") or before
        return result, {
            "method": "rss",
            "peak_bytes": max(0, peak - before) * 1024,
            "rss_before_bytes": before * 1024,
        }
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, {"method": "tracemalloc", "peak_bytes": max(0, peak - start)}


def probe_first_call(
    fn: Callable[[], object],
    record: Callable[[object, dict[str, Any]], None],
) -> Callable[[], object]:
    """Wrap ``fn`` so that its first call (the runner's untimed warm-up) is measured.

    Later calls go straight through (one extra Python call, nanoseconds).

    Args:
        fn: the job.
        record: receives the first call's result and its :func:`measure_peak`
            facts.

    Returns:
        The wrapped job.
    """
    measured = False

    def run() -> object:
        nonlocal measured
        if measured:
            return fn()
        measured = True
        result, memory = measure_peak(fn)
        record(result, memory)
        return result

    return run


def probe_job(job: Job, record: Callable[[object, dict[str, Any]], None]) -> Job:
    """Measure the first call of ``job`` (the runner's warm-up) with :func:`probe_first_call`.

    A :class:`~benchmarks.core.OneShot` job is probed on the callable its first
    ``prepare()`` returns; later calls run unprobed, so timing is unaffected.
    """
    if not isinstance(job, OneShot):
        return probe_first_call(job, record)
    prepare = job.prepare
    first = True

    def prepare_probed() -> Callable[[], object]:
        nonlocal first
        fn = prepare()
        if first:
            first = False
            return probe_first_call(fn, record)
        return fn

    return OneShot(prepare_probed)


def probe_jobs(
    jobs: Mapping[str, Job],
    info: dict[str, Any],
    inspect: Mapping[str, Callable[[object], None]],
) -> dict[str, Job]:
    """Probe every job's warm-up: peak memory into ``info``, the result to ``inspect``.

    Args:
        jobs: implementation name -> job.
        info: the case's info; ``info["peak_memory_bytes"][name]`` and
            ``info["memory_method"]`` are filled in.
        inspect: optional per-implementation callbacks that look at the warm-up's
            result (upload sizes, errors), by name.

    Returns:
        The wrapped jobs, by name.
    """
    peaks = info.setdefault("peak_memory_bytes", {})

    def recorder(name: str) -> Callable[[object, dict[str, Any]], None]:
        look = inspect.get(name)

        def record(result: object, memory: dict[str, Any]) -> None:
            peaks[name] = memory["peak_bytes"]
            info["memory_method"] = memory["method"]
            if look is not None:
                look(result)

        return record

    return {name: probe_job(job, recorder(name)) for name, job in jobs.items()}
