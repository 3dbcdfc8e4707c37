"""privkit: privacy-preserving primitives for decentralised and federated AI.

Subpackages (import what you use; heavy optional backends load lazily):

- :mod:`privkit.encoding`: flatten model updates, fixed-point encoding into rings.
- :mod:`privkit.wire`: the versioned, canonical wire format.
- :mod:`privkit.prg`: ChaCha20 keystream and keyed mask expansion (C kernels).
- :mod:`privkit.sharing`: additive (Z_2^32 / Z_2^64) and Shamir t-of-n secret sharing.
- :mod:`privkit.identity`: Ed25519 node identities and rosters of admitted nodes.
- :mod:`privkit.aggregation`: the uniform, transport-free session API and ``run_local``.
- :mod:`privkit.secagg`: SecAgg and SecAgg+ secure aggregation with dropout recovery.
- :mod:`privkit.he`: CKKS, BFV and packed Paillier aggregation under encryption.
- :mod:`privkit.dp`: DP-SGD on Opacus, client-level DP for federated averaging, accounting.
- :mod:`privkit.integrations`: adapters to federated runtimes (Flower's Message API).
- :mod:`privkit.ledger`: the tamper-evident, signed audit log of aggregation rounds.
- :mod:`privkit.zk`: ristretto255, Pedersen and hash commitments, Sigma proofs, Merkle trees.
- :mod:`privkit.testing`: hypothesis strategies and the ``check_scheme`` conformance harness.
- :mod:`privkit.errors`: the exception hierarchy.
"""

from __future__ import annotations

import importlib

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

# Subpackages load on first attribute access (``privkit.prg``), so ``import privkit``
# stays light and never imports optional backends.
_SUBMODULES = frozenset(
    {
        "aggregation",
        "dp",
        "encoding",
        "errors",
        "he",
        "identity",
        "integrations",
        "ledger",
        "prg",
        "secagg",
        "sharing",
        "testing",
        "wire",
        "zk",
    }
)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"privkit.{name}")
    raise AttributeError(f"module 'privkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})


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
