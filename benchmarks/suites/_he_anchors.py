"""The anchors of the ``he`` suite: raw TenSEAL (CKKS, BFV) and phe (Paillier).

Each anchor does the work of one privkit HE round, with the library called the
way its documentation shows: every client encrypts its vector and serializes
the ciphertexts (its upload), the server deserializes and adds them and
serializes the encrypted sum, and one key holder deserializes and decrypts it.

* TenSEAL CKKS with its common default parameters: N = 8192, coefficient
  moduli [60, 40, 40, 60] bits, scale 2^40, public-key encryption; the vector
  is cut into chunks of N/2 = 4096 slots, one ``ts.ckks_vector`` each.
* TenSEAL BFV with a common default: N = 8192, plain modulus 1032193 (TenSEAL's
  default coefficient moduli for N = 8192), 8192 slots per ciphertext; floats
  are quantized to integers (scale 2^12) before and rescaled after.
* phe (python-paillier) with gmpy2: one value per ciphertext, the way phe
  encrypts vectors.  It is timed on a sample of values per client (a whole
  1,000,000-value round takes hours); the suite extrapolates linearly.

Imports of tenseal and phe happen in :func:`load`, not at module level.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BFV_PLAIN_MODULUS",
    "BFV_POLY_DEGREE",
    "BFV_SCALE",
    "CKKS_COEFF_BITS",
    "CKKS_POLY_DEGREE",
    "CKKS_SCALE_BITS",
    "PHE_PRECISION",
    "PheKeys",
    "bfv_job",
    "ckks_job",
    "load",
    "phe_bytes_per_value",
    "phe_job",
    "phe_keys",
    "tenseal_bfv_context",
    "tenseal_ckks_context",
    "tenseal_upload_bytes",
]

F64 = npt.NDArray[np.float64]

CKKS_POLY_DEGREE = 8192
CKKS_COEFF_BITS = (60, 40, 40, 60)
CKKS_SCALE_BITS = 40
BFV_POLY_DEGREE = 8192
BFV_PLAIN_MODULUS = 1032193
#: Fixed-point scale of the BFV anchor's quantization (10 clients of [-1, 1]
#: sum to at most 40,960 in absolute value, well inside +-516,096).
BFV_SCALE = 2**12
#: phe encodes every value with this precision, so all ciphertexts share one
#: exponent and adding them never re-encodes.
PHE_PRECISION = 2.0**-24


def load(module: str) -> Any:
    """Import an anchor library (``tenseal`` or ``phe``); ImportError if missing."""
    return importlib.import_module(module)


def _chunks(vector: npt.NDArray[Any], size: int) -> list[npt.NDArray[Any]]:
    return [vector[i : i + size] for i in range(0, len(vector), size)]


# ----------------------------------------------------------------- TenSEAL


def tenseal_ckks_context(ts: Any) -> tuple[Any, Any]:
    """TenSEAL's default CKKS context: (key holder's, server's public copy)."""
    ctx = ts.context(
        ts.SCHEME_TYPE.CKKS, CKKS_POLY_DEGREE, coeff_mod_bit_sizes=list(CKKS_COEFF_BITS)
    )
    ctx.global_scale = 2.0**CKKS_SCALE_BITS
    public = ts.context_from(ctx.serialize(save_secret_key=False))
    return ctx, public


def tenseal_bfv_context(ts: Any) -> tuple[Any, Any]:
    """A common TenSEAL BFV context: (key holder's, server's public copy)."""
    ctx = ts.context(ts.SCHEME_TYPE.BFV, BFV_POLY_DEGREE, BFV_PLAIN_MODULUS)
    public = ts.context_from(ctx.serialize(save_secret_key=False))
    return ctx, public


def _tenseal_round(
    ts: Any,
    contexts: tuple[Any, Any],
    updates: Mapping[int, F64],
    *,
    bfv: bool,
) -> Callable[[], F64]:
    """One round of raw TenSEAL over ``updates`` (see the module docstring)."""
    ctx, public = contexts
    if bfv:
        slots = BFV_POLY_DEGREE
        encrypt: Callable[[Any, Any], Any] = ts.bfv_vector
        load_vector: Callable[[Any, bytes], Any] = ts.bfv_vector_from
    else:
        slots = CKKS_POLY_DEGREE // 2
        encrypt = ts.ckks_vector
        load_vector = ts.ckks_vector_from

    def client(update: F64) -> list[bytes]:
        values: Any = update
        if bfv:
            values = np.rint(update * BFV_SCALE).astype(np.int64)
        return [encrypt(ctx, chunk.tolist()).serialize() for chunk in _chunks(values, slots)]

    def run() -> F64:
        uploads = {cid: client(u) for cid, u in updates.items()}
        total: list[Any] | None = None
        for chunks in uploads.values():
            vectors = [load_vector(public, c) for c in chunks]
            if total is None:
                total = vectors
            else:
                for acc, v in zip(total, vectors, strict=True):
                    acc += v
        assert total is not None
        sums = [t.serialize() for t in total]
        plain = np.concatenate([np.asarray(load_vector(ctx, s).decrypt()) for s in sums])
        result = plain.astype(np.float64)
        return result / BFV_SCALE if bfv else result

    return run


def ckks_job(ts: Any, contexts: tuple[Any, Any], updates: Mapping[int, F64]) -> Callable[[], F64]:
    """Raw TenSEAL CKKS doing one round's work; returns the decrypted sum."""
    return _tenseal_round(ts, contexts, updates, bfv=False)


def bfv_job(ts: Any, contexts: tuple[Any, Any], updates: Mapping[int, F64]) -> Callable[[], F64]:
    """Raw TenSEAL BFV doing one round's work; returns the decrypted sum."""
    return _tenseal_round(ts, contexts, updates, bfv=True)


def tenseal_upload_bytes(ts: Any, contexts: tuple[Any, Any], vector: F64, *, bfv: bool) -> int:
    """Serialized size of one client's raw TenSEAL upload of ``vector``."""
    ctx = contexts[0]
    if bfv:
        ints = np.rint(vector * BFV_SCALE).astype(np.int64)
        sizes = [
            len(ts.bfv_vector(ctx, c.tolist()).serialize()) for c in _chunks(ints, BFV_POLY_DEGREE)
        ]
    else:
        sizes = [
            len(ts.ckks_vector(ctx, c.tolist()).serialize())
            for c in _chunks(vector, CKKS_POLY_DEGREE // 2)
        ]
    return sum(sizes)


# ----------------------------------------------------------------- phe


@dataclass(frozen=True)
class PheKeys:
    """A phe key pair and the module it came from."""

    phe: Any
    public: Any
    private: Any
    n_length: int


def phe_keys(phe: Any, n_length: int) -> PheKeys:
    """Generate a phe key pair of ``n_length`` bits."""
    public, private = phe.paillier.generate_paillier_keypair(n_length=n_length)
    return PheKeys(phe, public, private, n_length)


def _ct_bytes(keys: PheKeys) -> int:
    """Fixed width of one serialized ciphertext: the byte length of n^2."""
    return (int(keys.public.nsquare).bit_length() + 7) // 8


def phe_bytes_per_value(keys: PheKeys) -> int:
    """Upload bytes per value with phe: one ciphertext mod n^2 per value, big-endian."""
    ct = keys.public.encrypt(0.5, precision=PHE_PRECISION)
    width = _ct_bytes(keys)
    return len(int(ct.ciphertext(be_secure=False)).to_bytes(width, "big"))


def phe_job(keys: PheKeys, samples: Mapping[int, Sequence[float]]) -> Callable[[], list[float]]:
    """phe doing a round on ``samples`` (each client's first values); returns the sum.

    Each client encrypts every value (one ciphertext each) and serializes it
    as a fixed-width big-endian integer; the server deserializes and adds them
    element-wise; the key holder decrypts every sum.
    """
    paillier = keys.phe.paillier
    public, private = keys.public, keys.private
    width = _ct_bytes(keys)

    def run() -> list[float]:
        uploads: dict[int, list[tuple[bytes, int]]] = {}
        for cid, values in samples.items():
            upload = []
            for v in values:
                ct = public.encrypt(float(v), precision=PHE_PRECISION)
                raw = int(ct.ciphertext(be_secure=True)).to_bytes(width, "big")
                upload.append((raw, ct.exponent))
            uploads[cid] = upload
        total: list[Any] | None = None
        for upload in uploads.values():
            cts = [
                paillier.EncryptedNumber(public, int.from_bytes(raw, "big"), exp)
                for raw, exp in upload
            ]
            total = cts if total is None else [a + b for a, b in zip(total, cts, strict=True)]
        assert total is not None
        return [float(private.decrypt(t)) for t in total]

    return run
