"""privkit.sharing: secret sharing for secure multiparty sums.

- :mod:`privkit.sharing.additive`: additive sharing over Z_2^32 / Z_2^64
  (``split(x, n)`` / ``combine(shares)``); all n shares are needed.
- :mod:`privkit.sharing.shamir`: Shamir t-of-n sharing over GF(2^61 - 1), of
  byte strings or field-element vectors, with vectorised C field arithmetic,
  batched ``split_many`` / ``combine_many`` and consistency checking.

Randomness comes from :mod:`privkit.prg` (ChaCha20 keyed from the OS CSPRNG).
Neither scheme authenticates shares.  See ``docs/sharing.md``.
"""

from __future__ import annotations

from privkit.sharing import additive, shamir

__all__ = ["additive", "shamir"]
