"""Hash commitments: commit to a byte string now, reveal it later.

:func:`commit` draws a fresh 256-bit salt from :mod:`secrets` and returns the 32-byte
commitment together with an :class:`Opening` (the salt); :func:`verify` checks that a
commitment opens to given data.  The commitment is::

    commitment = SHA-256( field(b"privkit/zk/hashcommit/v1")
                          || field(domain) || field(salt) || field(data) )
    field(x)   = u64le(len(x)) || x

where ``domain`` is a non-empty printable-ASCII label naming what is committed to (the
default is :data:`DEFAULT_DOMAIN`).  Every field is length-prefixed, so the hash input
determines ``(domain, salt, data)`` uniquely, and the fixed first field keeps these hash
inputs apart from every other SHA-256 input privkit computes.

Security properties (see ``docs/zk-commitments.md``):

* **Hiding** (computational, in the random-oracle model): without the salt, the
  commitment reveals nothing about ``data`` beyond what can be learnt by guessing the
  256-bit salt, i.e. nothing with probability better than about ``q / 2**256`` for ``q``
  hash evaluations.  Low-entropy data (a vote, a small integer) stays hidden because the
  salt, not the data, carries the entropy.  Hiding is lost for good once the opening is
  revealed, and it relies on the salt being fresh and secret: never reuse an opening.
* **Binding** (computational, from the collision resistance of SHA-256): opening one
  commitment to two different ``(domain, data)`` pairs requires a SHA-256 collision
  (about ``2**128`` work).  Binding holds even against the party that chose the salt.

The commitment is always 32 bytes, so it does not reveal the length of ``data`` either.
What must stay secret until reveal time is the opening: anyone holding the opening can
test guesses of the data against the commitment.

Security assumptions: salts come only from :func:`secrets.token_bytes`.  Commitments,
openings and data handed to :func:`verify` / :meth:`Opening.from_bytes` are untrusted;
:func:`verify` compares digests with :func:`hmac.compare_digest` and returns ``False``
for anything that does not open, and :meth:`Opening.from_bytes` raises only
:class:`~privkit.errors.DecodeError` on malformed bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Final

from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import decode_value, encode_value
from privkit.zk._bytes import BytesLike, as_bytes

__all__ = [
    "COMMITMENT_BYTES",
    "DEFAULT_DOMAIN",
    "PREFIX",
    "SALT_BYTES",
    "Opening",
    "commit",
    "commitment_for",
    "verify",
]

COMMITMENT_BYTES: Final = 32
"""Bytes of a hash commitment (a SHA-256 digest)."""
SALT_BYTES: Final = 32
"""Bytes of the random salt in an opening (256 bits)."""
DEFAULT_DOMAIN: Final = "privkit.zk.hashcommit"
"""The domain used when the caller names none."""
PREFIX: Final = b"privkit/zk/hashcommit/v1"
"""The first field of every commitment's hash input: the scheme and its version."""

_U64: Final = struct.Struct("<Q")
_OPENING_KEYS: Final = frozenset({"salt"})
# An encoded opening is 1 (dict tag) + 8 (count) + 8 + 4 ("salt") + 1 + 8 + 32 = 62 bytes;
# anything much longer is refused before it is parsed.
_MAX_OPENING_BYTES: Final = 128


def _check_domain(domain: object) -> bytes:
    """Validate a domain label and return its ASCII bytes (ParameterError otherwise)."""
    if type(domain) is not str or not domain or not domain.isascii() or not domain.isprintable():
        shown = repr(domain) if isinstance(domain, str) else type(domain).__name__
        raise ParameterError(
            f"domain must be a non-empty printable ASCII str naming what is committed to "
            f"(e.g. 'myapp.vote.v1'), got {shown[:60]}"
        )
    return domain.encode("ascii")


def _field(data: bytes) -> bytes:
    return _U64.pack(len(data)) + data


def _digest(domain: bytes, salt: bytes, data: bytes) -> bytes:
    h = hashlib.sha256()
    h.update(_field(PREFIX))
    h.update(_field(domain))
    h.update(_field(salt))
    h.update(_U64.pack(len(data)))
    h.update(data)
    return h.digest()


@dataclass(frozen=True, slots=True, eq=False)
class Opening:
    """The secret that opens a hash commitment: its 256-bit salt.

    Keep it secret until the commitment is to be opened, and never reuse it.  Its
    ``repr`` hides the salt, and ``==`` compares salts in constant time.

    Attributes:
        salt: :data:`SALT_BYTES` random bytes.
    """

    salt: bytes

    def __post_init__(self) -> None:
        salt = as_bytes(self.salt, "salt")
        if len(salt) != SALT_BYTES:
            raise ParameterError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
        object.__setattr__(self, "salt", salt)

    def __repr__(self) -> str:
        return "Opening(salt=<hidden>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Opening):
            return NotImplemented
        return hmac.compare_digest(self.salt, other.salt)

    def __hash__(self) -> int:
        return hash((Opening, self.salt))

    def to_bytes(self) -> bytes:
        """Serialize this opening (secret material until the commitment is opened).

        The encoding is the canonical :mod:`privkit.wire` value ``{"salt": <32 bytes>}``
        (62 bytes).

        Returns:
            The encoded opening.
        """
        return encode_value({"salt": self.salt})

    @classmethod
    def from_bytes(cls, data: BytesLike) -> Opening:
        """Decode an opening written by :meth:`to_bytes`, from untrusted bytes.

        Args:
            data: exactly one encoded opening.

        Returns:
            The opening.

        Raises:
            DecodeError: not a canonical wire value, not a dict with exactly the key
                ``"salt"``, or a salt that is not :data:`SALT_BYTES` bytes.
            ParameterError: ``data`` is not bytes-like.
        """
        raw = as_bytes(data, "data")
        if len(raw) > _MAX_OPENING_BYTES:
            raise DecodeError(
                f"an encoded opening is at most {_MAX_OPENING_BYTES} bytes, got {len(raw)}"
            )
        value = decode_value(raw, max_depth=1)
        if not isinstance(value, dict) or set(value) != _OPENING_KEYS:
            found = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise DecodeError(f"an opening must be a dict with the key 'salt', got {found}")
        salt = value["salt"]
        if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
            found = f"{len(salt)} bytes" if isinstance(salt, bytes) else type(salt).__name__
            raise DecodeError(f"an opening's salt must be {SALT_BYTES} bytes, got {found}")
        return cls(salt)


def commitment_for(data: BytesLike, opening: Opening, *, domain: str = DEFAULT_DOMAIN) -> bytes:
    """Recompute the commitment that ``opening`` makes to ``data`` (deterministic).

    Args:
        data: the committed bytes.
        opening: the opening (its salt).
        domain: the domain label the commitment was made under.

    Returns:
        The :data:`COMMITMENT_BYTES`-byte commitment.

    Raises:
        ParameterError: ``data`` is not bytes-like, ``opening`` is not an
            :class:`Opening`, or ``domain`` is not a non-empty printable ASCII str.
    """
    if not isinstance(opening, Opening):
        raise ParameterError(f"opening must be an Opening, got {type(opening).__name__}")
    return _digest(_check_domain(domain), opening.salt, as_bytes(data, "data"))


def commit(data: BytesLike, *, domain: str = DEFAULT_DOMAIN) -> tuple[bytes, Opening]:
    """Commit to ``data`` under a fresh random salt.

    Args:
        data: the bytes to commit to (any length).
        domain: a non-empty printable-ASCII label naming what is committed to; the
            verifier must use the same one.

    Returns:
        ``(commitment, opening)``: publish the 32-byte commitment, keep the opening
        secret until it is time to open.

    Raises:
        ParameterError: ``data`` is not bytes-like or ``domain`` is invalid.
    """
    domain_bytes = _check_domain(domain)
    payload = as_bytes(data, "data")
    opening = Opening(secrets.token_bytes(SALT_BYTES))
    return _digest(domain_bytes, opening.salt, payload), opening


def verify(
    commitment: BytesLike, data: BytesLike, opening: Opening, *, domain: str = DEFAULT_DOMAIN
) -> bool:
    """Check that ``commitment`` opens to ``data`` with ``opening`` under ``domain``.

    The comparison is constant-time in the commitment's contents
    (:func:`hmac.compare_digest`).

    Args:
        commitment: the published commitment (untrusted).
        data: the claimed data (untrusted).
        opening: the claimed opening (untrusted).
        domain: the domain label the verifier expects.

    Returns:
        ``True`` if and only if the commitment is :data:`COMMITMENT_BYTES` bytes and
        equals the commitment to ``data`` under ``opening`` and ``domain``.

    Raises:
        ParameterError: an argument has the wrong type or ``domain`` is invalid (a
            programming error, not a failed verification).
    """
    expected_commitment = as_bytes(commitment, "commitment")
    recomputed = commitment_for(data, opening, domain=domain)
    if len(expected_commitment) != COMMITMENT_BYTES:
        return False
    return hmac.compare_digest(expected_commitment, recomputed)
