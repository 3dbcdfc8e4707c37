"""CKKS and BFV aggregation on TenSEAL (the ``he`` extra).

Both schemes only *add* ciphertexts, so their parameter profiles use the shortest
modulus chains SEAL accepts (two primes: one data prime plus the special prime SEAL
keeps for key switching).  Ciphertexts travel at the data level, so every value costs
``2 * 8 * N / slots`` bytes before TenSEAL's zstd compression.

Profiles (security under the homomorphicencryption.org standard, classical,
ternary secrets: N=4096 allows log2 q <= 109, N=8192 <= 218, N=16384 <= 438 bits
for 128-bit security; bytes per value measured with TenSEAL 0.3.18):

==============  =====  ============  ========  =====  ========  =====  =========  =========
profile         N      moduli        scale     log q  security  B/val  err (sym)  err (pk)
==============  =====  ============  ========  =====  ========  =====  =========  =========
ckks-4096       4096   [60, 49]      2^40      109    128 bit   32.1   4.7e-10    4.4e-09
ckks-8192       8192   [60, 60]      2^40      120    128 bit   32.0   6.4e-10    7.2e-09
ckks-16384      16384  [60, 60]      2^40      120    128 bit   32.0   9.6e-10    1.4e-08
bfv-4096        4096   [60, 49]      t (auto)  109    128 bit   16.0   exact      exact
bfv-8192        8192   [60, 60]      t (auto)  120    128 bit   16.0   exact      exact
bfv-8192-wide   8192   [60, 60, 60]  t (auto)  180    128 bit   32.0   exact      exact
==============  =====  ============  ========  =====  ========  =====  =========  =========

B/val: bytes per value of a full chunk (N/2 values for CKKS, N for BFV; a partial
last chunk costs as much as a full one).  err: the largest decryption error of one
fresh ciphertext of values in [-1, 1] (symmetric / public-key encryption); BFV is
exact on its fixed-point grid (default 2^-16, so rounding is at most 2^-17 per value).
(TenSEAL's common CKKS default, N=8192 with [60, 40, 40, 60], costs 81 bytes/value.)

CKKS error (see :meth:`CKKS.tolerance`): a fresh ciphertext decrypts within
``e = 64 * sqrt(N) / scale`` (symmetric) or ``e = 8 * N / scale`` (public key) of its
input per value; both are at least 5x the largest error measured over 30 full
ciphertexts per profile (symmetric: about 10 * sqrt(N) / scale; public key about
0.3 to 1.2 * N / scale).  A sum of n ciphertexts is within ``n * e`` (errors add), plus
``n * bound * 2^-40`` for double-precision decoding.

BFV is exact on its fixed-point encoding: values are clipped to ``clip``, scaled by
``2^frac_bits`` and rounded, so the error of a sum of n values is at most
``n * 2^-(frac_bits + 1)``.  The plaintext modulus t is the smallest batching prime
(t = 1 mod 2N) above ``2 * max_clients * qmax + 1`` so a sum can never wrap; setup
refuses a configuration whose t does not fit the profile's noise budget (measured
fresh budget >= log2 q_data - log2 t - 8 bits; each doubling of the summands costs one
bit; privkit keeps 4 bits spare).

Key management: :meth:`CKKS.generate` / :meth:`BFV.generate` make a key holder;
:meth:`public` a copy without the secret key for the aggregation server (and, in
public-key mode, for contributors).  With ``symmetric=True`` (the default) every
contributor holds the secret key and encrypts with it (TenSEAL's symmetric mode: about
2.2x faster and 10x less noise), and the server gets a context holding parameters only.
``params()`` includes a ``key_id`` (16 bytes of a domain-separated SHA-256 over the
context serialized without its secret key, with the key-dependent public and
relinearization keys, at generation), so messages made under another key are refused
at the envelope.  The key id travels in :meth:`to_bytes` and is not recomputed on
load (a symmetric-mode server context holds no key material to recompute it from).
A ciphertext under another key with identical parameters cannot be
recognised by :meth:`parse_upload` (it deserializes and adds like any other; it would
decrypt to noise); the key id in the fingerprint is what catches it.

Threat model: as :mod:`privkit.he.session`.  In symmetric mode every contributor can
decrypt every other contributor's upload if it sees it: the server must not forward
uploads.  Limitation: a chunk's size is bounded before TenSEAL parses it, but SEAL's
zstd decompression is trusted not to expand a hostile chunk far beyond its header.
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

import numpy as np
import numpy.typing as npt

from privkit._backends import require
from privkit.aggregation.api import ClientId, check_client_ids
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.he.session import HEScheme, HEServerSession
from privkit.wire import Value, decode_value, encode_value

__all__ = ["BFV", "CKKS", "PROFILES", "Profile", "batching_prime"]

_FORMAT: Final = "privkit.he.tenseal.key.v1"
_KEY_ID_DOMAIN: Final = b"privkit.he.tenseal.key_id.v1\x00"
_FEATURE: Final = "CKKS/BFV aggregation"
_NOISE_SPARE_BITS: Final = 4
_FRESH_NOISE_BITS: Final = 8
_T = TypeVar("_T")


@dataclass(frozen=True)
class Profile:
    """A TenSEAL parameter set for addition-only aggregation."""

    name: str
    scheme: str  # "ckks" or "bfv"
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int  # CKKS only (0 for BFV)
    security_bits: int

    @property
    def log_q(self) -> int:
        return sum(self.coeff_mod_bit_sizes)

    @property
    def data_bits(self) -> int:
        """Bits of the data-level modulus (every prime but SEAL's special prime)."""
        return sum(self.coeff_mod_bit_sizes[:-1])

    @property
    def slots(self) -> int:
        n = self.poly_modulus_degree
        return n // 2 if self.scheme == "ckks" else n

    @property
    def max_chunk_bytes(self) -> int:
        """A bound on one serialized ciphertext (uncompressed size plus headers)."""
        primes = len(self.coeff_mod_bit_sizes) - 1
        return 2 * 8 * self.poly_modulus_degree * primes + 4096


PROFILES: Final[dict[str, Profile]] = {
    p.name: p
    for p in (
        Profile("ckks-4096", "ckks", 4096, (60, 49), 40, 128),
        Profile("ckks-8192", "ckks", 8192, (60, 60), 40, 128),
        Profile("ckks-16384", "ckks", 16384, (60, 60), 40, 128),
        Profile("bfv-4096", "bfv", 4096, (60, 49), 0, 128),
        Profile("bfv-8192", "bfv", 8192, (60, 60), 0, 128),
        Profile("bfv-8192-wide", "bfv", 8192, (60, 60, 60), 0, 128),
    )
}


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _guarded(fn: Callable[[], _T], what: str, err: type[Exception] = DecodeError) -> _T:
    """Run a TenSEAL call quietly; any exception becomes ``err`` (never a crash)."""
    try:
        with _quiet():
            return fn()
    except (DecodeError, ProtocolError, ParameterError):
        raise
    except Exception as exc:
        raise err(f"{what}: {type(exc).__name__}: {exc}") from None


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3.3e24 (bases: the first 13 primes)."""
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    if n < 2:
        return False
    for p in small:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def batching_prime(minimum: int, poly_modulus_degree: int) -> int:
    """The smallest prime t >= minimum with t = 1 mod 2N (SEAL's batching condition)."""
    step = 2 * poly_modulus_degree
    k = max(1, -(-(minimum - 1) // step))
    while not _is_prime(k * step + 1):
        k += 1
    return k * step + 1


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
    return value


def _check_profile(profile: object, scheme: str) -> Profile:
    p = PROFILES.get(profile) if isinstance(profile, str) else None
    if p is None or p.scheme != scheme:
        names = sorted(k for k, v in PROFILES.items() if v.scheme == scheme)
        raise ParameterError(f"profile must be one of {names}, got {profile!r}")
    return p


class _TenSEALScheme(HEScheme):
    """Shared key handling, chunking and parsing of CKKS and BFV."""

    _kind: ClassVar[str]

    def __init__(self, config: dict[str, Any], context: Any, key_id: bytes) -> None:
        """Internal: use ``generate``, ``public`` or ``from_bytes``."""
        super().__init__(
            weighted=config["weighted"],
            max_weight=config["max_weight"],
            mean=config["mean"],
            decryptors=config["decryptors"],
        )
        self._config = dict(config)
        self._profile = _check_profile(config["profile"], self._kind)
        self._symmetric = bool(config["symmetric"])
        self._max_clients = int(config["max_clients"])
        self._ctx = context
        self._key_id = bytes(key_id)
        self._private = bool(_guarded(context.is_private, "context"))

    # -------------------------------------------------------------- keys

    @classmethod
    def _new(cls: type[_S], config: dict[str, Any]) -> _S:
        ts = require("tenseal", feature=_FEATURE)
        prof = _check_profile(config["profile"], cls._kind)
        enc = ts.ENCRYPTION_TYPE.SYMMETRIC if config["symmetric"] else ts.ENCRYPTION_TYPE.ASYMMETRIC
        kind = ts.SCHEME_TYPE.CKKS if cls._kind == "ckks" else ts.SCHEME_TYPE.BFV
        extra = {} if cls._kind == "ckks" else {"plain_modulus": cls._plain_modulus(config)}
        ctx = _guarded(
            lambda: ts.context(
                kind,
                poly_modulus_degree=prof.poly_modulus_degree,
                coeff_mod_bit_sizes=list(prof.coeff_mod_bit_sizes),
                encryption_type=enc,
                **extra,
            ),
            "TenSEAL refused the parameters",
            ParameterError,
        )
        if cls._kind == "ckks":
            ctx.global_scale = 2.0**prof.scale_bits
        public = _public_bytes(ctx, symmetric=bool(config["symmetric"]), secret=False, keys=True)
        key_id = hashlib.sha256(_KEY_ID_DOMAIN + public).digest()[:16]
        return cls(config, ctx, key_id)

    @classmethod
    def _plain_modulus(cls, config: dict[str, Any]) -> int:
        raise NotImplementedError

    def public(self: _S) -> _S:
        """A copy holding no secret key: for the server (and public-key contributors)."""
        return type(self).from_bytes(self.to_bytes(include_secret=False))

    def to_bytes(self, *, include_secret: bool = False) -> bytes:
        """Serialize the keys and configuration (the secret key only when asked).

        Raises:
            ParameterError: ``include_secret`` on a copy that holds no secret key.
        """
        if include_secret and not self._private:
            raise ParameterError("this copy holds no secret key to include")
        ctx_bytes = _public_bytes(
            self._ctx, symmetric=self._symmetric, secret=include_secret, keys=False
        )
        return encode_value(
            {
                "format": _FORMAT,
                "scheme": type(self).name,
                "config": self._config,
                "key_id": self._key_id,
                "secret": include_secret,
                "context": ctx_bytes,
            }
        )

    @classmethod
    def from_bytes(cls: type[_S], data: bytes) -> _S:
        """Load keys written by :meth:`to_bytes`.

        Raises:
            DecodeError: malformed input, another scheme, or a context that does not
                match its configuration.
        """
        ts = require("tenseal", feature=_FEATURE)
        obj = decode_value(data)
        want = {"format", "scheme", "config", "key_id", "secret", "context"}
        if not isinstance(obj, dict) or set(obj) != want:
            raise DecodeError("not a privkit TenSEAL key")
        if obj["format"] != _FORMAT or obj["scheme"] != cls.name:
            raise DecodeError(f"not a {cls.name} key")
        cfg, key_id, secret, raw = obj["config"], obj["key_id"], obj["secret"], obj["context"]
        if (
            not isinstance(cfg, dict)
            or not isinstance(key_id, bytes)
            or len(key_id) != 16
            or not isinstance(secret, bool)
            or not isinstance(raw, bytes)
        ):
            raise DecodeError("malformed TenSEAL key")
        try:
            config = cls._validate(**cfg)
        except (ParameterError, TypeError) as exc:
            raise DecodeError(f"invalid configuration in the key: {exc}") from None
        prof = _check_profile(config["profile"], cls._kind)
        ctx = _guarded(lambda: ts.context_from(raw), "malformed TenSEAL context")
        _check_context(ctx, prof, secret, cls._kind, config)
        if cls._kind == "ckks":
            ctx.global_scale = 2.0**prof.scale_bits
        return cls(config, ctx, key_id)

    @classmethod
    def _validate(cls, **config: Any) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def can_decrypt(self) -> bool:
        return self._private

    @property
    def symmetric(self) -> bool:
        return self._symmetric

    @property
    def profile(self) -> Profile:
        return self._profile

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def context(self) -> Any:
        """The TenSEAL context (hazardous: holds the secret key on a key holder)."""
        return self._ctx

    def params(self) -> dict[str, Value]:
        p = self._profile
        return {
            **self._round_params(),
            "profile": p.name,
            "poly_modulus_degree": p.poly_modulus_degree,
            "coeff_mod_bit_sizes": list[Value](p.coeff_mod_bit_sizes),
            "symmetric": self._symmetric,
            "max_clients": self._max_clients,
            "key_id": self._key_id,
            **self._scheme_params(),
        }

    def _scheme_params(self) -> dict[str, Value]:
        raise NotImplementedError

    # -------------------------------------------------------------- HEScheme

    def _encode(self, values: npt.NDArray[np.float64]) -> Any:
        raise NotImplementedError

    def _load(self, chunk: bytes) -> Any:
        raise NotImplementedError

    def _decode(self, decrypted: list[Any]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def encrypt(self, vector: npt.NDArray[np.float64]) -> list[bytes]:
        if self._symmetric and not self._private:
            raise ParameterError(
                "symmetric mode: only holders of the secret key encrypt; build contributors "
                "from the key holder's scheme, or generate with symmetric=False"
            )
        v = np.asarray(vector, dtype=np.float64).ravel()
        if not np.all(np.isfinite(v)):
            raise ParameterError("the update holds NaN or infinite values")
        slots = self._profile.slots
        out: list[bytes] = []
        for start in range(0, v.size, slots):
            vec = self._encode(v[start : start + slots])
            out.append(_guarded(vec.serialize, "TenSEAL serialize", ParameterError))
        return out

    def _parse(self, chunks: list[bytes], length: int) -> list[Any]:
        slots = self._profile.slots
        want = -(-length // slots)
        if len(chunks) != want:
            raise DecodeError(
                f"expected {want} ciphertext chunks for {length} values, got {len(chunks)}"
            )
        _sealapi()
        first = _guarded(lambda: self._ctx.seal_context().data.first_parms_id(), "context")
        out = []
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk, bytes) or len(chunk) > self._profile.max_chunk_bytes:
                raise DecodeError(
                    f"chunk {i} holds {len(chunk)} bytes, more than "
                    f"{self._profile.max_chunk_bytes} for profile {self._profile.name}"
                )
            vec = self._load(chunk)
            size = min(slots, length - i * slots)
            if not _guarded(functools.partial(self._fresh, vec, size, first), f"chunk {i}"):
                raise DecodeError(f"chunk {i} is not a fresh ciphertext of {size} values")
            out.append(vec)
        return out

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> HEServerSession:
        ids = check_client_ids(client_ids)
        if len(ids) > self._max_clients:
            raise ParameterError(
                f"{len(ids)} clients exceed max_clients={self._max_clients} of this key "
                "(the parameters are sized so that a sum of max_clients uploads cannot wrap)"
            )
        return HEServerSession(self, ids, length)

    def _fresh(self, vec: Any, size: int, first: Any) -> bool:
        """Whether ``vec`` looks like one of this profile's fresh ciphertexts of ``size``."""
        cts = vec.ciphertext()
        if vec.size() != size or len(cts) != 1:
            return False
        ct = cts[0]
        ckks = self._kind == "ckks"
        scale = 2.0**self._profile.scale_bits if ckks else 1.0
        return bool(
            ct.size() == 2
            and ct.parms_id() == first
            and ct.is_ntt_form() == ckks
            and (not ckks or float(ct.scale) == scale)
        )

    def parse_upload(self, chunks: list[bytes], length: int) -> object:
        return self._parse(chunks, length)

    def add(self, total: object | None, upload: object) -> object:
        assert isinstance(upload, list)
        if total is None:
            return list(upload)  # freshly parsed vectors; sums below make new ones
        assert isinstance(total, list)
        assert len(total) == len(upload)
        out: list[Any] = []
        for a, b in zip(total, upload, strict=True):
            out.append(_guarded(functools.partial(_add, a, b), "add", ProtocolError))
        return out

    def serialize_sum(self, total: object) -> list[bytes]:
        assert isinstance(total, list)
        return [_guarded(v.serialize, "serialize", ProtocolError) for v in total]

    def decrypt_sum(
        self, chunks: list[bytes], length: int, n_summands: int
    ) -> npt.NDArray[np.float64]:
        if not self._private:
            raise ParameterError("this copy holds no secret key: it cannot decrypt")
        vecs = self._parse(chunks, length)
        parts = [_guarded(v.decrypt, "decrypt", ProtocolError) for v in vecs]
        if not parts:
            return np.zeros(0, dtype=np.float64)
        return np.concatenate([self._decode(p) for p in parts]).astype(np.float64)


_S = TypeVar("_S", bound=_TenSEALScheme)


def _add(a: Any, b: Any) -> Any:
    return a + b


def _sealapi() -> Any:
    # Registers SEAL's types with pybind11 (parms_id comparisons need it).
    return require("tenseal.sealapi", feature=_FEATURE)


def _public_bytes(ctx: Any, *, symmetric: bool, secret: bool, keys: bool) -> bytes:
    out = _guarded(
        lambda: ctx.serialize(
            save_public_key=not symmetric,
            save_secret_key=secret,
            save_galois_keys=False,
            save_relin_keys=keys,
        ),
        "TenSEAL serialize",
        ParameterError,
    )
    assert isinstance(out, bytes)
    return out


def _check_context(
    ctx: Any, prof: Profile, secret: bool, kind: str, config: dict[str, Any]
) -> None:
    _sealapi()

    def inspect() -> tuple[int, list[int], int, bool]:
        parms = ctx.seal_context().data.key_context_data().parms()
        bits = [q.bit_count() for q in parms.coeff_modulus()]
        t = parms.plain_modulus().value()
        return parms.poly_modulus_degree(), bits, t, bool(ctx.is_private())

    n, bits, t, private = _guarded(inspect, "malformed TenSEAL context")
    want_t = BFV._plain_modulus(config) if kind == "bfv" else 0
    if (
        n != prof.poly_modulus_degree
        or bits != list(prof.coeff_mod_bit_sizes)
        or t != want_t
        or private != secret
    ):
        raise DecodeError("the TenSEAL context does not match the key's configuration")


def _common(
    *,
    profile: object,
    symmetric: object,
    weighted: object,
    max_weight: object,
    mean: object,
    decryptors: object,
    max_clients: object,
) -> dict[str, Any]:
    for name, flag in (("symmetric", symmetric), ("weighted", weighted), ("mean", mean)):
        if not isinstance(flag, bool):
            raise ParameterError(f"{name} must be a bool, got {flag!r}")
    if isinstance(max_weight, bool) or not isinstance(max_weight, int | float):
        raise ParameterError(f"max_weight must be a positive finite number, got {max_weight!r}")
    if not 0 < max_weight < math.inf:
        raise ParameterError(f"max_weight must be a positive finite number, got {max_weight!r}")
    if decryptors is not None:
        _check_int("decryptors", decryptors, 1, 1 << 30)
    if weighted and mean:
        raise ParameterError("weighted=True already returns the (weighted) mean; drop mean=True")
    return {
        "profile": profile,
        "symmetric": symmetric,
        "weighted": weighted,
        "max_weight": float(max_weight),
        "mean": mean,
        "decryptors": decryptors,
        "max_clients": _check_int("max_clients", max_clients, 1, 1 << 30),
    }


def _t_bits_limit(prof: Profile, max_clients: int) -> int:
    """The largest plaintext modulus (bits) whose sums of max_clients still decrypt."""
    spare = _FRESH_NOISE_BITS + _NOISE_SPARE_BITS + math.ceil(math.log2(max_clients))
    return min(60, prof.data_bits - 1 - spare)


def _check_tolerance_args(n_summands: object, bound: object) -> None:
    if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 0:
        raise ParameterError(f"n_summands must be an int >= 0, got {n_summands!r}")
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound >= 0:
        raise ParameterError(f"bound must be a number >= 0, got {bound!r}")


class CKKS(_TenSEALScheme):
    """Approximate HE aggregation (CKKS on TenSEAL): small ciphertexts, float error.

    Values are not clipped: an encrypted coordinate must satisfy
    ``|x| <= max_value = 2^(q0_bits - scale_bits - 2) / max_clients`` (256 for every
    profile with the default ``max_clients=1024``), so that a sum of ``max_clients``
    uploads cannot wrap the data modulus; :meth:`encrypt` refuses larger values.
    """

    name: ClassVar[str] = "privkit.he.ckks.v1"
    _kind: ClassVar[str] = "ckks"

    @classmethod
    def generate(
        cls,
        *,
        profile: str = "ckks-8192",
        symmetric: bool = True,
        weighted: bool = False,
        max_weight: float = 1.0,
        mean: bool = False,
        decryptors: int | None = 3,
        max_clients: int = 1024,
    ) -> CKKS:
        """Create a key holder (a fresh secret key) for these parameters.

        Raises:
            ParameterError: an unknown profile or invalid argument.
            BackendUnavailableError: TenSEAL is not installed.
        """
        return cls._new(
            cls._validate(
                profile=profile,
                symmetric=symmetric,
                weighted=weighted,
                max_weight=max_weight,
                mean=mean,
                decryptors=decryptors,
                max_clients=max_clients,
            )
        )

    @classmethod
    def _validate(cls, **config: Any) -> dict[str, Any]:
        out = _common(**config)
        _check_profile(out["profile"], "ckks")
        return out

    @property
    def max_value(self) -> float:
        """The largest ``|x|`` :meth:`encrypt` accepts (after weighting)."""
        p = self._profile
        return 2.0 ** (p.coeff_mod_bit_sizes[0] - p.scale_bits - 2) / self._max_clients

    @property
    def input_bound(self) -> float | None:
        return self.max_value / (self._weights.max_weight if self._weights.weighted else 1.0)

    def _scheme_params(self) -> dict[str, Value]:
        return {"scale_bits": self._profile.scale_bits}

    def _encode(self, values: npt.NDArray[np.float64]) -> Any:
        if values.size and float(np.max(np.abs(values))) > self.max_value:
            raise ParameterError(
                f"CKKS encrypts values with |x| <= {self.max_value}; scale the update down "
                "or lower max_clients"
            )
        ts = require("tenseal", feature=_FEATURE)
        return _guarded(
            lambda: ts.ckks_vector(self._ctx, values.tolist()), "CKKS encrypt", ParameterError
        )

    def _load(self, chunk: bytes) -> Any:
        ts = require("tenseal", feature=_FEATURE)
        return _guarded(lambda: ts.ckks_vector_from(self._ctx, chunk), "malformed CKKS chunk")

    def _decode(self, decrypted: list[Any]) -> npt.NDArray[np.float64]:
        return np.asarray(decrypted, dtype=np.float64)

    def fresh_error(self) -> float:
        """The documented per-value error bound of one fresh ciphertext."""
        p = self._profile
        n = p.poly_modulus_degree
        base = 64.0 * math.sqrt(n) if self._symmetric else 8.0 * n
        return base * 2.0**-p.scale_bits

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        _check_tolerance_args(n_summands, bound)
        n = max(n_summands, 1)
        e = self.fresh_error()
        if self._weights.weighted:
            # For unit-scale weights (total weight >= n): numerator and weight errors.
            b = bound * self._weights.max_weight
            return (n * (e + b * 2.0**-40) * (1.0 + bound)) / n
        tol = n * (e + bound * 2.0**-40)
        return tol / n if self._weights.mean else tol


class BFV(_TenSEALScheme):
    """Exact HE aggregation (BFV on TenSEAL) of fixed-point values.

    Every coordinate is clipped to ``[-clip, clip]``, scaled by ``2^frac_bits`` and
    rounded; sums are exact on those integers.
    """

    name: ClassVar[str] = "privkit.he.bfv.v1"
    _kind: ClassVar[str] = "bfv"

    @classmethod
    def generate(
        cls,
        *,
        profile: str = "bfv-8192",
        symmetric: bool = True,
        weighted: bool = False,
        max_weight: float = 1.0,
        mean: bool = False,
        decryptors: int | None = 3,
        max_clients: int = 1024,
        clip: float = 1.0,
        frac_bits: int = 16,
    ) -> BFV:
        """Create a key holder (a fresh secret key) for these parameters.

        Raises:
            ParameterError: an invalid argument, or a configuration whose sums could
                wrap or whose plaintext modulus does not fit the profile's noise budget
                (the message says what would fit).
            BackendUnavailableError: TenSEAL is not installed.
        """
        return cls._new(
            cls._validate(
                profile=profile,
                symmetric=symmetric,
                weighted=weighted,
                max_weight=max_weight,
                mean=mean,
                decryptors=decryptors,
                max_clients=max_clients,
                clip=clip,
                frac_bits=frac_bits,
            )
        )

    @classmethod
    def _validate(cls, **config: Any) -> dict[str, Any]:
        clip = config.pop("clip")
        frac_bits = config.pop("frac_bits")
        out = _common(**config)
        prof = _check_profile(out["profile"], "bfv")
        if isinstance(clip, bool) or not isinstance(clip, int | float) or not 0 < clip < math.inf:
            raise ParameterError(f"clip must be a positive finite number, got {clip!r}")
        out["clip"] = float(clip)
        out["frac_bits"] = _check_int("frac_bits", frac_bits, 0, 52)
        t_bits = cls._plain_modulus(out).bit_length()
        limit = _t_bits_limit(prof, out["max_clients"])
        if t_bits > limit:
            over = t_bits - limit
            hints = [f"clip, max_weight or max_clients smaller by a factor 2^{over}"]
            if out["frac_bits"] >= over:
                hints.insert(0, f"frac_bits <= {out['frac_bits'] - over}")
            fits = [
                q.name
                for q in PROFILES.values()
                if q.scheme == "bfv" and _t_bits_limit(q, out["max_clients"]) >= t_bits
            ]
            if fits:
                hints.append(f"profile {' or '.join(fits)}")
            raise ParameterError(
                f"sums of max_clients={out['max_clients']} values of |x| <= {out['clip']} "
                f"(max_weight={out['max_weight']}, frac_bits={out['frac_bits']}) need a "
                f"{t_bits}-bit plaintext modulus, but profile {prof.name} fits at most "
                f"{limit} bits without decryption failures; would fit: {'; '.join(hints)}"
            )
        return out

    @staticmethod
    def _qmax(config: dict[str, Any]) -> int:
        bound = float(config["clip"])
        if config["weighted"]:
            bound = max(bound, 1.0) * float(config["max_weight"])
        frac: int = int(config["frac_bits"])
        return math.ceil(bound * 2.0**frac)

    @classmethod
    def _plain_modulus(cls, config: dict[str, Any]) -> int:
        prof = _check_profile(config["profile"], "bfv")
        # Signed decoding covers (-t/2, t/2]: t > 2 * max_clients * qmax never wraps.
        return batching_prime(
            2 * config["max_clients"] * cls._qmax(config) + 2, prof.poly_modulus_degree
        )

    @property
    def plain_modulus(self) -> int:
        return self._plain_modulus(self._config)

    @property
    def clip(self) -> float:
        return float(self._config["clip"])

    @property
    def frac_bits(self) -> int:
        return int(self._config["frac_bits"])

    @property
    def input_bound(self) -> float | None:
        return self.clip

    def _scheme_params(self) -> dict[str, Value]:
        return {
            "plain_modulus": self.plain_modulus,
            "clip": self.clip,
            "frac_bits": self.frac_bits,
        }

    def _prepare(self, vector: npt.NDArray[np.float64], weight: float) -> npt.NDArray[np.float64]:
        clipped = np.clip(vector, -self.clip, self.clip)
        return super()._prepare(clipped, weight)

    def _encode(self, values: npt.NDArray[np.float64]) -> Any:
        q = self._qmax(self._config)
        ints = np.clip(np.rint(values * 2.0**self.frac_bits), -q, q).astype(np.int64)
        ts = require("tenseal", feature=_FEATURE)
        return _guarded(
            lambda: ts.bfv_vector(self._ctx, ints.tolist()), "BFV encrypt", ParameterError
        )

    def _load(self, chunk: bytes) -> Any:
        ts = require("tenseal", feature=_FEATURE)
        return _guarded(lambda: ts.bfv_vector_from(self._ctx, chunk), "malformed BFV chunk")

    def _decode(self, decrypted: list[Any]) -> npt.NDArray[np.float64]:
        return np.asarray(decrypted, dtype=np.float64) * 2.0**-self.frac_bits

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        _check_tolerance_args(n_summands, bound)
        n = max(n_summands, 1)
        e = 2.0 ** -(self.frac_bits + 1)
        ulp = n * (bound + 1.0) * 2.0**-50  # float64 scaling and division
        if self._weights.weighted:
            # For unit-scale weights (total weight >= n): numerator and weight rounding.
            return e * (1.0 + bound) + ulp
        return (n * e) / n + ulp if self._weights.mean else n * e + ulp
