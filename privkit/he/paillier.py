"""Packed Paillier: additively homomorphic aggregation in the style of BatchCrypt.

BatchCrypt (Zhang et al., USENIX ATC 2020) packs many quantized values into one
Paillier plaintext so that one (expensive) encryption carries a whole batch.  This
module does the same on top of the :class:`~privkit.he.HEScheme` session protocol.

Encoding (per coordinate):

* clip ``x`` to ``[-E, E]`` where ``E = clip`` (``E = max_weight * max(clip, 1)``
  with ``weighted=True``, since the weighted values and the weight itself travel);
* scale by ``2**frac_bits``, round to nearest (ties to even) and clamp to
  ``[-qmax, qmax]`` with ``qmax = floor(E * 2**frac_bits)``;
* store the *biased* value ``u = v + qmax`` in ``[0, 2 * qmax]`` (never negative, so
  slot sums never borrow).

Slot layout: a slot is ``w = bit_length(max_clients * 2 * qmax)`` bits wide, so the
sum of up to ``max_clients`` biased values is below ``2**w`` and never carries into
the next slot.  A plaintext holds ``slots = (n_bits - 2) // w`` slots (slot ``i`` at
bit ``i * w``; ``n_bits`` is the bit length of the modulus, one bit of margin keeps
every plaintext below ``n``).  Decoding a sum of ``k`` uploads subtracts ``k * qmax``
per slot and scales by ``2**-frac_bits``.  The default ``frac_bits`` is the largest
one with ``2 * qmax < 2**16``: 16-bit values, like BatchCrypt's prototype; for
``clip=1`` that is ``frac_bits=14``.  At 2048 bits and ``max_clients=10`` a slot has
19 bits and a plaintext 107 slots (about 4.8 ciphertext bytes per value); with the
default ``max_clients=1024`` 26 bits and 78 slots (about 6.6 bytes per value).

Cryptography (raw, with gmpy2): ``g = n + 1`` so ``g**m = 1 + m*n mod n**2``;
encryption is ``c = (1 + m*n) * r**n mod n**2`` with ``r`` uniform in ``[1, n)``,
coprime to ``n``, from the OS CSPRNG (:mod:`secrets`).  A key holder computes
``r**n`` with the CRT over ``p**2`` and ``q**2`` with half-length exponents (the same
distribution, about 2.5x faster; see ``_fresh_rn``); an optional
pool of ``precompute`` values of ``r**n`` is filled at key generation and each value is
used exactly once (popped), after which fresh ones are computed on demand.
Decryption uses the CRT as in Paillier's paper (and phe's private key).  Homomorphic
addition multiplies ciphertexts modulo ``n**2``.  Keys are interchangeable with phe's
(:meth:`Paillier.phe_keys`, :meth:`Paillier.from_phe`).

Wire format: one chunk per ciphertext, exactly ``ceil(2 * n_bits / 8)`` big-endian
bytes (512 at 2048 bits).  The server checks each chunk's length, that
``c`` is in ``[1, n**2)`` and that ``gcd(c, n) == 1``.  Ciphertexts are never
re-randomized when serialized; :meth:`Paillier.rerandomize` does it on request.

Threat model: as :mod:`privkit.he.session`.  The scheme's parameters (and thus its
fingerprint) include ``key_id``, 16 bytes of a domain-separated SHA-256 of ``n``, so
messages made under another key are refused at the envelope.  Paillier with a
modulus below 2048 bits is refused unless ``allow_insecure=True`` (tests only).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from privkit import wire
from privkit._backends import require
from privkit.aggregation.api import ClientId, check_client_ids
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.he.session import HEScheme, HEServerSession
from privkit.wire import Value

__all__ = ["Paillier"]

MIN_SECURE_BITS: Final = 2048
"""The smallest modulus accepted without ``allow_insecure=True``."""
MIN_INSECURE_BITS: Final = 256
"""The smallest modulus accepted at all (tests)."""
MAX_BITS: Final = 16384
"""The largest modulus accepted."""
TARGET_VALUE_BITS: Final = 16
"""The default ``frac_bits`` makes the biased values ``2 * qmax`` fit this many bits."""
MAX_SLOT_BITS: Final = 54
"""Largest slot width: every decoded slot stays an integer exact in float64."""
_MAX_FRAC_BITS: Final = 1000
_KEY_FORMAT: Final = "privkit.he.paillier.key.v1"
_KEY_ID_DOMAIN: Final = b"privkit.he.paillier.key_id.v1\x00"
_FEATURE: Final = "Paillier encryption"


def _gmpy2() -> Any:
    return require("gmpy2", feature=_FEATURE)


def _qmax(e: float, frac_bits: int) -> int:
    num, den = e.as_integer_ratio()
    return (num << frac_bits) // den


def _check_int(value: object, what: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ParameterError(f"{what} must be an int >= {lo}, got {value!r}")
    return value


def _check_pos_float(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{what} must be a positive finite number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ParameterError(f"{what} must be a positive finite number, got {value!r}")
    return v


def _random_prime(bits: int) -> Any:
    """A random prime of exactly ``bits`` bits with the top two bits set."""
    gmpy2 = _gmpy2()
    while True:
        x = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        p = gmpy2.next_prime(x)
        if p.bit_length() == bits and gmpy2.is_prime(p, 50):
            return p


class Paillier(HEScheme):
    """Packed Paillier aggregation (see the module docstring for the layout).

    Build it with :meth:`generate` (a new key pair), :meth:`from_phe` (keys of the phe
    library) or :meth:`from_bytes`; the constructor itself is private.  Give the
    server :meth:`public` (no secret key), give the clients that decrypt the key
    holder's copy (``to_bytes(include_secret=True)`` over a secure channel).

    Scheme objects are immutable except for the pool of precomputed ``r**n`` values,
    which encryption consumes.
    """

    name: ClassVar[str] = "privkit.he.paillier.v1"

    def __init__(
        self,
        *,
        n: int,
        p: int | None,
        q: int | None,
        max_clients: int,
        clip: float,
        frac_bits: int | None,
        weighted: bool,
        max_weight: float,
        mean: bool,
        decryptors: int | None,
        precompute: int,
        allow_insecure: bool,
        _token: object = None,
    ) -> None:
        if _token is not _PRIVATE:
            raise TypeError("use Paillier.generate, Paillier.from_phe or Paillier.from_bytes")
        super().__init__(weighted=weighted, max_weight=max_weight, mean=mean, decryptors=decryptors)
        # our own copies of the round settings (validated by HEScheme above)
        self._weighted_cfg = bool(weighted)
        self._max_weight_cfg = float(max_weight)
        self._mean_cfg = bool(mean)
        self._decryptors_cfg = decryptors
        gmpy2 = _gmpy2()
        if not isinstance(allow_insecure, bool):
            raise ParameterError("allow_insecure must be a bool")
        if isinstance(n, bool) or not isinstance(n, int) or n < 3 or n % 2 == 0:
            raise ParameterError("the Paillier modulus n must be an odd int > 2")
        n_bits = n.bit_length()
        if n_bits > MAX_BITS:
            raise ParameterError(f"a {n_bits}-bit modulus is larger than {MAX_BITS} bits")
        if n_bits < MIN_INSECURE_BITS or (n_bits < MIN_SECURE_BITS and not allow_insecure):
            raise ParameterError(
                f"a {n_bits}-bit Paillier modulus is insecure; use n_length >= "
                f"{MIN_SECURE_BITS} (allow_insecure=True permits >= {MIN_INSECURE_BITS}, "
                "for tests only)"
            )
        self._allow_insecure = allow_insecure
        self._max_clients = _check_int(max_clients, "max_clients", 1)
        self._clip = _check_pos_float(clip, "clip")
        self._pool: list[Any] = []
        self._n = gmpy2.mpz(n)
        self._nsq = self._n * self._n
        self._n_bits = n_bits
        self._ct_bytes: int = (int(self._nsq).bit_length() + 7) // 8
        self._secret: tuple[Any, ...] | None = None
        if (p is None) != (q is None):
            raise ParameterError("give both primes p and q, or neither")
        if p is not None and q is not None:
            self._secret = self._setup_secret(p, q)

        # ---- slot layout
        e = self._max_weight_cfg * max(self._clip, 1.0) if self._weighted_cfg else self._clip
        if not math.isfinite(e):
            raise ParameterError("clip * max_weight must be finite")
        self._e = e
        if frac_bits is None:
            cap = (1 << (TARGET_VALUE_BITS - 1)) - 1
            f = 0
            while f < _MAX_FRAC_BITS and _qmax(e, f + 1) <= cap:
                f += 1
        else:
            f = _check_int(frac_bits, "frac_bits", 0)
            if f > _MAX_FRAC_BITS:
                raise ParameterError(f"frac_bits must be at most {_MAX_FRAC_BITS}, got {f}")
        qmax = _qmax(e, f)
        if qmax < 1:
            raise ParameterError(
                f"clip {e!r} with frac_bits={f} encodes every value as 0; raise frac_bits"
            )
        w = (self._max_clients * 2 * qmax).bit_length()
        if w > MAX_SLOT_BITS:
            raise ParameterError(
                f"{self._max_clients} clients of values up to {qmax} need {w}-bit slots, "
                f"more than {MAX_SLOT_BITS}; lower frac_bits, clip or max_clients"
            )
        slots = (n_bits - 2) // w
        if slots < 1:
            raise ParameterError(
                f"a {w}-bit slot does not fit a {n_bits}-bit plaintext; lower frac_bits, "
                "clip or max_clients"
            )
        self._frac_bits = f
        self._qmax_int = qmax
        self._w = w
        self._slots = slots
        self._pt_bytes = (slots * w + 7) // 8
        self._key_id = hashlib.sha256(
            _KEY_ID_DOMAIN + int(self._n).to_bytes((n_bits + 7) // 8, "big")
        ).digest()[:16]
        pre = _check_int(precompute, "precompute", 0)
        self._pool = [self._fresh_rn() for _ in range(pre)]

    def _setup_secret(self, p: int, q: int) -> tuple[Any, ...]:
        gmpy2 = _gmpy2()
        for v in (p, q):
            if isinstance(v, bool) or not isinstance(v, int) or v < 3:
                raise ParameterError("the primes p and q must be ints > 2")
        if p == q or p * q != int(self._n):
            raise ParameterError("p * q must equal n with p != q")
        if p > q:
            p, q = q, p
        mp, mq = gmpy2.mpz(p), gmpy2.mpz(q)
        if not (gmpy2.is_prime(mp, 30) and gmpy2.is_prime(mq, 30)):
            raise ParameterError("p and q must be prime")
        if gmpy2.gcd(self._n, (mp - 1) * (mq - 1)) != 1:
            # Paillier with g = n + 1 needs it; so does the fast r**n of _fresh_rn
            raise ParameterError("gcd(n, (p-1)(q-1)) must be 1")
        psq, qsq = mp * mp, mq * mq
        g = self._n + 1

        def h(x: Any, xsq: Any) -> Any:
            return gmpy2.invert((gmpy2.powmod(g, x - 1, xsq) - 1) // x, x)

        return (
            mp,
            mq,
            psq,
            qsq,
            h(mp, psq),  # hp
            h(mq, qsq),  # hq
            gmpy2.invert(mp, mq),  # p^-1 mod q
            gmpy2.invert(psq, qsq),  # (p^2)^-1 mod q^2
        )

    # ---------------------------------------------------------------- constructors

    @classmethod
    def generate(
        cls,
        *,
        n_length: int = 2048,
        max_clients: int = 1024,
        clip: float = 1.0,
        frac_bits: int | None = None,
        weighted: bool = False,
        max_weight: float = 1.0,
        mean: bool = False,
        decryptors: int | None = 3,
        precompute: int = 0,
        allow_insecure: bool = False,
    ) -> Paillier:
        """Generate a new key pair; returns the key holder's copy (:attr:`can_decrypt`).

        Args:
            n_length: bits of the modulus ``n`` (even; ``>= 2048`` unless
                ``allow_insecure``).
            max_clients: the most uploads a sum may hold (sizes the slots).
            clip: inputs are clipped to ``[-clip, clip]``.
            frac_bits: fixed-point fractional bits; default: 16-bit values.
            weighted, max_weight, mean, decryptors: see :class:`HEScheme`.
            precompute: how many ``r**n`` values to compute now (each used once).
            allow_insecure: accept ``n_length < 2048`` (tests only).

        Raises:
            ParameterError: invalid parameters, or slots that could overflow.
        """
        n_length = _check_int(n_length, "n_length", 2)
        if n_length % 2:
            raise ParameterError(f"n_length must be even, got {n_length}")
        if n_length < MIN_SECURE_BITS and not allow_insecure:
            raise ParameterError(
                f"n_length={n_length} is insecure; use n_length >= {MIN_SECURE_BITS} "
                "(allow_insecure=True permits smaller keys, for tests only)"
            )
        if not MIN_INSECURE_BITS <= n_length <= MAX_BITS:
            raise ParameterError(
                f"n_length must be in [{MIN_INSECURE_BITS}, {MAX_BITS}], got {n_length}"
            )
        # check the parameters before the (slow) key generation
        cls._check_layout_only(
            n_length, max_clients, clip, frac_bits, weighted, max_weight, mean, decryptors
        )
        half = n_length // 2
        while True:
            p, q = _random_prime(half), _random_prime(half)
            if p != q and (p * q).bit_length() == n_length:
                break
        return cls(
            n=int(p * q),
            p=int(p),
            q=int(q),
            max_clients=max_clients,
            clip=clip,
            frac_bits=frac_bits,
            weighted=weighted,
            max_weight=max_weight,
            mean=mean,
            decryptors=decryptors,
            precompute=precompute,
            allow_insecure=allow_insecure,
            _token=_PRIVATE,
        )

    @classmethod
    def _check_layout_only(
        cls,
        n_length: int,
        max_clients: int,
        clip: float,
        frac_bits: int | None,
        weighted: bool,
        max_weight: float,
        mean: bool,
        decryptors: int | None,
    ) -> None:
        # A throwaway public object with a fake odd modulus of the right size: runs
        # every parameter check without generating primes.
        cls(
            n=(1 << (n_length - 1)) + 1,
            p=None,
            q=None,
            max_clients=max_clients,
            clip=clip,
            frac_bits=frac_bits,
            weighted=weighted,
            max_weight=max_weight,
            mean=mean,
            decryptors=decryptors,
            precompute=0,
            allow_insecure=True,
            _token=_PRIVATE,
        )

    @classmethod
    def from_phe(cls, public_key: Any, private_key: Any = None, **params: Any) -> Paillier:
        """Wrap keys of the phe library (``phe.PaillierPublicKey`` / ``PaillierPrivateKey``).

        Args:
            public_key: the public key (its ``g`` must be ``n + 1``, as phe makes it).
            private_key: the matching private key, or None for a public copy.
            **params: the keyword arguments of :meth:`generate` except ``n_length``.

        Raises:
            ParameterError: mismatched or unsupported keys, or invalid parameters.
        """
        if "n_length" in params:
            raise ParameterError("n_length comes from the key; do not pass it")
        unknown = set(params) - _PARAM_NAMES
        if unknown:
            raise ParameterError(f"unknown parameters: {sorted(unknown)}")
        n = getattr(public_key, "n", None)
        g = getattr(public_key, "g", None)
        if not isinstance(n, int) or g != n + 1:
            raise ParameterError("public_key must be a phe.PaillierPublicKey with g = n + 1")
        p = q = None
        if private_key is not None:
            if getattr(getattr(private_key, "public_key", None), "n", None) != n:
                raise ParameterError("private_key does not belong to public_key")
            p, q = int(private_key.p), int(private_key.q)
        kw: dict[str, Any] = {**_DEFAULTS, **params}
        return cls(n=int(n), p=p, q=q, _token=_PRIVATE, **kw)

    def phe_keys(self) -> tuple[Any, Any]:
        """The keys as phe objects: ``(PaillierPublicKey, PaillierPrivateKey or None)``."""
        phe = require("phe", feature="Paillier.phe_keys")
        pub = phe.PaillierPublicKey(int(self._n))
        if self._secret is None:
            return pub, None
        return pub, phe.PaillierPrivateKey(pub, int(self._secret[0]), int(self._secret[1]))

    def public(self) -> Paillier:
        """A copy without the secret key (for the server and non-decrypting clients)."""
        return type(self)(n=int(self._n), p=None, q=None, _token=_PRIVATE, **self._settings())

    def _settings(self) -> dict[str, Any]:
        return {
            "max_clients": self._max_clients,
            "clip": self._clip,
            "frac_bits": self._frac_bits,
            "weighted": self._weighted_cfg,
            "max_weight": self._max_weight_cfg,
            "mean": self._mean_cfg,
            "decryptors": self._decryptors_cfg,
            "precompute": 0,
            "allow_insecure": self._allow_insecure,
        }

    def to_bytes(self, *, include_secret: bool = False) -> bytes:
        """Serialize the key and parameters as one privkit.wire value.

        The value is the dict ``{"format", "n", "params"}`` (plus ``"p"``, ``"q"``
        with ``include_secret=True``: secret material, send it only over a secure
        channel).  Integers are big-endian bytes.

        Raises:
            ParameterError: ``include_secret=True`` on a copy without the secret key.
        """
        body: dict[str, Value] = {
            "format": _KEY_FORMAT,
            "n": _int_bytes(int(self._n)),
            "params": dict[str, Value](self._settings_wire()),
        }
        if include_secret:
            if self._secret is None:
                raise ParameterError("this copy holds no secret key")
            body["p"] = _int_bytes(int(self._secret[0]))
            body["q"] = _int_bytes(int(self._secret[1]))
        return wire.encode_value(body)

    def _settings_wire(self) -> dict[str, Value]:
        s = self._settings()
        del s["precompute"], s["allow_insecure"]  # the loader decides those
        return s

    @classmethod
    def from_bytes(
        cls, data: bytes, *, precompute: int = 0, allow_insecure: bool = False
    ) -> Paillier:
        """Load a key written by :meth:`to_bytes`, from untrusted bytes.

        ``precompute`` and ``allow_insecure`` are the loader's choice (they are not
        stored): a key below 2048 bits loads only with ``allow_insecure=True``.

        Raises:
            DecodeError: malformed bytes, or a key / parameters that do not check out.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError("Paillier key: expected bytes")
        if len(data) > 64 * MAX_BITS:
            raise DecodeError("Paillier key: too long")
        body = wire.decode_value(data, max_depth=2)
        if not isinstance(body, dict) or body.get("format") != _KEY_FORMAT:
            raise DecodeError(f"Paillier key: not a {_KEY_FORMAT} value")
        if set(body) not in ({"format", "n", "params"}, {"format", "n", "params", "p", "q"}):
            raise DecodeError("Paillier key: unexpected fields")
        params = body["params"]
        if not isinstance(params, dict) or set(params) != _PARAM_NAMES - {
            "precompute",
            "allow_insecure",
        }:
            raise DecodeError("Paillier key: bad params")
        ints: dict[str, int | None] = {"p": None, "q": None}
        for k in ("n", "p", "q"):
            if k not in body:
                continue
            raw = body[k]
            if not isinstance(raw, bytes) or not raw or raw[0] == 0 or len(raw) > MAX_BITS // 8:
                raise DecodeError(f"Paillier key: {k} must be minimal big-endian bytes")
            ints[k] = int.from_bytes(raw, "big")
        n = ints["n"]
        assert n is not None
        try:
            return cls(
                n=n,
                p=ints["p"],
                q=ints["q"],
                precompute=precompute,
                allow_insecure=allow_insecure,
                _token=_PRIVATE,
                **params,  # type: ignore[arg-type]
            )
        except (ParameterError, TypeError) as exc:
            raise DecodeError(f"Paillier key: invalid key or parameters: {exc}") from None

    # ---------------------------------------------------------------- properties

    @property
    def can_decrypt(self) -> bool:
        return self._secret is not None

    @property
    def n_length(self) -> int:
        """Bits of the modulus ``n``."""
        return self._n_bits

    @property
    def frac_bits(self) -> int:
        return self._frac_bits

    @property
    def slot_bits(self) -> int:
        """Bits per slot."""
        return self._w

    @property
    def slots_per_plaintext(self) -> int:
        return self._slots

    @property
    def ciphertext_bytes(self) -> int:
        """Bytes of one serialized ciphertext (one chunk)."""
        return self._ct_bytes

    @property
    def max_clients(self) -> int:
        return self._max_clients

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def input_bound(self) -> float | None:
        return self._clip

    def params(self) -> dict[str, Value]:
        return {
            **self._round_params(),
            "n_length": self._n_bits,
            "max_clients": self._max_clients,
            "clip": self._clip,
            "frac_bits": self._frac_bits,
            "slot_bits": self._w,
            "slots": self._slots,
            "key_id": self._key_id,
        }

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """The fixed-point rounding bound ``n * 2**-(frac_bits+1)`` (mean: over ``n``).

        Per value the error is at most half a unit, or the clamp's overshoot
        ``E * 2**frac_bits - qmax`` when that is larger.  Clipping (inputs beyond
        :attr:`input_bound`) is not counted.  For a weighted mean this is the bound
        when the weights are exact in fixed point (e.g. all 1.0).
        """
        if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 0:
            raise ParameterError(f"n_summands must be an int >= 0, got {n_summands!r}")
        if not isinstance(bound, int | float) or not bound >= 0:
            raise ParameterError(f"bound must be >= 0, got {bound!r}")
        if n_summands == 0:
            return 0.0
        num, den = self._e.as_integer_ratio()
        over = ((num << self._frac_bits) - self._qmax_int * den) / den
        per = max(0.5, over)
        tol = n_summands * per * math.ldexp(1.0, -self._frac_bits)
        if self.mean:
            tol /= n_summands
        return math.nextafter(tol, math.inf)

    # ---------------------------------------------------------------- sessions

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> HEServerSession:
        ids = check_client_ids(client_ids)
        if len(ids) > self._max_clients:
            raise ParameterError(
                f"{len(ids)} clients exceed max_clients={self._max_clients} of this key's "
                "slot layout"
            )
        return HEServerSession(self, ids, length)

    # ---------------------------------------------------------------- encoding

    def _encode(self, vector: npt.NDArray[np.float64]) -> list[int]:
        x = np.array(vector, dtype=np.float64).reshape(-1)
        if not np.isfinite(x).all():
            raise ParameterError("cannot encrypt NaN or infinite values")
        np.clip(x, -self._e, self._e, out=x)
        x *= math.ldexp(1.0, self._frac_bits)
        np.rint(x, out=x)
        q = float(self._qmax_int)
        np.clip(x, -q, q, out=x)
        x += q
        u = x.astype(np.uint64)
        k = self._slots
        n_pt = max(1, -(-u.size // k))
        padded = np.zeros(n_pt * k, dtype="<u8")
        padded[: u.size] = u
        return self._pack(padded.reshape(n_pt, k))

    def _pack(self, slots: npt.NDArray[np.uint64]) -> list[int]:
        """Rows of slot values (each < 2**w) to plaintext integers, slot 0 lowest."""
        n_pt, k = slots.shape
        w = self._w
        bits = np.unpackbits(
            slots.astype("<u8").view(np.uint8).reshape(n_pt * k, 8), axis=1, bitorder="little"
        )[:, :w].reshape(n_pt, k * w)
        width = self._pt_bytes * 8
        if width > k * w:
            bits = np.concatenate([bits, np.zeros((n_pt, width - k * w), np.uint8)], axis=1)
        raw = np.packbits(bits, axis=1, bitorder="little").tobytes()
        pb = self._pt_bytes
        return [int.from_bytes(raw[i * pb : (i + 1) * pb], "little") for i in range(n_pt)]

    def _unpack(self, plaintexts: list[int]) -> npt.NDArray[np.uint64]:
        """Plaintext integers to a (n_pt, slots) array of slot values."""
        pb, k, w = self._pt_bytes, self._slots, self._w
        n_pt = len(plaintexts)
        raw = b"".join(m.to_bytes(pb, "little") for m in plaintexts)
        bits = np.unpackbits(
            np.frombuffer(raw, np.uint8).reshape(n_pt, pb), axis=1, bitorder="little"
        )[:, : k * w].reshape(n_pt * k, w)
        full = np.zeros((n_pt * k, 64), np.uint8)
        full[:, :w] = bits
        packed = np.packbits(full, axis=1, bitorder="little")
        return packed.view("<u8").reshape(n_pt, k).astype(np.uint64)

    def _n_plaintexts(self, length: int) -> int:
        return max(1, -(-length // self._slots))

    # ---------------------------------------------------------------- cryptography

    def _fresh_rn(self) -> Any:
        """A fresh ``r**n mod n**2`` for a uniform ``r`` in ``Z*_n`` (OS CSPRNG).

        A key holder uses the CRT.  ``r**n mod p**2`` depends only on ``a = r mod p``,
        and equals ``(a**q mod p)**p mod p**2``; since ``a -> a**q`` permutes ``Z*_p``
        (``q`` does not divide ``p - 1``), drawing ``a`` uniform in ``Z*_p`` and
        computing ``a**p mod p**2`` gives exactly the distribution of ``r**n mod p**2``
        (likewise for ``q``), with a half-length exponent.
        """
        gmpy2 = _gmpy2()
        if self._secret is None:
            n = self._n
            while True:
                r = gmpy2.mpz(secrets.randbelow(int(n) - 1) + 1)
                if gmpy2.gcd(r, n) == 1:
                    return gmpy2.powmod(r, n, self._nsq)
        p, q, psq, qsq, _, _, _, psq_inv = self._secret
        a = gmpy2.mpz(secrets.randbelow(int(p) - 1) + 1)
        b = gmpy2.mpz(secrets.randbelow(int(q) - 1) + 1)
        xp = gmpy2.powmod(a, p, psq)
        xq = gmpy2.powmod(b, q, qsq)
        return xp + psq * (((xq - xp) * psq_inv) % qsq)

    def _rn(self) -> Any:
        try:
            return self._pool.pop()
        except IndexError:
            return self._fresh_rn()

    def _encrypt_int(self, m: int) -> Any:
        gmpy2 = _gmpy2()
        return ((1 + gmpy2.mpz(m) * self._n) * self._rn()) % self._nsq

    def _decrypt_int(self, c: Any) -> int:
        assert self._secret is not None
        gmpy2 = _gmpy2()
        p, q, psq, qsq, hp, hq, p_inv, _ = self._secret
        mp = (((gmpy2.powmod(c % psq, p - 1, psq) - 1) // p) * hp) % p
        mq = (((gmpy2.powmod(c % qsq, q - 1, qsq) - 1) // q) * hq) % q
        return int(mp + (((mq - mp) * p_inv) % q) * p)

    def _ct_to_bytes(self, c: Any) -> bytes:
        return int(c).to_bytes(self._ct_bytes, "big")

    def _parse(self, chunks: list[bytes], n_ct: int, who: str) -> list[Any]:
        if len(chunks) != n_ct:
            raise ProtocolError(f"{who}: expected {n_ct} ciphertexts, got {len(chunks)}")
        gmpy2 = _gmpy2()
        n, nsq, size = self._n, self._nsq, self._ct_bytes
        out = []
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk, bytes) or len(chunk) != size:
                raise DecodeError(f"{who}: ciphertext {i} must be exactly {size} bytes")
            c = gmpy2.mpz(int.from_bytes(chunk, "big"))
            if not 0 < c < nsq or gmpy2.gcd(c, n) != 1:
                raise DecodeError(f"{who}: ciphertext {i} is not an element of Z*_(n^2)")
            out.append(c)
        return out

    # ---------------------------------------------------------------- HEScheme

    def encrypt(self, vector: npt.NDArray[np.float64]) -> list[bytes]:
        """Encrypt a vector: one chunk (ciphertext) per ``slots_per_plaintext`` values."""
        return [self._ct_to_bytes(self._encrypt_int(m)) for m in self._encode(vector)]

    def rerandomize(self, chunks: list[bytes]) -> list[bytes]:
        """Multiply each ciphertext by a fresh ``r**n`` (same plaintexts, new bytes).

        Raises:
            DecodeError: a malformed ciphertext.
        """
        cts = self._parse(list(chunks), len(chunks), "rerandomize")
        return [self._ct_to_bytes((c * self._rn()) % self._nsq) for c in cts]

    def parse_upload(self, chunks: list[bytes], length: int) -> object:
        return self._parse(chunks, self._n_plaintexts(length), "upload")

    def add(self, total: object | None, upload: object) -> object:
        assert isinstance(upload, list)
        if total is None:
            return list(upload)
        assert isinstance(total, list)
        assert len(total) == len(upload)
        nsq = self._nsq
        return [(a * b) % nsq for a, b in zip(total, upload, strict=True)]

    def serialize_sum(self, total: object) -> list[bytes]:
        assert isinstance(total, list)
        return [self._ct_to_bytes(c) for c in total]

    def decrypt_sum(
        self, chunks: list[bytes], length: int, n_summands: int
    ) -> npt.NDArray[np.float64]:
        if self._secret is None:
            raise ParameterError("this Paillier copy holds no secret key; it cannot decrypt")
        if isinstance(n_summands, bool) or not isinstance(n_summands, int):
            raise ProtocolError("n_summands must be an int")
        if not 1 <= n_summands <= self._max_clients:
            raise ProtocolError(
                f"a sum of {n_summands} uploads; this layout holds 1..{self._max_clients}"
            )
        cts = self._parse(chunks, self._n_plaintexts(length), "sum")
        plaintexts = [self._decrypt_int(c) for c in cts]
        limit = 1 << (self._slots * self._w)
        if any(m >= limit for m in plaintexts):
            raise ProtocolError("the decrypted sum does not fit the slot layout")
        slots = self._unpack(plaintexts).reshape(-1)
        top = n_summands * 2 * self._qmax_int
        values, pad = slots[:length], slots[length:]
        if pad.size and pad.any():
            raise ProtocolError("the decrypted sum has non-zero padding slots")
        if values.size and int(values.max()) > top:
            raise ProtocolError(f"the decrypted sum is not a sum of {n_summands} uploads")
        signed = values.astype(np.int64) - np.int64(n_summands * self._qmax_int)
        out = signed.astype(np.float64)
        out *= math.ldexp(1.0, -self._frac_bits)
        return out

    def decrypt_raw(self, chunk: bytes) -> int:
        """Decrypt one serialized ciphertext to its packed plaintext integer (key holder)."""
        if self._secret is None:
            raise ParameterError("this Paillier copy holds no secret key; it cannot decrypt")
        return self._decrypt_int(self._parse([chunk], 1, "ciphertext")[0])

    def encode(self, vector: npt.ArrayLike) -> list[int]:
        """The packed plaintext integers of a vector (what :meth:`encrypt` encrypts)."""
        return self._encode(np.asarray(vector, dtype=np.float64))


def _int_bytes(v: int) -> bytes:
    return v.to_bytes((v.bit_length() + 7) // 8, "big")


_PRIVATE: Final = object()
_DEFAULTS: Final[dict[str, Any]] = {
    "max_clients": 1024,
    "clip": 1.0,
    "frac_bits": None,
    "weighted": False,
    "max_weight": 1.0,
    "mean": False,
    "decryptors": 3,
    "precompute": 0,
    "allow_insecure": False,
}
_PARAM_NAMES: Final = frozenset(_DEFAULTS)
