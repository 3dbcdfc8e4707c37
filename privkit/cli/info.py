"""``privkit info``: versions, the native build and which optional backends are present."""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
import warnings
from typing import IO

__all__ = ["BACKENDS", "collect_info", "print_info"]

#: Optional backends: (import name, distribution name, extra, what it enables).
BACKENDS: tuple[tuple[str, str, str, str], ...] = (
    ("numpy", "numpy", "-", "core"),
    ("cffi", "cffi", "-", "native extension"),
    ("torch", "torch", "torch", "DP-SGD, privkit simulate"),
    ("opacus", "opacus", "torch", "DP-SGD (make_private)"),
    ("tenseal", "tenseal", "he", "CKKS, BFV"),
    ("phe", "phe", "he", "Paillier keys"),
    ("gmpy2", "gmpy2", "he", "Paillier bulk arithmetic"),
    ("flwr", "flwr", "flower", "Flower integration"),
    ("sklearn", "scikit-learn", "-", "privkit simulate data (digits)"),
    ("matplotlib", "matplotlib", "bench", "plots"),
    ("hypothesis", "hypothesis", "testing", "privkit.testing"),
)

_MODULES = (
    ("privkit.aggregation.robust", "robust aggregation (median, trimmed-mean, krum)"),
    ("privkit.integrations.flower", "Flower adapter (--engine flower)"),
)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _importable(name: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # backends' import-time deprecation chatter
            importlib.import_module(name)
    except Exception:
        return False
    return True


def collect_info() -> dict[str, object]:
    """Gather what ``privkit info`` prints.

    Returns:
        A JSON-serialisable dict: ``privkit``, ``python``, ``platform``, ``native``
        (ABI, ISA variants, or the import error), ``backends`` (name -> version or
        None) and ``features`` (privkit modules -> available).

    Raises:
        Nothing: a missing or broken component is reported, not raised.

    Security assumption: none; reads versions only.
    """
    import privkit

    native: dict[str, object]
    try:
        from privkit import _native

        native = {
            "abi": _native.EXPECTED_ABI,
            "isa_available": list(_native.available_isas()),
            "isa_active": _native.active_isa(),
        }
    except Exception as exc:
        native = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    backends: dict[str, object] = {}
    for module, dist, extra, what in BACKENDS:
        version = _version(dist)
        if version is not None and not _importable(module):
            version = None
        backends[module] = {"version": version, "extra": extra, "enables": what}
    return {
        "privkit": getattr(privkit, "__version__", _version("privkit")),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "native": native,
        "backends": backends,
        "features": {name: _importable(name) for name, _ in _MODULES},
    }


def print_info(stream: IO[str]) -> None:
    """Print :func:`collect_info` as aligned text to ``stream``.

    Security assumption: none.
    """
    info = collect_info()
    w = stream.write
    w(f"privkit   {info['privkit']}\n")
    w(f"python    {info['python']} ({info['implementation']}, {info['platform']})\n")
    native = info["native"]
    assert isinstance(native, dict)
    if "error" in native:
        w(f"native    NOT LOADED: {native['error']}\n")
    else:
        isas = ", ".join(str(i) for i in native["isa_available"])
        w(f"native    ABI {native['abi']}, ISA {native['isa_active']} (available: {isas})\n")
    w("backends:\n")
    backends = info["backends"]
    assert isinstance(backends, dict)
    for name, entry in backends.items():
        version = entry["version"] or "missing"
        extra = "" if entry["extra"] == "-" else f" [privkit[{entry['extra']}]]"
        w(f"  {name:<11} {version:<14} {entry['enables']}{extra}\n")
    w("features:\n")
    features = info["features"]
    assert isinstance(features, dict)
    for name, what in _MODULES:
        w(f"  {'yes' if features[name] else 'no ':<4} {what} ({name})\n")
