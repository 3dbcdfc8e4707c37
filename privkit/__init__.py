"""privkit: privacy-preserving primitives for decentralised and federated AI.

Subpackages (import what you use; heavy optional backends load lazily):

- :mod:`privkit.encoding`: flatten model updates, fixed-point encoding into rings.
- :mod:`privkit.wire`: the versioned, canonical wire format.
- :mod:`privkit.prg`: ChaCha20 keystream and keyed mask expansion (C kernels).
- :mod:`privkit.aggregation`: the uniform, transport-free session API and ``run_local``.
- :mod:`privkit.testing`: hypothesis strategies and the ``check_scheme`` conformance harness.
- :mod:`privkit.errors`: the exception hierarchy.
"""

from __future__ import annotations

from privkit.errors import (
    BackendUnavailableError,
    DecodeError,
    NativeError,
    ParameterError,
    PrivacyBudgetExceededError,
    PrivkitError,
    ProtocolError,
    VerificationError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BackendUnavailableError",
    "DecodeError",
    "NativeError",
    "ParameterError",
    "PrivacyBudgetExceededError",
    "PrivkitError",
    "ProtocolError",
    "VerificationError",
    "__version__",
]
