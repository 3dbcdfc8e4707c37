"""Signed envelopes with replay protection: :func:`seal` and :func:`open_sealed`.

A sealed message is a :mod:`privkit.wire` message of type ``IDENTITY_SEALED`` whose body
is the dict::

    {"type": inner message type (u16), "signer": 32-byte Ed25519 public key,
     "round": round id (u64), "nonce": 16 random bytes, "body": the payload value,
     "signature": 64 bytes}

The signature is :meth:`NodeIdentity.sign` with context
``"privkit.identity.sealed.v1/" + context`` over the canonical
:func:`privkit.wire.encode_value` encoding of ``{"format": "privkit.identity.sealed.v1",
"type", "signer", "round", "nonce", "body"}``.  The value encoding is canonical, so the
receiver re-encodes exactly the bytes that were signed; the context binds a sealed
message to one protocol step, so it cannot be replayed as another kind of message.

:func:`open_sealed` checks, in this order: the envelope and body are well formed
(:class:`~privkit.errors.DecodeError`); the signer's key is in the roster and the
signature verifies (:class:`~privkit.errors.VerificationError`); the round is the
expected one and ``(signer, round, nonce)`` was not accepted before
(:class:`~privkit.errors.ProtocolError`).  Only a message that passed every check is
recorded in the :class:`ReplayCache`, so forged messages cannot fill or poison it.

Security assumptions: the roster was agreed over an authenticated channel; nonces come
from ``secrets`` (128 bits, so honest nonces never collide); a receiver keeps one
:class:`ReplayCache` for as long as it accepts messages of a round.  Replay protection
is per receiver: it stops the same message being accepted twice by one receiver, not a
message being delivered to several receivers, and it says nothing about messages being
withheld or reordered.  Bodies are not encrypted: sealing authenticates, it does not
hide.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Collection
from typing import Final, final

from privkit import wire
from privkit.clientid import ClientId
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity.node import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    NodeIdentity,
    check_context,
    key_id,
)
from privkit.identity.roster import Roster
from privkit.wire import MessageType, Value, ValueLike

__all__ = [
    "NONCE_BYTES",
    "SEALED_FORMAT",
    "ReplayCache",
    "open_sealed",
    "seal",
]

SEALED_FORMAT: Final = "privkit.identity.sealed.v1"
"""The domain of sealed envelopes: the signed ``"format"`` field and the context prefix."""
NONCE_BYTES: Final = 16
"""Bytes of a sealed envelope's nonce."""
_MAX_ROUND: Final = 2**64 - 1
_BODY_KEYS: Final = frozenset({"type", "signer", "round", "nonce", "body", "signature"})


def _check_round(round_id: object, name: str = "round_id") -> int:
    if type(round_id) is not int or not 0 <= round_id <= _MAX_ROUND:
        raise ParameterError(f"{name} must be an int in [0, 2**64), got {type(round_id).__name__}")
    return round_id


def _check_type(message_type: object) -> int:
    if isinstance(message_type, bool) or not isinstance(message_type, int):
        raise ParameterError(
            f"message_type must be an int in 1..65535, got {type(message_type).__name__}"
        )
    if not 1 <= message_type <= 0xFFFF:
        raise ParameterError(f"message_type must be in 1..65535, got {int(message_type)}")
    return int(message_type)


def _sign_context(context: str) -> str:
    check_context(context)
    return f"{SEALED_FORMAT}/{context}"


def _signed_bytes(
    message_type: int, signer: bytes, round_id: int, nonce: bytes, body: ValueLike
) -> bytes:
    return wire.encode_value(
        {
            "format": SEALED_FORMAT,
            "type": message_type,
            "signer": signer,
            "round": round_id,
            "nonce": nonce,
            "body": body,
        }
    )


def seal(
    identity: NodeIdentity,
    message_type: int,
    body: ValueLike,
    *,
    round_id: int,
    nonce: bytes | None = None,
    context: str,
) -> bytes:
    """Sign a message for one round, with a fresh nonce, into a wire envelope.

    Args:
        identity: the sender's identity; its public key must be in the receivers'
            roster.
        message_type: the inner message type (a :class:`privkit.wire.MessageType` or a
            user tag), bound by the signature and checked with ``expect_type``.
        body: the payload, any :data:`privkit.wire.ValueLike`.
        round_id: the round this message belongs to, an int in ``[0, 2**64)``.
        nonce: 16 bytes; ``None`` (the default, and the only safe choice outside tests)
            draws them from :mod:`secrets`.
        context: a non-empty printable-ASCII label of the protocol step, e.g.
            ``"privkit.ledger.v1/countersign"``; the receiver must use the same.

    Returns:
        The ``IDENTITY_SEALED`` wire message.

    Raises:
        ParameterError: ``identity`` is not a :class:`NodeIdentity`, ``message_type`` is
            not in 1..65535, ``round_id`` is out of range, ``nonce`` is not 16 bytes,
            ``context`` is not printable ASCII, or ``body`` cannot be encoded.
    """
    if not isinstance(identity, NodeIdentity):
        raise ParameterError(f"identity must be a NodeIdentity, got {type(identity).__name__}")
    mtype = _check_type(message_type)
    rid = _check_round(round_id)
    ctx = _sign_context(context)
    if nonce is None:
        nonce_b = secrets.token_bytes(NONCE_BYTES)
    else:
        if (
            not isinstance(nonce, bytes | bytearray | memoryview)
            or len(bytes(nonce)) != NONCE_BYTES
        ):
            raise ParameterError(f"nonce must be {NONCE_BYTES} bytes or None")
        nonce_b = bytes(nonce)
    signer = identity.public_key
    signature = identity.sign(_signed_bytes(mtype, signer, rid, nonce_b, body), context=ctx)
    return wire.encode(
        MessageType.IDENTITY_SEALED,
        {
            "type": mtype,
            "signer": signer,
            "round": rid,
            "nonce": nonce_b,
            "body": body,
            "signature": signature,
        },
    )


@final
class ReplayCache:
    """The ``(signer, round, nonce)`` triples a receiver has accepted, with bounded memory.

    Memory is bounded two ways.  At most ``max_per_round`` nonces are kept per round:
    when a round is full, further messages of that round are refused (fail closed: a
    nonce is never forgotten while its round is accepted).  At most ``max_rounds``
    rounds are kept: recording a new round beyond that forgets the *lowest* round, and
    from then on every round at or below it is refused as too old, so a forgotten nonce
    can never be accepted again.

    The cache is thread-safe.  It holds public data only.

    Args:
        max_per_round: the most messages accepted per round (default 65536).
        max_rounds: the most rounds remembered at once (default 16).

    Raises:
        ParameterError: a bound is not a positive int.
    """

    __slots__ = ("_floor", "_lock", "_max_per_round", "_max_rounds", "_rounds")

    def __init__(self, *, max_per_round: int = 65536, max_rounds: int = 16) -> None:
        for name, value in (("max_per_round", max_per_round), ("max_rounds", max_rounds)):
            if type(value) is not int or value < 1:
                raise ParameterError(f"{name} must be a positive int, got {value!r}")
        self._max_per_round = max_per_round
        self._max_rounds = max_rounds
        self._rounds: dict[int, set[bytes]] = {}
        self._floor = 0  # rounds below this were forgotten and are refused
        self._lock = threading.Lock()

    def check_and_add(self, signer: bytes, round_id: int, nonce: bytes) -> None:
        """Record one accepted message, refusing it if it was seen before.

        Args:
            signer: the signer's 32-byte public key.
            round_id: the message's round.
            nonce: its 16-byte nonce.

        Raises:
            ProtocolError: ``"replay"``: this ``(signer, round, nonce)`` was recorded
                before; or the round is older than every round remembered (forgotten);
                or the round already holds ``max_per_round`` messages.
            ParameterError: an argument has the wrong type or length.
        """
        rid = _check_round(round_id)
        if not isinstance(signer, bytes) or len(signer) != PUBLIC_KEY_BYTES:
            raise ParameterError(f"signer must be {PUBLIC_KEY_BYTES} bytes")
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
            raise ParameterError(f"nonce must be {NONCE_BYTES} bytes")
        entry = signer + nonce
        with self._lock:
            if rid < self._floor:
                raise ProtocolError(
                    f"replay cache: round {rid} is older than every remembered round "
                    f"(rounds below {self._floor} are forgotten and refused)"
                )
            seen = self._rounds.get(rid)
            if seen is not None and entry in seen:
                raise ProtocolError(
                    f"replay: a message from key {key_id(signer)} with this nonce was "
                    f"already accepted in round {rid}"
                )
            if seen is None:
                if len(self._rounds) >= self._max_rounds:
                    lowest = min(self._rounds)
                    if rid < lowest:
                        raise ProtocolError(
                            f"replay cache: round {rid} is older than every remembered "
                            f"round ({self._max_rounds} rounds are kept)"
                        )
                    del self._rounds[lowest]
                    self._floor = lowest + 1
                seen = self._rounds[rid] = set()
            if len(seen) >= self._max_per_round:
                raise ProtocolError(
                    f"replay cache: round {rid} already holds {self._max_per_round} "
                    "messages; refusing more (raise max_per_round if that is expected)"
                )
            seen.add(entry)

    def __len__(self) -> int:
        """The number of ``(signer, round, nonce)`` triples remembered."""
        with self._lock:
            return sum(len(s) for s in self._rounds.values())

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"ReplayCache(rounds={len(self._rounds)}, max_rounds={self._max_rounds}, "
                f"max_per_round={self._max_per_round})"
            )


def _parse(msg_body: Value) -> tuple[int, bytes, int, bytes, Value, bytes]:
    if not isinstance(msg_body, dict):
        raise DecodeError(f"a sealed envelope body is a dict, got {type(msg_body).__name__}")
    if set(msg_body) != _BODY_KEYS:
        raise DecodeError(
            "a sealed envelope body has exactly the keys "
            f"{sorted(_BODY_KEYS)}, got {sorted(str(k) for k in msg_body)[:10]}"
        )
    mtype = msg_body["type"]
    if type(mtype) is not int or not 1 <= mtype <= 0xFFFF:
        raise DecodeError("sealed envelope: 'type' must be an int in 1..65535")
    signer = msg_body["signer"]
    if not isinstance(signer, bytes) or len(signer) != PUBLIC_KEY_BYTES:
        raise DecodeError(f"sealed envelope: 'signer' must be {PUBLIC_KEY_BYTES} bytes")
    rid = msg_body["round"]
    if type(rid) is not int or not 0 <= rid <= _MAX_ROUND:
        raise DecodeError("sealed envelope: 'round' must be an int in [0, 2**64)")
    nonce = msg_body["nonce"]
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise DecodeError(f"sealed envelope: 'nonce' must be {NONCE_BYTES} bytes")
    signature = msg_body["signature"]
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        raise DecodeError(f"sealed envelope: 'signature' must be {SIGNATURE_BYTES} bytes")
    return mtype, signer, rid, nonce, msg_body["body"], signature


def _find_signer(roster: Roster, signer: bytes) -> ClientId | None:
    found: ClientId | None = None
    for cid in roster.ids:
        if hmac.compare_digest(roster[cid], signer):
            found = cid
    return found


def open_sealed(
    data: bytes | bytearray | memoryview,
    *,
    roster: Roster,
    round_id: int,
    replay_cache: ReplayCache,
    context: str,
    expect_type: int | Collection[int] | None = None,
    max_size: int | None = None,
) -> tuple[ClientId, Value]:
    """Check a sealed message and return who sent it and its payload.

    Args:
        data: the ``IDENTITY_SEALED`` wire message (untrusted).
        roster: the admitted nodes; the signer's public key must be in it.
        round_id: the round the receiver is in; a message for any other round is refused.
        replay_cache: where accepted ``(signer, round, nonce)`` triples are remembered;
            the message is recorded in it only when every other check passed.
        context: the same context the sender passed to :func:`seal`.
        expect_type: the inner message type, or collection of types, accepted; ``None``
            accepts any (then the payload alone must say what it is).
        max_size: refuse ``data`` longer than this many bytes before parsing.

    Returns:
        ``(signer_id, body)``: the roster id of the signer and the decoded payload.

    Raises:
        DecodeError: ``data`` is not a well-formed ``IDENTITY_SEALED`` message (with an
            all-zero header fingerprint), or the inner type is not ``expect_type``.
        VerificationError: the signer's key is not in the roster (unknown signer), or
            the signature does not verify for this context (a tampered type, signer,
            round, nonce or body, or a forged signature).
        ProtocolError: the message is for another round, or ``"replay"``: it was
            accepted before (or the replay cache refuses its round).
        ParameterError: a bad argument (``roster`` not a :class:`Roster`, ``round_id``
            out of range, ``context`` not printable ASCII, ...).
    """
    if not isinstance(roster, Roster):
        raise ParameterError(f"roster must be a Roster, got {type(roster).__name__}")
    if not isinstance(replay_cache, ReplayCache):
        raise ParameterError(
            f"replay_cache must be a ReplayCache, got {type(replay_cache).__name__}"
        )
    rid_expected = _check_round(round_id)
    ctx = _sign_context(context)
    wanted: frozenset[int] | None = None
    if expect_type is not None:
        if isinstance(expect_type, int):
            wanted = frozenset((_check_type(expect_type),))
        elif isinstance(expect_type, Collection) and not isinstance(expect_type, str | bytes):
            wanted = frozenset(_check_type(t) for t in expect_type)
        else:
            raise ParameterError("expect_type must be an int, a collection of ints, or None")
    # The header fingerprint is not signed: require it to be all zero, so that no byte of
    # an accepted message can be changed.
    msg = wire.decode(
        data,
        expect_type=MessageType.IDENTITY_SEALED,
        expect_fingerprint=wire.NO_FINGERPRINT,
        max_size=max_size,
    )
    mtype, signer, rid, nonce, body, signature = _parse(msg.body)
    if wanted is not None and mtype not in wanted:
        raise DecodeError(
            f"sealed envelope carries message type 0x{mtype:04x}; expected "
            + ", ".join(f"0x{t:04x}" for t in sorted(wanted))
        )
    signer_id = _find_signer(roster, signer)
    if signer_id is None:
        raise VerificationError(
            f"unknown signer: key {key_id(signer)} is not in the roster; only admitted "
            "nodes may send sealed messages"
        )
    roster.verify(signer_id, _signed_bytes(mtype, signer, rid, nonce, body), signature, context=ctx)
    if rid != rid_expected:
        raise ProtocolError(
            f"sealed message for round {rid}, but this is round {rid_expected}",
            client_id=signer_id,
        )
    try:
        replay_cache.check_and_add(signer, rid, nonce)
    except ProtocolError as exc:
        raise ProtocolError(str(exc), client_id=signer_id) from None
    return signer_id, body
