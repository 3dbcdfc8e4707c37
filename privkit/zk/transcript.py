"""A Fiat-Shamir transcript: labelled, length-prefixed absorbs; challenges from SHAKE256.

A :class:`Transcript` turns an interactive public-coin proof into a non-interactive one:
the prover and the verifier absorb the same messages in the same order and both derive
each verifier challenge from everything absorbed so far.  The transcript is a byte
string ``T`` built from *records*; every challenge is SHAKE256 of ``T`` up to and
including that challenge's own record.  All integers are unsigned 64-bit little-endian
(``u64le``), and ``lp(x) = u64le(len(x)) || x``::

    T       = init || record*
    init    = 0x01 || lp(b"privkit.zk.transcript.v1") || lp(protocol) || u64le(version)
    append  = 0x02 || lp(label) || lp(data)                 (Transcript.append)
    squeeze = 0x03 || lp(label) || u64le(n)                  (Transcript.challenge_bytes)

    challenge_bytes(label, n) = SHAKE256(T || squeeze(label, n)).digest(n)
                                and T becomes T || squeeze(label, n)

    challenge_scalar(label)   = int.from_bytes(challenge_bytes(label, 64), "little") mod l
    l = 2**252 + 27742317777372353535851937790883648493   (the ristretto255 group order)

Because each record starts with its kind byte and every variable-length field carries its
length, ``T`` parses uniquely into its records: two different sequences of operations
give different byte strings, so (in the random-oracle model for SHAKE256) they give
independent challenges.  The squeeze record binds the label and the output length, and
it stays in ``T``, so later challenges depend on earlier ones and on everything absorbed
before and after them.  The 64-byte squeeze before the reduction mod ``l`` makes the
scalar's distance from uniform about ``2**-259``.

Labels are non-empty printable ASCII.  Labels that start with ``"privkit/"`` are
reserved for the binding helpers (:meth:`Transcript.bind_round`,
:meth:`~Transcript.bind_party`, :meth:`~Transcript.bind_statement`,
:meth:`~Transcript.bind_generators`), so what a helper absorbs can never be mistaken for
what a caller appends.  The byte-level specification with examples is in
``docs/zk-commitments.md``.

Security assumptions: a transcript is a public object (it holds no secret unless the
caller absorbs one; never absorb secrets).  Soundness needs *everything* the verifier
would see to be absorbed before the challenge: the protocol name and version (done at
construction), the statement, the generators, the round and the party where several
proofs share a context, and every prover message.  A missing absorb is the classic
"weak Fiat-Shamir" flaw.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Final

from privkit.errors import ParameterError
from privkit.wire.values import ValueLike, encode_value
from privkit.zk._bytes import BytesLike, as_bytes

__all__ = [
    "DOMAIN",
    "GROUP_ORDER",
    "MAX_CHALLENGE_BYTES",
    "OP_APPEND",
    "OP_INIT",
    "OP_SQUEEZE",
    "RESERVED_LABEL_PREFIX",
    "SCALAR_CHALLENGE_BYTES",
    "Transcript",
]

DOMAIN: Final = b"privkit.zk.transcript.v1"
"""The first field of every transcript: the construction and its version."""
GROUP_ORDER: Final = 2**252 + 27742317777372353535851937790883648493
"""``l``, the order of the ristretto255 group (RFC 9496)."""
SCALAR_CHALLENGE_BYTES: Final = 64
"""Bytes squeezed for one scalar challenge before the reduction mod ``l``."""
MAX_CHALLENGE_BYTES: Final = 1 << 20
"""The most bytes one :meth:`Transcript.challenge_bytes` call may squeeze."""
RESERVED_LABEL_PREFIX: Final = "privkit/"
"""Labels with this prefix belong to the binding helpers; :meth:`Transcript.append`
refuses them."""
OP_INIT: Final = 0x01
"""Kind byte of the initial record (protocol and version)."""
OP_APPEND: Final = 0x02
"""Kind byte of an absorb record."""
OP_SQUEEZE: Final = 0x03
"""Kind byte of a challenge record."""

_U64: Final = struct.Struct("<Q")
_U64_MAX: Final = (1 << 64) - 1


def _ascii_label(value: object, what: str) -> bytes:
    """Validate a non-empty printable-ASCII label and return its bytes."""
    if type(value) is not str or not value or not value.isascii() or not value.isprintable():
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ParameterError(f"{what} must be a non-empty printable ASCII str, got {shown[:60]}")
    return value.encode("ascii")


def _u64(value: object, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        raise ParameterError(f"{what} must be an int in [0, 2**64 - 1], got {value!r}")
    return _U64.pack(value)


def _lp(data: bytes) -> bytes:
    return _U64.pack(len(data)) + data


class Transcript:
    """A Fiat-Shamir transcript (see the module docstring for the exact bytes).

    >>> t = Transcript("privkit.example", version=1)
    >>> t.append("commitment", b"\\x01" * 32)
    >>> c = t.challenge_scalar("c")
    >>> 0 <= c < GROUP_ORDER
    True

    Args:
        protocol: a non-empty printable-ASCII name of the protocol the transcript is
            for (e.g. ``"privkit.zk.proofs.opening"``).
        version: the protocol's version, an int in ``[0, 2**64 - 1]``.

    Raises:
        ParameterError: ``protocol`` or ``version`` is invalid.
    """

    __slots__ = ("_hash", "_protocol", "_version")

    def __init__(self, protocol: str, *, version: int) -> None:
        name = _ascii_label(protocol, "protocol")
        record = bytes([OP_INIT]) + _lp(DOMAIN) + _lp(name) + _u64(version, "version")
        self._protocol = protocol
        self._version = version
        self._hash = hashlib.shake_256(record)

    @property
    def protocol(self) -> str:
        """The protocol name given at construction."""
        return self._protocol

    @property
    def version(self) -> int:
        """The protocol version given at construction."""
        return self._version

    def __repr__(self) -> str:
        return f"Transcript({self._protocol!r}, version={self._version})"

    def clone(self) -> Transcript:
        """An independent copy: absorbs and squeezes on either do not affect the other.

        Returns:
            A transcript in the same state.
        """
        other = Transcript.__new__(Transcript)
        other._protocol = self._protocol
        other._version = self._version
        other._hash = self._hash.copy()
        return other

    def _absorb(self, label: bytes, data: bytes) -> None:
        h = self._hash
        h.update(bytes([OP_APPEND]))
        h.update(_lp(label))
        h.update(_U64.pack(len(data)))
        h.update(data)

    def append(self, label: str, data: BytesLike) -> None:
        """Absorb one labelled message.

        Args:
            label: a non-empty printable-ASCII label saying what ``data`` is; it must
                not start with ``"privkit/"`` (reserved for the helpers).
            data: the message bytes (any length).

        Raises:
            ParameterError: ``label`` is invalid or reserved, or ``data`` is not
                bytes-like.
        """
        name = _ascii_label(label, "label")
        if label.startswith(RESERVED_LABEL_PREFIX):
            raise ParameterError(
                f"labels starting with {RESERVED_LABEL_PREFIX!r} are reserved for the "
                f"transcript's bind_* helpers; choose another label than {label!r}"
            )
        self._absorb(name, as_bytes(data, "data"))

    def append_value(self, label: str, value: ValueLike) -> None:
        """Absorb a structured value through its canonical :mod:`privkit.wire` encoding.

        Args:
            label: as for :meth:`append`.
            value: anything :func:`privkit.wire.encode_value` accepts.

        Raises:
            ParameterError: ``label`` is invalid or ``value`` cannot be encoded.
        """
        self.append(label, encode_value(value))

    def bind_round(self, round_number: int) -> None:
        """Absorb the protocol round: label ``"privkit/round"``, data ``u64le(round)``.

        Raises:
            ParameterError: ``round_number`` is not an int in ``[0, 2**64 - 1]``.
        """
        self._absorb(b"privkit/round", _u64(round_number, "round_number"))

    def bind_party(self, party: int | str | bytes) -> None:
        """Absorb the identity of the proving party: label ``"privkit/party"``, data
        the canonical wire encoding of ``party`` (so the int 1, the str ``"1"`` and the
        bytes ``b"1"`` are different parties).

        Raises:
            ParameterError: ``party`` is not an int (in the wire range), str or bytes.
        """
        if isinstance(party, bool) or not isinstance(party, int | str | bytes):
            raise ParameterError(f"party must be an int, str or bytes, got {type(party).__name__}")
        self._absorb(b"privkit/party", encode_value(party))

    def bind_statement(self, statement: ValueLike) -> None:
        """Absorb the public statement being proved: label ``"privkit/statement"``, data
        the canonical wire encoding of ``statement`` (bytes, a list of encoded points,
        a dict of named public values, ...).

        Raises:
            ParameterError: ``statement`` cannot be encoded as a wire value.
        """
        self._absorb(b"privkit/statement", encode_value(statement))

    def bind_generators(self, generators: Sequence[BytesLike]) -> None:
        """Absorb the group generators the proof uses: label ``"privkit/generators"``,
        data ``u64le(count) || lp(g_0) || lp(g_1) || ...``.

        Args:
            generators: the generators' canonical encodings, in order.

        Raises:
            ParameterError: ``generators`` is not a sequence of bytes-like values.
        """
        if isinstance(generators, str | bytes | bytearray | memoryview) or not isinstance(
            generators, Sequence
        ):
            raise ParameterError(
                f"generators must be a sequence of encodings, got {type(generators).__name__}"
            )
        parts = [_U64.pack(len(generators))]
        parts.extend(_lp(as_bytes(g, "generator")) for g in generators)
        self._absorb(b"privkit/generators", b"".join(parts))

    def challenge_bytes(self, label: str, n: int) -> bytes:
        """Squeeze ``n`` challenge bytes; the squeeze itself is recorded in the transcript.

        Args:
            label: a non-empty printable-ASCII label naming the challenge.
            n: how many bytes, ``1 <= n <=`` :data:`MAX_CHALLENGE_BYTES`.

        Returns:
            ``SHAKE256(T || 0x03 || lp(label) || u64le(n)).digest(n)``.

        Raises:
            ParameterError: ``label`` or ``n`` is invalid.
        """
        name = _ascii_label(label, "label")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHALLENGE_BYTES:
            raise ParameterError(f"n must be an int in [1, {MAX_CHALLENGE_BYTES}] bytes, got {n!r}")
        h = self._hash
        h.update(bytes([OP_SQUEEZE]))
        h.update(_lp(name))
        h.update(_U64.pack(n))
        return h.digest(n)

    def challenge_scalar(self, label: str) -> int:
        """Squeeze a challenge scalar: 64 bytes read little-endian, reduced mod ``l``.

        Args:
            label: a non-empty printable-ASCII label naming the challenge.

        Returns:
            An int in ``[0, GROUP_ORDER)``, statistically close to uniform.

        Raises:
            ParameterError: ``label`` is invalid.
        """
        raw = self.challenge_bytes(label, SCALAR_CHALLENGE_BYTES)
        return int.from_bytes(raw, "little") % GROUP_ORDER
