"""privkit.zk: zero-knowledge commitment helpers.

- :mod:`privkit.zk.group`: the ristretto255 prime-order group (RFC 9496) in C:
  :class:`Scalar`, :class:`Point`, :class:`PointArray` and the multi-scalar
  multiplications :func:`msm` and :func:`msm_small` (variable time).
- :mod:`privkit.zk.pedersen`: Pedersen vector commitments on that group (generators by
  hash-to-group, homomorphic, commitments to fixed-point model updates).
- :mod:`privkit.zk.proofs`: Sigma proofs (knowledge of an opening, equality of committed
  values), made non-interactive with :class:`Transcript`.
- :mod:`privkit.zk.verifiable`: verifiable secure aggregation: anyone checks that the
  published aggregate (and summed blinding) opens the sum of the clients' commitments.
- :mod:`privkit.zk.hashcommit`: salted, domain-separated hash commitments.
- :mod:`privkit.zk.merkle`: RFC 6962 / 9162 Merkle trees and inclusion proofs.
- :mod:`privkit.zk.transcript`: the Fiat-Shamir transcript.

``commit`` and ``verify`` exist in both :mod:`~privkit.zk.pedersen` and
:mod:`~privkit.zk.hashcommit`, so they are not re-exported here: call them through their
module (``pedersen.commit``, ``hashcommit.commit``).  See docs/zk-commitments.md and
docs/zk-group.md.
"""

from __future__ import annotations

from privkit.zk import group, hashcommit, merkle, pedersen, proofs, transcript, verifiable
from privkit.zk.group import ORDER, Point, PointArray, Scalar, msm, msm_small
from privkit.zk.merkle import InclusionProof, MerkleTree, verify_inclusion
from privkit.zk.pedersen import Commitment, Generators, Opening
from privkit.zk.proofs import EqualityProof, OpeningProof
from privkit.zk.transcript import Transcript
from privkit.zk.verifiable import (
    AggregateClaim,
    ClientCommitment,
    commit_client_update,
    make_claim,
    verify_aggregate,
)

__all__ = [
    "ORDER",
    "AggregateClaim",
    "ClientCommitment",
    "Commitment",
    "EqualityProof",
    "Generators",
    "InclusionProof",
    "MerkleTree",
    "Opening",
    "OpeningProof",
    "Point",
    "PointArray",
    "Scalar",
    "Transcript",
    "commit_client_update",
    "group",
    "hashcommit",
    "make_claim",
    "merkle",
    "msm",
    "msm_small",
    "pedersen",
    "proofs",
    "transcript",
    "verifiable",
    "verify_aggregate",
    "verify_inclusion",
]
