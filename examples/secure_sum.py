"""A secure sum with pairwise masks: the server learns the total and nothing else.

Run:  make demo   (or: python examples/secure_sum.py once privkit is installed)

Each pair of clients agrees on a secret seed by X25519 key agreement and
HKDF-SHA256 (from `cryptography`).  Every client encodes its update in fixed
point (privkit.encoding.FixedPoint), then adds the ChaCha20 mask of each pair
seed, with sign +1 towards higher ids and -1 towards lower ids
(privkit.prg.mask_add, the C kernel).  A masked update is indistinguishable
from uniform noise, but when the server adds all of them every mask meets its
negation and cancels mod 2^32, leaving the exact fixed-point sum.

This is the core of the Bonawitz et al. secure aggregation protocol *without*
its dropout recovery: if one client vanished after the key exchange, its masks
would not cancel.  The full SecAgg / SecAgg+ protocol (dropout recovery with
Shamir-shared keys, double masking) is privkit.secagg.
"""

from __future__ import annotations

import time

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from privkit import prg
from privkit.encoding import FixedPoint

N_CLIENTS = 8
LENGTH = 1_000_000  # parameters per model update
ROUND_ID = b"round-0001"


def pair_seed(own: X25519PrivateKey, peer_public: bytes, a: int, b: int) -> bytes:
    """32-byte seed shared by clients a < b: HKDF over their X25519 shared secret."""
    shared = own.exchange(X25519PublicKey.from_public_bytes(peer_public))
    info = b"privkit/example/pairwise-mask/v1|" + ROUND_ID + f"|{a}|{b}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def main() -> None:
    rng = np.random.default_rng(7)  # the *updates* are demo data; no secret comes from numpy
    updates = {cid: rng.normal(0.0, 0.05, LENGTH) for cid in range(N_CLIENTS)}
    codec = FixedPoint.for_sum(n_summands=N_CLIENTS, clip=1.0, bits=32)
    print(f"{N_CLIENTS} clients, {LENGTH:,} parameters each; {codec!r}")

    # Round 1: every client publishes an X25519 public key (relayed by the server).
    keys = {cid: X25519PrivateKey.generate() for cid in updates}
    public = {
        cid: key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        for cid, key in keys.items()
    }

    # Round 2: every client masks its encoded update and uploads it.
    masked: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    for cid, update in updates.items():
        peers = [p for p in updates if p != cid]
        seeds = [pair_seed(keys[cid], public[p], min(cid, p), max(cid, p)) for p in peers]
        signs = [1 if p > cid else -1 for p in peers]
        vector = codec.encode(update)
        prg.mask_add(vector, seeds, signs)
        masked[cid] = vector
    mask_seconds = (time.perf_counter() - start) / N_CLIENTS

    # The server sees only masked vectors; each looks uniform on its own.
    sample = masked[0].astype(np.float64) / 2**32
    print(
        f"client 0's upload: mean {sample.mean():.3f}, std {sample.std():.3f} "
        "(uniform: 0.500, 0.289)"
    )

    # Server: sum mod 2^32; the masks cancel pairwise.
    total = np.zeros(LENGTH, dtype=codec.dtype)
    for vector in masked.values():
        total += vector
    aggregate = codec.decode(total, n_summands=N_CLIENTS)

    exact = np.sum([np.clip(u, -codec.clip, codec.clip) for u in updates.values()], axis=0)
    error = float(np.max(np.abs(aggregate - exact)))
    print(f"masking: {mask_seconds * 1000:.1f} ms per client ({N_CLIENTS - 1} pair masks each)")
    print(
        f"max |secure sum - exact sum| = {error:.2e} "
        f"(fixed-point bound {codec.max_error(N_CLIENTS):.2e})"
    )
    if error > codec.max_error(N_CLIENTS):
        raise SystemExit("secure sum is wrong")
    print("secure sum OK: the server learned the sum and nothing else")


if __name__ == "__main__":
    main()
