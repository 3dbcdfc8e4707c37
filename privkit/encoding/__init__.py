"""Encoding of model updates: flat float64 vectors and fixed-point ring elements.

- :func:`flatten` / :func:`unflatten` turn an update (numpy array, torch tensor,
  ``state_dict`` or other mapping, list / tuple) into a 1-D float64 vector and back,
  exactly, with an :class:`UpdateSpec` recording names, shapes, dtypes and devices.
- :class:`FixedPoint` encodes floats into Z_2^bits so that ring sums of encodings decode
  to sums of the (clipped) values, and says how many summands fit without wrapping.

torch is optional and never imported when this package is imported.  See
``docs/encoding.md`` for the specification.
"""

from __future__ import annotations

from privkit.encoding.fixedpoint import FixedPoint
from privkit.encoding.flatten import EntrySpec, UpdateSpec, flatten, unflatten

__all__ = ["EntrySpec", "FixedPoint", "UpdateSpec", "flatten", "unflatten"]
