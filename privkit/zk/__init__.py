"""privkit.zk: zero-knowledge commitment helpers.

Submodules (import them directly):

- :mod:`privkit.zk.group`: the ristretto255 prime-order group (RFC 9496) in C:
  :class:`~privkit.zk.group.Scalar`, :class:`~privkit.zk.group.Point`,
  :class:`~privkit.zk.group.PointArray` and the multi-scalar multiplications
  :func:`~privkit.zk.group.msm` and :func:`~privkit.zk.group.msm_small`.
- :mod:`privkit.zk.pedersen`, :mod:`privkit.zk.proofs`: Pedersen commitments on that
  group and Sigma proofs about them.
- :mod:`privkit.zk.hashcommit`, :mod:`privkit.zk.merkle`, :mod:`privkit.zk.transcript`:
  hash commitments, Merkle trees and the Fiat-Shamir transcript.
"""
