"""Import optional heavy backends, turning their absence into a clear error."""

from __future__ import annotations

import importlib
from types import ModuleType

from privkit.errors import BackendUnavailableError

__all__ = ["optional_import", "require"]

# module name -> the privkit extra that installs it
_EXTRAS = {
    "torch": "torch",
    "opacus": "torch",
    "tenseal": "he",
    "phe": "he",
    "gmpy2": "he",
    "flwr": "flower",
    "matplotlib": "bench",
    "hypothesis": "testing",
    "sklearn": "simulate",
    "ray": "flower",
}


def require(module: str, *, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`BackendUnavailableError` naming the extra.

    Args:
        module: the top-level module to import (``"torch"``, ``"tenseal"``, ...).
        feature: what the caller wanted to do, for the error message.

    Returns:
        The imported module.

    Raises:
        BackendUnavailableError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module.split(".")[0], "all")
        raise BackendUnavailableError(
            f"{feature} needs the optional backend {module!r}, which is not installed; "
            f"install it with: pip install 'privkit[{extra}]'"
        ) from exc


def optional_import(module: str) -> ModuleType | None:
    """Return ``module`` if it is importable, else ``None`` (never raises ImportError)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
