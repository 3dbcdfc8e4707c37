"""The registry of benchmark suites.

Adding a suite takes two steps:

1. write ``benchmarks/suites/<name>.py`` defining a :class:`benchmarks.core.Suite`
   subclass and a module-level instance ``SUITE`` (import optional or heavy
   dependencies in ``prepare()``, not at module level);
2. add one line ``"<name>": "benchmarks.suites.<name>",`` to :data:`SUITES`.

Modules are imported lazily, so a suite whose module fails to import does not
stop the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from benchmarks.core import Suite

__all__ = ["SUITES", "SuiteEntry", "load_suite"]

#: A registry value: the dotted path of a module defining ``SUITE``, or a suite.
SuiteEntry = str | Suite

#: Suite name -> module (run order of ``python -m benchmarks`` without names).
SUITES: dict[str, SuiteEntry] = {
    "mask": "benchmarks.suites.mask",
    "secagg": "benchmarks.suites.secagg",
    "he": "benchmarks.suites.he",
    "dp": "benchmarks.suites.dp",
    "zk": "benchmarks.suites.zk",
    "e2e": "benchmarks.suites.e2e",
    "ledger": "benchmarks.suites.ledger",
}


def load_suite(name: str, registry: Mapping[str, SuiteEntry] | None = None) -> Suite:
    """Return the suite registered under ``name``.

    Args:
        name: a key of the registry.
        registry: the registry to use (default :data:`SUITES`).

    Returns:
        The suite instance.

    Raises:
        KeyError: no suite has that name.
        ImportError: the suite's module could not be imported.
        TypeError: the module's ``SUITE`` is not a :class:`Suite`.
    """
    entry = (SUITES if registry is None else registry)[name]
    if isinstance(entry, Suite):
        return entry
    suite = getattr(importlib.import_module(entry), "SUITE", None)
    if not isinstance(suite, Suite):
        raise TypeError(f"module {entry!r} must define SUITE, an instance of benchmarks.Suite")
    return suite
