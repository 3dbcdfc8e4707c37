"""Sigma proofs about Pedersen commitments, made non-interactive with Fiat-Shamir.

Two proofs, both over ristretto255 with the commitments of :mod:`privkit.zk.pedersen`:

* :func:`prove_opening` / :func:`verify_opening_proof`: the prover knows an opening
  ``(v_0..v_{n-1}, r)`` of ``C = sum v_i G_i + r H`` (Okamoto's generalisation of
  Schnorr's proof).  The prover picks random ``a_i, b``, sends ``A = sum a_i G_i + b H``,
  gets the challenge ``c`` and answers ``z_i = a_i + c v_i`` and ``s = b + c r``; the
  verifier checks ``sum z_i G_i + s H == A + c C``.
* :func:`prove_equal` / :func:`verify_equal`: two commitments ``C1`` (generators ``G_i``,
  ``H``) and ``C2`` (generators ``G'_i``, ``H'``, possibly the same ones) commit to the
  same values, with independent blindings.  Nonces ``a_i, b1, b2``;
  ``A1 = sum a_i G_i + b1 H``, ``A2 = sum a_i G'_i + b2 H'``; answers
  ``z_i = a_i + c v_i``, ``s1 = b1 + c r1``, ``s2 = b2 + c r2``; the verifier checks both
  equations with the *same* ``z_i``.

Both are complete, special-sound (two accepting answers to different challenges for the
same ``A`` give an opening, so a prover who does not know one succeeds with probability
about ``1/l``) and honest-verifier zero-knowledge; Fiat-Shamir makes them non-interactive
in the random-oracle model.  The proof reveals nothing about the values beyond the
statement, provided the nonces are fresh: they come from :meth:`Scalar.random`.

Transcript.  Each proof absorbs, in this order, into the caller's
:class:`~privkit.zk.transcript.Transcript` (which already binds the application's
protocol name and version)::

    append("sigma.protocol", b"privkit.zk.proofs.opening" | b"privkit.zk.proofs.equal")
    append("sigma.version",  u64le(1))
    bind_round(round_number)     if round_number is not None
    bind_party(party)            if party is not None
    bind_generators([digest(G), H.to_bytes(), ...])      per generator set
    bind_statement([C.to_bytes(), ...])                   the commitments
    append("sigma.A", A.to_bytes())                       (A1 then A2 for equality)
    c = challenge_scalar("sigma.challenge")

The prover and the verifier must pass transcripts in the same state and the same
``round_number`` / ``party``; both calls leave the transcript advanced past the proof, so
several proofs can be chained on one transcript.

Timing.  The nonce commitment ``A`` is a multi-scalar multiplication over the secret
nonces; by default it uses the variable-time MSM (see :mod:`privkit.zk.pedersen` for when
that matters: a timing attacker learning about the nonces learns about the values,
since ``z_i - a_i = c v_i``).  ``constant_time=True`` uses constant-time scalar
multiplications instead (slow, about 60 µs per value).  Blinding terms are always
constant time.  Verification handles only public data.

Serialisation: :meth:`OpeningProof.to_bytes` / :meth:`EqualityProof.to_bytes` write a
canonical :mod:`privkit.wire` dict; ``from_bytes`` takes untrusted bytes, checks the size
against ``max_values`` before decoding, and raises :class:`~privkit.errors.DecodeError` on
anything malformed, including non-canonical scalars and points.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast

from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import decode_value, encode_value
from privkit.zk.group import ORDER, Point, Scalar, msm
from privkit.zk.pedersen import Commitment, Generators, Opening, verify_opening
from privkit.zk.transcript import Transcript

__all__ = [
    "PROTOCOL_EQUAL",
    "PROTOCOL_OPENING",
    "VERSION",
    "EqualityProof",
    "OpeningProof",
    "prove_equal",
    "prove_opening",
    "verify_equal",
    "verify_opening_proof",
]

PROTOCOL_OPENING: Final = "privkit.zk.proofs.opening"
"""The protocol name absorbed by the proof of knowledge of an opening."""
PROTOCOL_EQUAL: Final = "privkit.zk.proofs.equal"
"""The protocol name absorbed by the proof of equal committed values."""
VERSION: Final = 1
"""The version of both proofs' transcript layout and encoding."""

_U64: Final = struct.Struct("<Q")
_SCALAR: Final = 32
# a generous bound on the wire overhead of an encoded proof (tags, keys, lengths, type)
_OVERHEAD: Final = 512

Party = int | str | bytes


def _scalars_bytes(scalars: Sequence[Scalar]) -> bytes:
    return b"".join(s.to_bytes() for s in scalars)


def _scalars_from(data: bytes, what: str) -> tuple[Scalar, ...]:
    if len(data) % _SCALAR:
        raise DecodeError(f"{what} must be a multiple of 32 bytes, got {len(data)}")
    return tuple(Scalar.from_bytes(data[i : i + _SCALAR]) for i in range(0, len(data), _SCALAR))


def _decode_dict(
    data: object, max_values: int, kind: str, keys: frozenset[str]
) -> dict[str, bytes]:
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 0:
        raise ParameterError(f"max_values must be a non-negative int, got {max_values!r}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParameterError(f"data must be bytes, got {type(data).__name__}")
    limit = _OVERHEAD + _SCALAR * max_values
    if len(data) > limit:
        raise DecodeError(
            f"an encoded {kind} proof of at most {max_values} values is at most "
            f"{limit} bytes, got {len(data)}"
        )
    value = decode_value(data, max_depth=1)
    if not isinstance(value, dict) or set(value) != keys | {"type", "version"}:
        raise DecodeError(f"a {kind} proof must be a dict with the keys {sorted(keys)}")
    if value["type"] != kind or value["version"] != VERSION:
        raise DecodeError(f"not a version-{VERSION} {kind} proof")
    out: dict[str, bytes] = {}
    for key in keys:
        field = value[key]
        if not isinstance(field, bytes):
            raise DecodeError(f"the field {key!r} of a {kind} proof must be bytes")
        out[key] = field
    return out


@dataclass(frozen=True, slots=True)
class OpeningProof:
    """A proof of knowledge of an opening (public; reveals nothing about the values).

    Attributes:
        a: the nonce commitment ``A``.
        z: the responses ``z_i``, one per committed value.
        s: the blinding response.
    """

    a: Point
    z: tuple[Scalar, ...]
    s: Scalar

    def to_bytes(self) -> bytes:
        """The canonical wire dict ``{"a", "s", "type", "version", "z"}`` (``z``: 32n bytes)."""
        return encode_value(
            {
                "a": self.a.to_bytes(),
                "s": self.s.to_bytes(),
                "type": PROTOCOL_OPENING,
                "version": VERSION,
                "z": _scalars_bytes(self.z),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, max_values: int) -> OpeningProof:
        """Decode a proof from untrusted bytes.

        Args:
            data: one encoding written by :meth:`to_bytes`.
            max_values: the most values the proof may cover (bounds the size up front).

        Raises:
            DecodeError: too long, malformed, wrong type or version, or a non-canonical
                scalar or point.
        """
        fields = _decode_dict(data, max_values, PROTOCOL_OPENING, frozenset({"a", "s", "z"}))
        z = _scalars_from(fields["z"], "z")
        if len(z) > max_values:
            raise DecodeError(f"the proof covers {len(z)} values, more than {max_values}")
        return cls(Point.from_bytes(fields["a"]), z, Scalar.from_bytes(fields["s"]))


@dataclass(frozen=True, slots=True)
class EqualityProof:
    """A proof that two commitments hold the same values (public).

    Attributes:
        a1: the nonce commitment under the first generators.
        a2: the nonce commitment under the second generators.
        z: the shared value responses.
        s1: the first blinding response.
        s2: the second blinding response.
    """

    a1: Point
    a2: Point
    z: tuple[Scalar, ...]
    s1: Scalar
    s2: Scalar

    def to_bytes(self) -> bytes:
        """The canonical wire dict ``{"a1", "a2", "s1", "s2", "type", "version", "z"}``."""
        return encode_value(
            {
                "a1": self.a1.to_bytes(),
                "a2": self.a2.to_bytes(),
                "s1": self.s1.to_bytes(),
                "s2": self.s2.to_bytes(),
                "type": PROTOCOL_EQUAL,
                "version": VERSION,
                "z": _scalars_bytes(self.z),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, max_values: int) -> EqualityProof:
        """Decode a proof from untrusted bytes (see :meth:`OpeningProof.from_bytes`).

        Raises:
            DecodeError: too long, malformed, wrong type or version, or a non-canonical
                scalar or point.
        """
        keys = frozenset({"a1", "a2", "s1", "s2", "z"})
        fields = _decode_dict(data, max_values, PROTOCOL_EQUAL, keys)
        z = _scalars_from(fields["z"], "z")
        if len(z) > max_values:
            raise DecodeError(f"the proof covers {len(z)} values, more than {max_values}")
        return cls(
            Point.from_bytes(fields["a1"]),
            Point.from_bytes(fields["a2"]),
            z,
            Scalar.from_bytes(fields["s1"]),
            Scalar.from_bytes(fields["s2"]),
        )


def _gens(generators: object, n: int) -> Generators:
    if generators is None:
        return Generators.derive(n)
    if not isinstance(generators, Generators):
        raise ParameterError(f"generators must be Generators, got {type(generators).__name__}")
    if generators.n != n:
        raise ParameterError(f"{n} values for {generators.n} generators")
    return generators


def _bind(
    transcript: Transcript,
    protocol: str,
    round_number: int | None,
    party: Party | None,
    generator_sets: Sequence[Generators],
    commitments: Sequence[Commitment],
    nonce_points: Sequence[Point],
) -> Scalar:
    if not isinstance(transcript, Transcript):
        raise ParameterError(f"transcript must be a Transcript, got {type(transcript).__name__}")
    transcript.append("sigma.protocol", protocol.encode("ascii"))
    transcript.append("sigma.version", _U64.pack(VERSION))
    if round_number is not None:
        transcript.bind_round(round_number)
    if party is not None:
        transcript.bind_party(party)
    gens: list[bytes] = []
    for g in generator_sets:
        gens.extend((g.digest(), g.h.to_bytes()))
    transcript.bind_generators(gens)
    transcript.bind_statement([c.to_bytes() for c in commitments])
    for a in nonce_points:
        transcript.append("sigma.A", a.to_bytes())
    return Scalar.from_int(transcript.challenge_scalar("sigma.challenge"))


def _nonce_point(nonces: Sequence[Scalar], gens: Generators, *, constant_time: bool) -> Point:
    if constant_time:
        total = Point.identity()
        for i, a in enumerate(nonces):
            total = total + gens.point(i) * a
        return total
    return msm(nonces, gens.array)


def _check_opening(commitment: object, opening: object, gens: Generators, what: str) -> None:
    if not isinstance(commitment, Commitment):
        raise ParameterError(f"{what} must be a Commitment, got {type(commitment).__name__}")
    if not isinstance(opening, Opening):
        raise ParameterError(f"the opening must be an Opening, got {type(opening).__name__}")
    if not verify_opening(commitment, opening, generators=gens):
        raise ParameterError(f"the opening does not open {what} under the given generators")


def prove_opening(
    commitment: Commitment,
    opening: Opening,
    transcript: Transcript,
    *,
    generators: Generators | None = None,
    round_number: int | None = None,
    party: Party | None = None,
    constant_time: bool = False,
) -> OpeningProof:
    """Prove knowledge of ``opening`` for ``commitment`` (non-interactive).

    Args:
        commitment: the public commitment.
        opening: its opening (secret; only the proof is revealed).
        transcript: the Fiat-Shamir transcript (advanced by this call).
        generators: the commitment's generators; ``Generators.derive(len(opening))``
            by default.
        round_number: the protocol round to bind, if any.
        party: the proving party to bind, if any.
        constant_time: compute the nonce commitment in constant time (slow).

    Raises:
        ParameterError: wrong types, or the opening does not open the commitment.
    """
    if not isinstance(cast(object, opening), Opening):
        raise ParameterError(f"opening must be an Opening, got {type(opening).__name__}")
    gens = _gens(generators, len(opening))
    _check_opening(commitment, opening, gens, "the commitment")
    nonces = [Scalar.random() for _ in range(len(opening))]
    b = Scalar.random()
    a_point = _nonce_point(nonces, gens, constant_time=constant_time) + gens.h * b
    c = _bind(transcript, PROTOCOL_OPENING, round_number, party, [gens], [commitment], [a_point])
    z = tuple(a + c * v for a, v in zip(nonces, opening.values, strict=True))
    return OpeningProof(a_point, z, b + c * opening.blinding)


def verify_opening_proof(
    commitment: Commitment,
    proof: OpeningProof,
    transcript: Transcript,
    *,
    generators: Generators | None = None,
    round_number: int | None = None,
    party: Party | None = None,
) -> bool:
    """Check a proof of knowledge of an opening.

    The transcript, ``generators``, ``round_number`` and ``party`` must be those the prover
    used.  Returns ``False`` for any proof that does not verify (wrong statement,
    altered field, other transcript, wrong length), and for arguments of the wrong type.
    """
    if not isinstance(cast(object, commitment), Commitment) or not isinstance(
        cast(object, proof), OpeningProof
    ):
        return False
    try:
        gens = _gens(generators, len(proof.z))
    except ParameterError:
        return False
    c = _bind(transcript, PROTOCOL_OPENING, round_number, party, [gens], [commitment], [proof.a])
    lhs = msm(proof.z, gens.array) + gens.h * proof.s
    return lhs == proof.a + commitment.point * c


def _values_equal(o1: Opening, o2: Opening) -> bool:
    b1 = b"".join((v % ORDER).to_bytes(_SCALAR, "little") for v in o1.values)
    b2 = b"".join((v % ORDER).to_bytes(_SCALAR, "little") for v in o2.values)
    return hmac.compare_digest(b1, b2)


def prove_equal(
    commitment1: Commitment,
    opening1: Opening,
    commitment2: Commitment,
    opening2: Opening,
    transcript: Transcript,
    *,
    generators1: Generators | None = None,
    generators2: Generators | None = None,
    round_number: int | None = None,
    party: Party | None = None,
    constant_time: bool = False,
) -> EqualityProof:
    """Prove that two commitments hold the same values (non-interactive).

    Args:
        commitment1, opening1: the first commitment and its opening.
        commitment2, opening2: the second; its values must equal the first's (mod l),
            its blinding and generators may differ.
        transcript: the Fiat-Shamir transcript (advanced by this call).
        generators1, generators2: the two generator sets (default: the default
            generators of the right length for both).
        round_number, party, constant_time: as for :func:`prove_opening`.

    Raises:
        ParameterError: wrong types, an opening that does not open its commitment, or
            openings with different values (the message does not show them).
    """
    for o in (opening1, opening2):
        if not isinstance(cast(object, o), Opening):
            raise ParameterError(f"openings must be Openings, got {type(o).__name__}")
    n = len(opening1)
    if len(opening2) != n or not _values_equal(opening1, opening2):
        raise ParameterError("the two openings do not hold the same values")
    g1 = _gens(generators1, n)
    g2 = _gens(generators2, n)
    _check_opening(commitment1, opening1, g1, "commitment1")
    _check_opening(commitment2, opening2, g2, "commitment2")
    nonces = [Scalar.random() for _ in range(n)]
    b1, b2 = Scalar.random(), Scalar.random()
    a1 = _nonce_point(nonces, g1, constant_time=constant_time) + g1.h * b1
    a2 = _nonce_point(nonces, g2, constant_time=constant_time) + g2.h * b2
    c = _bind(
        transcript,
        PROTOCOL_EQUAL,
        round_number,
        party,
        [g1, g2],
        [commitment1, commitment2],
        [a1, a2],
    )
    z = tuple(a + c * v for a, v in zip(nonces, opening1.values, strict=True))
    return EqualityProof(a1, a2, z, b1 + c * opening1.blinding, b2 + c * opening2.blinding)


def verify_equal(
    commitment1: Commitment,
    commitment2: Commitment,
    proof: EqualityProof,
    transcript: Transcript,
    *,
    generators1: Generators | None = None,
    generators2: Generators | None = None,
    round_number: int | None = None,
    party: Party | None = None,
) -> bool:
    """Check a proof that two commitments hold the same values.

    Returns ``False`` for any proof that does not verify and for arguments of the
    wrong type (see :func:`verify_opening_proof`).
    """
    if (
        not isinstance(cast(object, commitment1), Commitment)
        or not isinstance(cast(object, commitment2), Commitment)
        or not isinstance(cast(object, proof), EqualityProof)
    ):
        return False
    n = len(proof.z)
    try:
        g1 = _gens(generators1, n)
        g2 = _gens(generators2, n)
    except ParameterError:
        return False
    c = _bind(
        transcript,
        PROTOCOL_EQUAL,
        round_number,
        party,
        [g1, g2],
        [commitment1, commitment2],
        [proof.a1, proof.a2],
    )
    ok1 = msm(proof.z, g1.array) + g1.h * proof.s1 == proof.a1 + commitment1.point * c
    ok2 = msm(proof.z, g2.array) + g2.h * proof.s2 == proof.a2 + commitment2.point * c
    return ok1 and ok2
