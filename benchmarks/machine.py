"""What a benchmark result records about the machine it ran on."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "machine_info", "privkit_isa"]

#: SIMD feature flags worth recording (they decide which kernel variant runs).
_SIMD_FLAGS = ("sse4_1", "avx", "avx2", "avx512f", "avx512bw", "avx512vl")


def _cpuinfo_field(text: str, key: str) -> str | None:
    """Return the first value of ``key`` in /proc/cpuinfo text, or None."""
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            return value.strip()
    return None


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """Return the CPU model name and its SIMD flags of interest.

    Args:
        cpuinfo: the file to read (Linux ``/proc/cpuinfo``).

    Returns:
        ``(model, flags)``; the model falls back to :func:`platform.processor`
        (or ``"unknown"``) where /proc/cpuinfo is missing.
    """
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown", []
    model = _cpuinfo_field(text, "model name") or platform.processor() or "unknown"
    flags = (_cpuinfo_field(text, "flags") or "").split()
    return model, [f for f in _SIMD_FLAGS if f in flags]


def _version(dist: str) -> str | None:
    """Return the installed version of a distribution, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def privkit_isa() -> str:
    """Return privkit's active kernel variant, or ``"unavailable: <why>"``."""
    try:
        native = importlib.import_module("privkit._native")
        return str(native.active_isa())
    except Exception as exc:  # not built, or broken: record why, never fail
        return f"unavailable: {type(exc).__name__}: {exc}"


def machine_info() -> dict[str, Any]:
    """Collect machine and software facts for a result file.

    Returns:
        ``cpu_model``, ``cpu_simd_flags``, ``cpu_count`` (logical CPUs),
        ``cpu_usable`` (CPUs this process may run on), ``loadavg`` (1, 5, 15
        minutes, at the start), ``platform``, ``python``, ``numpy``,
        ``cryptography``, ``matplotlib``, ``privkit`` versions (None when not
        installed) and ``privkit_isa``.
    """
    model, flags = cpu_model()
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    privkit_version = _version("privkit")
    if privkit_version is None:
        try:
            privkit_version = str(importlib.import_module("privkit").__version__)
        except Exception:  # privkit from a source tree without metadata
            privkit_version = None
    return {
        "cpu_model": model,
        "cpu_simd_flags": flags,
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "loadavg": load,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": _version("numpy"),
        "cryptography": _version("cryptography"),
        "matplotlib": _version("matplotlib"),
        "privkit": privkit_version,
        "privkit_isa": privkit_isa(),
    }
