"""Homomorphic-encrypted aggregation: the server adds ciphertexts it cannot read.

:class:`HEScheme` is the base every HE scheme builds on (sessions, dropouts, the
decryption exchange); see docs/he.md for the schemes, their threat model and
which to use when.
"""

from __future__ import annotations

from privkit.he.paillier import Paillier
from privkit.he.session import HEClientSession, HEScheme, HEServerSession
from privkit.he.tenseal_schemes import BFV, CKKS

__all__ = ["BFV", "CKKS", "HEClientSession", "HEScheme", "HEServerSession", "Paillier"]
