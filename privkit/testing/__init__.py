"""privkit.testing: property-test aggregation schemes, privkit's own and yours.

- :func:`check_scheme` runs the conformance harness: hypothesis property tests of the
  session contract (sums, dropouts, wire round trips, hostile messages).
- :mod:`privkit.testing.strategies` holds the hypothesis strategies it is built from
  (client ids, update vectors and arrays, dropout schedules).

hypothesis is optional (``pip install 'privkit[testing]'``): this package imports
without it, and using it then raises :class:`~privkit.errors.BackendUnavailableError`.
See ``docs/testing.md``.

Security assumption: none; test tooling only.
"""

from __future__ import annotations

from privkit.testing import strategies
from privkit.testing.conformance import check_scheme

__all__ = ["check_scheme", "strategies"]
