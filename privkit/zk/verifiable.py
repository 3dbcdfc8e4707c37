"""Verifiable aggregation: anyone can check a secure sum against the clients' commitments.

The protocol (one round, ``round_id`` a public byte string naming it):

1. Each client ``i`` encodes its update with the fixed-point encoding of the secure sum
   (``scheme.encoding`` of the :class:`~privkit.secagg.SecAgg` scheme), commits to the
   signed integers with a fresh blinding ``r_i`` (:func:`commit_client_update`, built
   on :func:`privkit.zk.pedersen.commit_update`) and publishes a
   :class:`ClientCommitment` ``C_i`` bound to ``(round_id, client id, length)``,
   signed with its :class:`~privkit.identity.NodeIdentity` when it has one.
2. The clients run the secure sum of their updates (SecAgg) as usual.
3. The clients run a second secure sum over their blindings: each ``r_i`` (a scalar
   below ``l < 2**253``) is split into 16 limbs of 16 bits (:func:`blinding_limbs`);
   the limb vectors are summed by a SecAgg scheme whose encoding is exact on integers
   (:func:`blinding_scheme`: ``frac_bits = 0``, ``clip = 65535``), and the limb sums
   recombine to ``sum_i r_i mod l`` (:func:`blinding_from_limb_sum`).  The secure sum
   reveals only ``sum_i r_i``, never one ``r_i``.
4. The aggregator publishes an :class:`AggregateClaim` ``(round_id, survivors,
   aggregate, blinding_sum)`` (:func:`make_claim` checks that both secure sums have
   the same survivors).
5. Anyone runs :func:`verify_aggregate`: the aggregate must lie on the encoding's grid,
   every survivor must have exactly one commitment for this round, and
   ``sum_{i in survivors} C_i == commit(aggregate / resolution, blinding_sum)``.

What it proves: under the discrete-logarithm assumption in ristretto255, an aggregator
that passes verification published exactly the sum of the encoded updates that the
claimed survivors committed to for this round -- it cannot drop, alter or replay a
survivor's contribution, nor add one from a client outside the survivors.  What it does
not prove: that the survivor set is fair (an aggregator may still claim that an honest
client dropped out; with a roster, SecAgg's signed survivor set limits this), nor that
a client's update is well formed or bounded (a client can commit to anything; range
proofs are a later item), nor that a client fed the secure sums the same update and
blinding it committed to -- a client that does not only makes the round fail to
verify (a denial of service, not a forgery), and it cannot be told apart from a
cheating aggregator by this check alone.

Without ``roster=``, :func:`verify_aggregate` checks no signatures and a commitment's
client id is only a label: whoever hands the verifier the commitments is trusted to
hand over the clients' own.  With signed commitments and a roster, nobody can substitute
or relabel one (a commitment relabelled to another round fails its signature).

Hiding: ``C_i`` is perfectly hiding; the published ``blinding_sum`` opens only the sum
of the commitments, which is the aggregate that is public anyway.  Individual blindings
and updates never appear in a repr or an error message of this module.

The encoding must round deterministically (``stochastic=False``): the client encodes
once for the commitment and the secure sum encodes again, and both must agree.  The
aggregate must be the sum (a SecAgg scheme with ``mean=False`` and ``weighted=False``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from privkit.clientid import (
    ClientId,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
    describe_client_id,
    is_client_id,
)
from privkit.encoding import FixedPoint
from privkit.errors import (
    DecodeError,
    ParameterError,
    PrivkitError,
    ProtocolError,
    VerificationError,
)
from privkit.identity import NodeIdentity, Roster
from privkit.secagg import SecAgg
from privkit.wire.values import decode_value, encode_value
from privkit.zk.group import ORDER, Scalar
from privkit.zk.pedersen import (
    COMMITMENT_BYTES,
    Commitment,
    Generators,
    Opening,
    commit_update,
    commitment_for,
)

__all__ = [
    "BLINDING_LIMBS",
    "BLINDING_LIMB_BITS",
    "PROTOCOL",
    "SIGNATURE_CONTEXT",
    "AggregateClaim",
    "ClientCommitment",
    "blinding_encoding",
    "blinding_from_limb_sum",
    "blinding_limbs",
    "blinding_scheme",
    "commit_client_update",
    "integer_aggregate",
    "make_claim",
    "verify_aggregate",
]

PROTOCOL: Final = "privkit.zk.verifiable.v1"
"""The protocol name bound into every signed statement."""
SIGNATURE_CONTEXT: Final = "privkit.zk.verifiable.v1/client-commitment"
"""The Ed25519 context of a client's signature over its commitment statement."""
BLINDING_LIMB_BITS: Final = 16
"""Bits per limb of a blinding in the blinding secure sum."""
BLINDING_LIMBS: Final = 16
"""Limbs per blinding: ``16 * 16 = 256 >= 253`` bits."""
MAX_ROUND_ID_BYTES: Final = 255
_LIMB_MAX: Final = (1 << BLINDING_LIMB_BITS) - 1
_EXACT_FLOAT: Final = 1 << 53
_SIGNATURE_BYTES: Final = 64


def _check_round_id(round_id: object, exc: type[PrivkitError] = ParameterError) -> bytes:
    if not isinstance(round_id, bytes) or not 0 < len(round_id) <= MAX_ROUND_ID_BYTES:
        shown = f"{len(round_id)} bytes" if isinstance(round_id, bytes) else type(round_id).__name__
        raise exc(f"round_id must be 1 to {MAX_ROUND_ID_BYTES} bytes, got {shown}")
    return round_id


def _check_length(length: object, exc: type[PrivkitError] = ParameterError) -> int:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise exc(f"length must be a non-negative int, got {type(length).__name__}")
    return length


def _check_exact_encoding(encoding: object) -> FixedPoint:
    if not isinstance(encoding, FixedPoint):
        raise ParameterError(f"encoding must be a FixedPoint, got {type(encoding).__name__}")
    if encoding.stochastic:
        raise ParameterError(
            "verifiable aggregation needs deterministic rounding (stochastic=False): the "
            "commitment and the secure sum encode the update separately and must agree"
        )
    return encoding


# ---------------------------------------------------------------- client commitments


@dataclass(frozen=True, eq=True)
class ClientCommitment:
    """A client's public commitment to its encoded update for one round.

    Attributes:
        round_id: the round it belongs to (1 to 255 bytes).
        client_id: the client's id.
        length: how many values are committed (the update's length).
        commitment: the Pedersen commitment.
        signature: an Ed25519 signature over :meth:`statement` with context
            :data:`SIGNATURE_CONTEXT`, or ``None`` for an unsigned commitment.
    """

    round_id: bytes
    client_id: ClientId
    length: int
    commitment: Commitment
    signature: bytes | None = None

    def __post_init__(self) -> None:
        _check_round_id(self.round_id)
        check_client_id(self.client_id)
        _check_length(self.length)
        if not isinstance(cast(object, self.commitment), Commitment):
            raise ParameterError(
                f"commitment must be a Commitment, got {type(self.commitment).__name__}"
            )
        if self.signature is not None and (
            not isinstance(self.signature, bytes) or len(self.signature) != _SIGNATURE_BYTES
        ):
            raise ParameterError(f"signature must be None or {_SIGNATURE_BYTES} bytes")

    def statement(self) -> bytes:
        """The bytes a client signs: the canonical :mod:`privkit.wire` value
        ``{"client", "commitment", "length", "protocol", "round"}``."""
        return encode_value(
            {
                "protocol": PROTOCOL,
                "round": self.round_id,
                "client": self.client_id,
                "length": self.length,
                "commitment": self.commitment.to_bytes(),
            }
        )

    def signed(self, identity: NodeIdentity) -> ClientCommitment:
        """This commitment with a signature by ``identity`` over :meth:`statement`."""
        if not isinstance(identity, NodeIdentity):
            raise ParameterError(f"identity must be a NodeIdentity, got {type(identity).__name__}")
        sig = identity.sign(self.statement(), context=SIGNATURE_CONTEXT)
        return ClientCommitment(self.round_id, self.client_id, self.length, self.commitment, sig)

    def verify_signature(self, roster: Roster) -> None:
        """Check the signature against the key ``roster`` admits for :attr:`client_id`.

        Raises:
            VerificationError: unsigned, or the signature does not verify.
            ProtocolError: the client is not in the roster.
        """
        if self.signature is None:
            raise VerificationError(
                f"the commitment of client {describe_client_id(self.client_id)} is unsigned"
            )
        roster.verify(self.client_id, self.statement(), self.signature, context=SIGNATURE_CONTEXT)

    def to_bytes(self) -> bytes:
        """The canonical :mod:`privkit.wire` value of the statement's fields plus
        ``"signature"`` (bytes or ``None``)."""
        return encode_value(
            {
                "protocol": PROTOCOL,
                "round": self.round_id,
                "client": self.client_id,
                "length": self.length,
                "commitment": self.commitment.to_bytes(),
                "signature": self.signature,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> ClientCommitment:
        """Decode a commitment from untrusted bytes (the signature is not checked here).

        Raises:
            DecodeError: malformed: not one canonical wire value, wrong fields or types,
                another protocol, or a non-canonical point.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"a client commitment must be bytes, got {type(data).__name__}")
        if len(data) > 1024:
            raise DecodeError("a client commitment is at most 1024 bytes")
        value = decode_value(data, max_depth=1)
        fields = {"protocol", "round", "client", "length", "commitment", "signature"}
        if not isinstance(value, dict) or set(value) != fields:
            raise DecodeError(f"a client commitment must be a dict with the keys {sorted(fields)}")
        if value["protocol"] != PROTOCOL:
            raise DecodeError(f"not a {PROTOCOL} client commitment")
        round_id = _check_round_id(value["round"], DecodeError)
        client = value["client"]
        if not is_client_id(client):
            raise DecodeError("the client id must be an int or a str")
        length = _check_length(value["length"], DecodeError)
        raw = value["commitment"]
        if not isinstance(raw, bytes) or len(raw) != COMMITMENT_BYTES:
            raise DecodeError(f"the commitment must be {COMMITMENT_BYTES} bytes")
        sig = value["signature"]
        if sig is not None and (not isinstance(sig, bytes) or len(sig) != _SIGNATURE_BYTES):
            raise DecodeError(f"the signature must be None or {_SIGNATURE_BYTES} bytes")
        assert isinstance(client, int | str)
        return cls(round_id, client, length, Commitment.from_bytes(raw), sig)


def commit_client_update(
    update: object,
    *,
    round_id: bytes,
    client_id: ClientId,
    encoding: FixedPoint,
    identity: NodeIdentity | None = None,
    generators: Generators | None = None,
) -> tuple[ClientCommitment, Opening]:
    """Step 1 of the protocol, on the client: commit to the encoded update.

    Args:
        update: the update, as the secure sum will receive it (anything
            :func:`privkit.encoding.flatten` accepts).
        round_id: the round's public name (1 to 255 bytes); a fresh one every round.
        client_id: this client's id.
        encoding: the secure sum's encoding (``scheme.encoding``), deterministic.
        identity: sign the commitment with this key when given.
        generators: defaults to ``Generators.derive(length)``.

    Returns:
        ``(public commitment, secret opening)``; feed
        ``blinding_limbs(opening.blinding)`` to the blinding secure sum and keep the
        opening secret.

    Raises:
        ParameterError: a bad argument, or a stochastic encoding.
    """
    enc = _check_exact_encoding(encoding)
    rid = _check_round_id(round_id)
    cid = check_client_id(client_id)
    commitment, opening = commit_update(update, encoding=enc, generators=generators)
    record = ClientCommitment(rid, cid, len(opening), commitment)
    if identity is not None:
        record = record.signed(identity)
    return record, opening


# ---------------------------------------------------------------- blinding secure sum


def blinding_limbs(blinding: Scalar) -> npt.NDArray[np.float64]:
    """Split a blinding into :data:`BLINDING_LIMBS` limbs of 16 bits, least significant first.

    Returned as float64 (exact: every limb is an integer in ``[0, 65535]``), the update
    type a SecAgg scheme from :func:`blinding_scheme` sums exactly.  Secret: feed it to
    the secure sum only.
    """
    if not isinstance(blinding, Scalar):
        raise ParameterError(f"blinding must be a Scalar, got {type(blinding).__name__}")
    limbs = np.frombuffer(blinding.to_bytes(), dtype="<u2")
    return limbs.astype(np.float64)


def blinding_from_limb_sum(limb_sum: npt.ArrayLike) -> Scalar:
    """Recombine the secure sum of blinding limbs: ``sum_k 2**(16k) * limb_sum[k] mod l``.

    Args:
        limb_sum: :data:`BLINDING_LIMBS` non-negative integers (float64 from a secure
            sum, or any integer dtype), each below ``2**53``.

    Raises:
        ParameterError: wrong length, or an entry that is not an exact non-negative
            integer below ``2**53`` (a sum through an inexact encoding).
    """
    arr = np.asarray(limb_sum)
    if arr.shape != (BLINDING_LIMBS,) or arr.dtype.kind not in "iuf":
        raise ParameterError(
            f"limb_sum must be {BLINDING_LIMBS} numbers, got shape {arr.shape} of {arr.dtype}"
        )
    total = 0
    for k, v in enumerate(arr.tolist()):
        if isinstance(v, float) and not v.is_integer():
            raise ParameterError(f"limb sum {k} is not an integer: the encoding was not exact")
        iv = int(v)
        if not 0 <= iv < _EXACT_FLOAT:
            raise ParameterError(f"limb sum {k} is out of range [0, 2**53)")
        total += iv << (BLINDING_LIMB_BITS * k)
    return Scalar.from_int(total % ORDER)


def blinding_encoding(max_clients: int, *, bits: int = 32) -> FixedPoint:
    """The integer-exact encoding of the blinding secure sum (``frac_bits=0``, ``clip=65535``).

    Raises:
        ParameterError: ``max_clients`` sums of 65535 would wrap ``bits`` bits.
    """
    if isinstance(max_clients, bool) or not isinstance(max_clients, int) or max_clients < 1:
        raise ParameterError(f"max_clients must be a positive int, got {max_clients!r}")
    enc = FixedPoint(bits=bits, frac_bits=0, clip=float(_LIMB_MAX))
    if enc.max_summands < max_clients:
        raise ParameterError(
            f"{bits}-bit limbs sums hold at most {enc.max_summands} clients; use bits=64"
        )
    return enc


def _check_blinding_encoding(encoding: object) -> FixedPoint:
    if not isinstance(encoding, FixedPoint):
        raise ParameterError(f"encoding must be a FixedPoint, got {type(encoding).__name__}")
    if encoding.frac_bits != 0 or encoding.clip < _LIMB_MAX or encoding.stochastic:
        raise ParameterError(
            "the blinding secure sum needs an exact integer encoding: frac_bits=0, "
            f"clip >= {_LIMB_MAX}, stochastic=False (see blinding_encoding)"
        )
    return encoding


def blinding_scheme(
    max_clients: int,
    *,
    threshold: int | float,
    neighbours: int | None = None,
    roster: Roster | None = None,
    bits: int = 32,
) -> SecAgg:
    """A :class:`~privkit.secagg.SecAgg` scheme that sums blinding limbs exactly.

    Args:
        max_clients: the most clients a round may have.
        threshold, neighbours, roster: as for :class:`~privkit.secagg.SecAgg`; use the
            same as for the update round.
        bits: ring width (32 holds up to 32768 clients).

    Raises:
        ParameterError: as :func:`blinding_encoding` and :class:`~privkit.secagg.SecAgg`.
    """
    return SecAgg(
        threshold=threshold,
        neighbours=neighbours,
        encoding=blinding_encoding(max_clients, bits=bits),
        max_clients=max_clients,
        roster=roster,
    )


# ---------------------------------------------------------------- the aggregator's claim


@dataclass(frozen=True, eq=False)
class AggregateClaim:
    """What the aggregator publishes: the sum over the survivors and the summed blinding.

    Attributes:
        round_id: the round.
        survivors: the clients whose updates are in the sum, canonical order.
        aggregate: the decoded sum (read-only float64, 1-D), as the secure sum returns it.
        blinding_sum: ``sum of the survivors' blindings mod l`` (public: it opens only
            the sum of the commitments).
    """

    round_id: bytes
    survivors: tuple[ClientId, ...]
    aggregate: npt.NDArray[np.float64]
    blinding_sum: Scalar

    def __post_init__(self) -> None:
        _check_round_id(self.round_id)
        ids = check_client_ids(self.survivors)
        if tuple(self.survivors) != ids:
            raise ParameterError("survivors must be in canonical order")
        try:
            arr = np.array(self.aggregate, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise ParameterError("aggregate must be an array of numbers") from None
        if arr.ndim != 1:
            raise ParameterError(f"aggregate must be 1-D, got {arr.ndim} dimensions")
        arr.setflags(write=False)
        object.__setattr__(self, "survivors", ids)
        object.__setattr__(self, "aggregate", arr)
        if not isinstance(cast(object, self.blinding_sum), Scalar):
            raise ParameterError(
                f"blinding_sum must be a Scalar, got {type(self.blinding_sum).__name__}"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AggregateClaim):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash((AggregateClaim, self.to_bytes()))

    def __repr__(self) -> str:
        return (
            f"AggregateClaim(round_id={self.round_id!r}, survivors={len(self.survivors)}, "
            f"length={self.aggregate.size})"
        )

    def to_bytes(self) -> bytes:
        """The canonical :mod:`privkit.wire` value ``{"aggregate": float64 array,
        "blinding": 32 bytes, "protocol", "round", "survivors": [ids]}``."""
        return encode_value(
            {
                "protocol": PROTOCOL,
                "round": self.round_id,
                "survivors": list(self.survivors),
                "aggregate": self.aggregate,
                "blinding": self.blinding_sum.to_bytes(),
            }
        )

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, max_length: int, max_survivors: int
    ) -> AggregateClaim:
        """Decode a claim from untrusted bytes.

        Args:
            data: one encoding from :meth:`to_bytes`.
            max_length: the longest aggregate accepted.
            max_survivors: the most survivors accepted.

        Raises:
            DecodeError: malformed or too large.
        """
        for name, bound in (("max_length", max_length), ("max_survivors", max_survivors)):
            if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
                raise ParameterError(f"{name} must be a non-negative int, got {bound!r}")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"a claim must be bytes, got {type(data).__name__}")
        if len(data) > 512 + 8 * max_length + 300 * max_survivors:
            raise DecodeError("the claim is too long for max_length / max_survivors")
        value = decode_value(data, max_depth=2)
        fields = {"protocol", "round", "survivors", "aggregate", "blinding"}
        if not isinstance(value, dict) or set(value) != fields:
            raise DecodeError(f"a claim must be a dict with the keys {sorted(fields)}")
        if value["protocol"] != PROTOCOL:
            raise DecodeError(f"not a {PROTOCOL} claim")
        round_id = _check_round_id(value["round"], DecodeError)
        survivors = value["survivors"]
        if not isinstance(survivors, list) or not all(is_client_id(s) for s in survivors):
            raise DecodeError("survivors must be a list of client ids")
        ids = [s for s in survivors if isinstance(s, int | str)]
        if len(ids) > max_survivors or not ids:
            raise DecodeError(f"a claim needs 1 to {max_survivors} survivors")
        if ids != sorted(ids, key=client_id_sort_key) or len(set(ids)) != len(ids):
            raise DecodeError("survivors must be in canonical order without duplicates")
        agg = value["aggregate"]
        if not isinstance(agg, np.ndarray) or agg.dtype != np.float64 or agg.ndim != 1:
            raise DecodeError("the aggregate must be a 1-D float64 array")
        if agg.size > max_length:
            raise DecodeError(f"the aggregate is longer than max_length={max_length}")
        blinding = value["blinding"]
        if not isinstance(blinding, bytes):
            raise DecodeError("the blinding sum must be 32 bytes")
        return cls(round_id, tuple(ids), agg, Scalar.from_bytes(blinding))


def make_claim(
    round_id: bytes,
    *,
    aggregate: npt.ArrayLike,
    survivors: Iterable[ClientId],
    blinding_limb_sum: npt.ArrayLike,
    blinding_survivors: Iterable[ClientId],
) -> AggregateClaim:
    """Step 4, on the aggregator: build the claim from the two secure sums' results.

    Args:
        round_id: the round.
        aggregate, survivors: the update secure sum's result (``LocalResult.aggregate``
            and ``.survivors``, or a server session's output).
        blinding_limb_sum, blinding_survivors: the blinding secure sum's result.

    Raises:
        ProtocolError: the two secure sums have different survivors (their sums would
            not match; rerun the round).
        ParameterError: a malformed argument.
    """
    ids = check_client_ids(survivors)
    bids = check_client_ids(blinding_survivors)
    if ids != bids:
        missing = sorted(set(ids) ^ set(bids), key=client_id_sort_key)
        shown = ", ".join(describe_client_id(c) for c in missing[:5])
        raise ProtocolError(
            f"the update and blinding secure sums have different survivors (differ in {shown})"
        )
    return AggregateClaim(
        round_id,
        ids,
        np.asarray(aggregate, dtype=np.float64),
        blinding_from_limb_sum(blinding_limb_sum),
    )


# ---------------------------------------------------------------- verification


def integer_aggregate(
    aggregate: npt.ArrayLike, *, encoding: FixedPoint, n_summands: int
) -> npt.NDArray[np.int64]:
    """The signed integer sum that a decoded aggregate stands for: ``aggregate / resolution``.

    Raises:
        VerificationError: an entry is not finite, not exactly on the encoding's grid, or
            beyond what ``n_summands`` encodings can sum to (``n_summands * qmax``).
        ParameterError: ``n_summands`` is not in ``[1, encoding.max_summands]``.
    """
    enc = _check_exact_encoding(encoding)
    if isinstance(n_summands, bool) or not isinstance(n_summands, int):
        raise ParameterError(f"n_summands must be an int, got {type(n_summands).__name__}")
    if not 1 <= n_summands <= enc.max_summands:
        raise ParameterError(
            f"{n_summands} summands: the encoding sums 1 to {enc.max_summands} without wrapping"
        )
    bound = n_summands * enc.qmax
    if bound >= _EXACT_FLOAT:
        raise ParameterError("sums beyond 2**53 ring units are not exact in float64")
    arr = np.asarray(aggregate, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise VerificationError("the aggregate holds a non-finite value")
    scaled = np.ldexp(arr, enc.frac_bits)  # exact: a power-of-two scaling
    ints = np.rint(scaled)
    off = np.flatnonzero(ints != scaled)
    if off.size:
        raise VerificationError(
            f"the aggregate is not on the encoding's grid (coordinate {int(off[0])})"
        )
    if arr.size and float(np.max(np.abs(ints))) > bound:
        raise VerificationError(
            f"the aggregate exceeds what {n_summands} clipped updates can sum to"
        )
    return ints.astype(np.int64)


def verify_aggregate(
    claim: AggregateClaim,
    commitments: Iterable[ClientCommitment],
    *,
    encoding: FixedPoint,
    generators: Generators | None = None,
    roster: Roster | None = None,
) -> None:
    """Step 5, by anyone: check the aggregator's claim against the clients' commitments.

    Pass this round's commitments (all that the clients published, dropped-out clients
    included: commitments of clients outside the survivors are ignored).

    Checks, in order: (1) every commitment is for ``claim.round_id`` (an old
    commitment is a replay); (2) no client has two commitments; (3) every survivor has a
    commitment, of the aggregate's length; (4) with ``roster``, every survivor's
    commitment carries a valid signature; (5) the survivors are no more than the
    encoding sums without wrapping, and the aggregate lies on the encoding's grid within
    the range ``len(survivors)`` updates can reach (:func:`integer_aggregate`);
    (6) ``sum of the survivors' C_i == commit(integer aggregate, blinding_sum)``.

    Args:
        claim: the aggregator's claim (untrusted).
        commitments: the clients' published commitments (untrusted).
        encoding: the secure sum's encoding (deterministic).
        generators: defaults to ``Generators.derive(len(claim.aggregate))``.
        roster: require and check the survivors' signatures.

    Returns:
        ``None``: the claim verifies when nothing is raised.

    Raises:
        VerificationError: a check failed; the message says which (it names client ids
            and coordinates, never updates or blindings).
        ProtocolError: (with ``roster``) a survivor is not in the roster.
        ParameterError: a malformed argument, or an encoding whose sums can exceed
            ``2**53`` ring units (not exact in the float64 aggregate: use 32-bit
            encodings, or fewer clients).
    """
    if not isinstance(cast(object, claim), AggregateClaim):
        raise ParameterError(f"claim must be an AggregateClaim, got {type(claim).__name__}")
    enc = _check_exact_encoding(encoding)
    if isinstance(commitments, ClientCommitment | bytes | str):
        raise ParameterError("commitments must be an iterable of ClientCommitment")
    by_client: dict[ClientId, ClientCommitment] = {}
    for c in commitments:
        if not isinstance(cast(object, c), ClientCommitment):
            raise ParameterError(f"commitments must be ClientCommitment, got {type(c).__name__}")
        who = describe_client_id(c.client_id)
        if not hmac.compare_digest(c.round_id, claim.round_id):
            raise VerificationError(
                f"the commitment of client {who} is for another round (a replay)"
            )
        if c.client_id in by_client:
            raise VerificationError(f"client {who} has more than one commitment this round")
        by_client[c.client_id] = c
    n = claim.aggregate.size
    for cid in claim.survivors:
        who = describe_client_id(cid)
        record = by_client.get(cid)
        if record is None:
            raise VerificationError(f"survivor {who} has no commitment for this round")
        if record.length != n:
            raise VerificationError(
                f"survivor {who} committed to {record.length} values, the aggregate has {n}"
            )
        if roster is not None:
            record.verify_signature(roster)
    if len(claim.survivors) > enc.max_summands:
        raise VerificationError(
            f"{len(claim.survivors)} survivors: the encoding sums at most "
            f"{enc.max_summands} updates without wrapping"
        )
    ints = integer_aggregate(claim.aggregate, encoding=enc, n_summands=len(claim.survivors))
    if generators is not None and (
        not isinstance(cast(object, generators), Generators) or generators.n != n
    ):
        raise ParameterError(f"generators must be Generators for {n} values")
    total = _sum_commitments(by_client[cid].commitment for cid in claim.survivors)
    expected = commitment_for(Opening(ints, claim.blinding_sum), generators=generators)
    if total != expected:
        raise VerificationError(
            "the sum of the survivors' commitments does not open to the aggregate with the "
            "claimed blinding sum: a contribution was dropped, altered or replayed, or the "
            "blinding sum is wrong"
        )


def _sum_commitments(commitments: Iterable[Commitment]) -> Commitment:
    items: Sequence[Commitment] = list(commitments)
    total = items[0]
    for c in items[1:]:
        total = total + c
    return total
