"""A reusable base for protocol sessions: envelope, binding and validation done once.

Schemes that subclass :class:`BaseServerSession` and :class:`BaseClientSession` only
write the protocol-specific parts (what each message carries and what to do with it);
the bases give every message the same envelope and check it the same way.

Every message is a :mod:`privkit.wire` message whose header carries the exchange's type
tag (declared with :class:`ExchangeSpec`) and the scheme's parameter fingerprint, and
whose body is a dict with exactly these keys:

===============  ==========================================================
``"session"``    16 random bytes chosen by the server from :mod:`secrets`
``"exchange"``   the 0-based exchange index
``"to"``         (server to client only) the recipient's client id
``"from"``       (client to server only) the sender's client id
``"data"``       the scheme's payload: a dict of wire values
===============  ==========================================================

Before any state changes, a base session checks: the envelope (size limit, type tag
among the exchanges' tags, fingerprint; :class:`~privkit.errors.DecodeError`), the body
shape (:class:`~privkit.errors.DecodeError`), the session id (in constant time), the
exchange index (replays of earlier exchanges and messages for later ones), the type tag
of that exchange, the sender / recipient identity (all
:class:`~privkit.errors.ProtocolError`), and finally the scheme's own payload check.
A message that fails any check leaves the session exactly as it was.

Security assumption: the transport is untrusted and may drop, replay, reorder, corrupt
or misroute messages; these bases turn every such event into an exception or a dropout,
never into a wrong result.  They do not authenticate parties: a network attacker who
can read a session id can forge messages that pass the envelope checks, so schemes
that need authenticity add MACs or signatures to their payloads.
"""

from __future__ import annotations

import abc
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from privkit import wire
from privkit.aggregation.api import (
    ClientId,
    ClientSession,
    ServerSession,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
    describe_client_id,
    is_client_id,
)
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.wire import Value
from privkit.wire.tags import tag_name

__all__ = [
    "SESSION_ID_SIZE",
    "BaseClientSession",
    "BaseServerSession",
    "ExchangeSpec",
    "Finish",
    "Payload",
    "check_length",
]

SESSION_ID_SIZE: Final = 16
"""Bytes of the random session id every message carries."""

Payload: TypeAlias = dict[str, Value]
"""A scheme's message content: the ``"data"`` entry of a message body."""

_DOWN_KEYS: Final = frozenset({"session", "exchange", "to", "data"})
_UP_KEYS: Final = frozenset({"session", "exchange", "from", "data"})

_State: TypeAlias = Literal["new", "running", "done", "failed"]


def check_length(length: object) -> int:
    """Validate the number of coordinates of a round.

    Args:
        length: the candidate length.

    Returns:
        The length as an int.

    Raises:
        ParameterError: it is not an int (``bool`` refused) or is negative.  Zero is
            allowed: the aggregate of empty updates is the empty vector.
    """
    if isinstance(length, bool) or not isinstance(length, int | np.integer):
        raise ParameterError(f"length must be an int >= 0, got {type(length).__name__}")
    value = int(length)
    if value < 0:
        raise ParameterError(f"length must be >= 0 (coordinates per update), got {value}")
    return value


def _check_tag(tag: object, what: str) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int) or not 1 <= tag <= 0xFFFF:
        raise ParameterError(f"{what} must be a message type tag in 1..65535, got {tag!r}")
    return int(tag)


@dataclass(frozen=True)
class ExchangeSpec:
    """The message types of one exchange of a protocol.

    Attributes:
        request: the type tag of the server's messages in this exchange.
        reply: the type tag of the clients' replies; must differ from ``request`` so a
            message reflected back to its sender is refused.

    Raises:
        ParameterError: a tag outside 1..65535 or ``request == reply``.
    """

    request: int
    reply: int

    def __post_init__(self) -> None:
        _check_tag(self.request, "ExchangeSpec.request")
        _check_tag(self.reply, "ExchangeSpec.reply")
        if self.request == self.reply:
            raise ParameterError(
                f"ExchangeSpec needs distinct request and reply tags, got {self.request:#06x} "
                "for both"
            )


@dataclass(frozen=True, eq=False)
class Finish:
    """Returned by :meth:`BaseServerSession._advance` to end the round.

    Attributes:
        total: the float64 vector of the session's length: the *sum* of the survivors'
            updates (the base divides by the number of survivors when the session was
            built with ``mean=True``).
        survivors: the clients whose updates are in ``total``.
    """

    total: npt.NDArray[np.float64]
    survivors: Iterable[ClientId]


def _check_exchanges(exchanges: Sequence[ExchangeSpec]) -> tuple[ExchangeSpec, ...]:
    specs = tuple(exchanges)
    if not specs:
        raise ParameterError("a protocol needs at least one exchange")
    for spec in specs:
        if not isinstance(spec, ExchangeSpec):
            raise ParameterError(f"exchanges must hold ExchangeSpec, got {type(spec).__name__}")
    return specs


def _check_fingerprint(fingerprint: object) -> bytes:
    if not isinstance(fingerprint, bytes) or len(fingerprint) != wire.FINGERPRINT_SIZE:
        raise ParameterError(f"fingerprint must be {wire.FINGERPRINT_SIZE} bytes")
    return fingerprint


def _check_max_size(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < wire.HEADER_SIZE:
        raise ParameterError(f"{what} must be None or an int >= {wire.HEADER_SIZE}")
    return value


@dataclass(frozen=True)
class _Body:
    session: bytes
    exchange: int
    peer: ClientId
    data: Payload


def _parse_body(body: Value, *, up: bool, who: str) -> _Body:
    """Check the body layout (DecodeError); say nothing yet about whether it is acceptable."""
    keys = _UP_KEYS if up else _DOWN_KEYS
    peer_key = "from" if up else "to"
    if not isinstance(body, dict) or set(body) != keys:
        raise DecodeError(
            f"{who}: malformed message body: expected a dict with keys {sorted(keys)}"
        )
    session = body["session"]
    exchange = body["exchange"]
    peer = body[peer_key]
    data = body["data"]
    if not isinstance(session, bytes) or len(session) != SESSION_ID_SIZE:
        raise DecodeError(f"{who}: malformed message body: 'session' must be 16 bytes")
    if isinstance(exchange, bool) or not isinstance(exchange, int) or exchange < 0:
        raise DecodeError(f"{who}: malformed message body: 'exchange' must be an int >= 0")
    if not is_client_id(peer):
        raise DecodeError(f"{who}: malformed message body: {peer_key!r} must be an int or str")
    if not isinstance(data, dict):
        raise DecodeError(f"{who}: malformed message body: 'data' must be a dict")
    assert isinstance(peer, int | str)
    return _Body(session=session, exchange=exchange, peer=peer, data=data)


class BaseServerSession(ServerSession):
    """A :class:`~privkit.aggregation.ServerSession` that does envelope, binding and checks.

    Subclasses implement three hooks:

    - :meth:`_open` returns the payloads of exchange 0 by recipient;
    - :meth:`_check_reply` validates one reply's payload and returns whatever the
      scheme wants to keep from it; it must not change any state;
    - :meth:`_advance` receives the checked replies of the exchange (in canonical client
      order) and the clients that dropped out in it, and returns either the payloads of
      the next exchange by recipient or a :class:`Finish`.

    The base enforces the dropout threshold (after each exchange at least
    ``min_survivors`` clients must remain), fails the session cleanly when a hook raises
    while applying state (:meth:`_open`, :meth:`_advance`), divides by the number of
    survivors for ``mean=True``, and checks the result's shape.

    Args:
        fingerprint: the scheme's 16-byte parameter fingerprint.
        exchanges: the type tags of each exchange, in order; their number is the most
            exchanges a round may take.
        client_ids: the clients invited to the round.
        length: the number of coordinates of every update.
        min_survivors: the fewest clients that must remain after every exchange.
        mean: return the mean over survivors instead of the sum.
        max_reply_size: refuse replies longer than this many bytes (None: no limit).

    Raises:
        ParameterError: invalid ids, length, exchanges or threshold, or fewer clients
            than ``min_survivors``.

    Security assumption: replies are untrusted; see the module docstring.  The session
    id comes from :func:`secrets.token_bytes` and is compared in constant time.
    """

    def __init__(
        self,
        *,
        fingerprint: bytes,
        exchanges: Sequence[ExchangeSpec],
        client_ids: Iterable[ClientId],
        length: int,
        min_survivors: int,
        mean: bool = False,
        max_reply_size: int | None = None,
    ) -> None:
        self._fingerprint = _check_fingerprint(fingerprint)
        self._exchanges = _check_exchanges(exchanges)
        self._client_ids = check_client_ids(client_ids)
        self._id_set = frozenset(self._client_ids)
        self._length = check_length(length)
        if isinstance(min_survivors, bool) or not isinstance(min_survivors, int):
            raise ParameterError("min_survivors must be an int >= 1")
        if min_survivors < 1:
            raise ParameterError(f"min_survivors must be >= 1, got {min_survivors}")
        if len(self._client_ids) < min_survivors:
            raise ParameterError(
                f"the round needs at least {min_survivors} clients to complete, but only "
                f"{len(self._client_ids)} were given"
            )
        self._min_survivors = min_survivors
        self._mean = bool(mean)
        self._max_reply_size = _check_max_size(max_reply_size, "max_reply_size")
        self._reply_types = frozenset(spec.reply for spec in self._exchanges)
        self._session_id = secrets.token_bytes(SESSION_ID_SIZE)
        self._state: _State = "new"
        self._failure = ""
        self._exchange = 0
        self._contacted: frozenset[ClientId] = frozenset()
        self._alive: frozenset[ClientId] = self._id_set
        self._result: npt.NDArray[np.float64] | None = None
        self._survivors: tuple[ClientId, ...] = ()

    # ------------------------------------------------------------------ public state

    @property
    def session_id(self) -> bytes:
        """The random 16-byte id of this session (public: every message carries it)."""
        return self._session_id

    @property
    def client_ids(self) -> tuple[ClientId, ...]:
        """Every client invited to the round, in canonical order."""
        return self._client_ids

    @property
    def length(self) -> int:
        """The number of coordinates of every update."""
        return self._length

    @property
    def min_survivors(self) -> int:
        """The fewest clients that must remain after each exchange."""
        return self._min_survivors

    @property
    def alive(self) -> tuple[ClientId, ...]:
        """The clients that have not dropped out, in canonical order."""
        return tuple(sorted(self._alive, key=client_id_sort_key))

    @property
    def failed(self) -> bool:
        """Whether the session has failed; every call but the properties then raises."""
        return self._state == "failed"

    @property
    def done(self) -> bool:
        return self._state == "done"

    @property
    def exchange(self) -> int:
        return self._exchange

    @property
    def survivors(self) -> tuple[ClientId, ...]:
        if self._state != "done":
            raise self._not_done("survivors")
        return self._survivors

    def result(self) -> npt.NDArray[np.float64]:
        if self._state != "done" or self._result is None:
            raise self._not_done("result()")
        return self._result.copy()

    # ------------------------------------------------------------------ the protocol

    def start(self) -> dict[ClientId, bytes]:
        if self._state == "failed":
            raise self._failed_error()
        if self._state != "new":
            raise ProtocolError("start() was already called on this session; call step()")
        try:
            payloads = self._open()
            out = self._encode_all(0, payloads)
        except Exception as exc:
            self._fail(f"the scheme could not open the round ({type(exc).__name__})")
            raise
        self._state = "running"
        self._contacted = frozenset(out)
        return out

    def step(self, replies: Mapping[ClientId, bytes | None]) -> dict[ClientId, bytes]:
        if self._state == "failed":
            raise self._failed_error()
        if self._state == "new":
            raise ProtocolError("step() called before start(); call start() first")
        if self._state == "done":
            raise ProtocolError(
                "the round is already done; step() accepts no more replies "
                "(a replayed or late message?)"
            )
        if not isinstance(replies, Mapping):
            raise ParameterError(f"replies must be a mapping, got {type(replies).__name__}")
        k = self._exchange
        checked: dict[ClientId, Any] = {}
        for key, raw in replies.items():
            try:
                cid, parsed = self._check_one(k, key, raw)
            except DecodeError as exc:
                # Tell the caller which reply to drop, as ProtocolError does.
                exc.client_id = key
                raise
            if cid is not None:
                checked[cid] = parsed
        # Every reply is acceptable: now, and only now, state may change.
        answered = frozenset(checked)
        dropped = self._contacted - answered
        alive = self._alive - dropped
        if len(alive) < self._min_survivors:
            reason = (
                f"too few clients remain: the round needs at least {self._min_survivors}, "
                f"but only {len(alive)} remain ({len(answered)} of {len(self._contacted)} "
                f"contacted clients answered exchange {k})"
            )
            self._fail(reason)
            raise ProtocolError(f"round failed: {reason}")
        ordered = {cid: checked[cid] for cid in sorted(answered, key=client_id_sort_key)}
        self._alive = alive
        try:
            outcome = self._advance(k, ordered, dropped)
            if isinstance(outcome, Finish):
                result, survivors = self._finish(outcome)
                out: dict[ClientId, bytes] = {}
            else:
                if k + 1 >= len(self._exchanges):
                    raise ProtocolError(
                        f"scheme error: the protocol declares {len(self._exchanges)} "
                        f"exchanges but did not finish after exchange {k}"
                    )
                out = self._encode_all(k + 1, outcome)
        except Exception as exc:
            self._fail(f"the scheme could not complete exchange {k} ({type(exc).__name__})")
            raise
        self._exchange = k + 1
        if isinstance(outcome, Finish):
            self._result = result
            self._survivors = survivors
            self._contacted = frozenset()
            self._state = "done"
        else:
            self._contacted = frozenset(out)
        return out

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    def _open(self) -> Mapping[ClientId, Payload]:
        """Produce the payloads of exchange 0.

        Returns:
            Payload by recipient (a non-empty subset of the invited clients).
        """

    @abc.abstractmethod
    def _check_reply(self, exchange: int, client_id: ClientId, data: Payload) -> object:
        """Validate one reply's payload; must not change any state.

        Called only after the envelope, session, exchange, type and sender checks
        passed.

        Args:
            exchange: the current exchange index.
            client_id: the (verified) sender.
            data: the payload, untrusted.

        Returns:
            What :meth:`_advance` should receive for this client.

        Raises:
            DecodeError: the payload is malformed.
            ProtocolError: the payload is well-formed but unacceptable; pass
                ``client_id``.
        """

    @abc.abstractmethod
    def _advance(
        self,
        exchange: int,
        replies: Mapping[ClientId, Any],
        dropped: frozenset[ClientId],
    ) -> Mapping[ClientId, Payload] | Finish:
        """Apply the checked replies of ``exchange``.

        Args:
            exchange: the exchange whose replies these are.
            replies: what :meth:`_check_reply` returned, by client, canonical order.
            dropped: the clients contacted in this exchange that did not answer.

        Returns:
            The payloads of exchange ``exchange + 1`` by recipient (a non-empty subset of
            :attr:`alive`), or a :class:`Finish`.

        Raises:
            ProtocolError: the round cannot be completed; the session becomes failed.
        """

    # ------------------------------------------------------------------ internals

    def _check_one(self, k: int, key: object, raw: object) -> tuple[ClientId | None, Any]:
        """Check one reply without changing state; return (client, parsed) or (None, None)."""
        if not is_client_id(key) or key not in self._id_set:
            raise ProtocolError(
                f"reply delivered under unknown client id {describe_client_id(key)}; "
                "it is not one of the clients of this round",
                client_id=key,
            )
        assert isinstance(key, int | str)
        who = f"reply from client {describe_client_id(key)}"
        if key not in self._contacted:
            raise ProtocolError(
                f"{who} in exchange {k}, but that client was not sent a message in this "
                "exchange (it dropped out earlier or has nothing to answer)",
                client_id=key,
            )
        if raw is None:
            return None, None
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise DecodeError(f"{who}: expected bytes, got {type(raw).__name__}")
        try:
            msg = wire.decode(
                raw,
                expect_type=self._reply_types,
                expect_fingerprint=self._fingerprint,
                max_size=self._max_reply_size,
            )
        except DecodeError as exc:
            raise DecodeError(f"{who}: {exc}") from None
        body = _parse_body(msg.body, up=True, who=who)
        if not hmac.compare_digest(body.session, self._session_id):
            raise ProtocolError(f"{who} belongs to another session", client_id=key)
        if body.exchange < k:
            raise ProtocolError(
                f"{who} is a replay of exchange {body.exchange}; exchange {k} is running",
                client_id=key,
            )
        if body.exchange > k:
            raise ProtocolError(
                f"{who} is for exchange {body.exchange}, but exchange {k} is running",
                client_id=key,
            )
        want = self._exchanges[k].reply
        if msg.type_tag != want:
            raise DecodeError(
                f"{who}: message type {tag_name(msg.type_tag)} is not the reply "
                f"type of exchange {k} ({tag_name(want)})"
            )
        if body.peer != key or type(body.peer) is not type(key):
            raise ProtocolError(
                f"{who} was sent by client {describe_client_id(body.peer)}; a reply must "
                "arrive under the id of the client that sent it",
                client_id=key,
            )
        return key, self._check_reply(k, key, body.data)

    def _encode_all(self, k: int, payloads: Mapping[ClientId, Payload]) -> dict[ClientId, bytes]:
        if not isinstance(payloads, Mapping) or not payloads:
            raise ProtocolError(
                f"scheme error: no messages for exchange {k} and the round is not finished"
            )
        spec = self._exchanges[k]
        out: dict[ClientId, bytes] = {}
        for cid in sorted(payloads, key=client_id_sort_key):
            if cid not in self._alive:
                raise ProtocolError(
                    f"scheme error: a message for client {describe_client_id(cid)}, which is "
                    "not an active client of this round",
                    client_id=cid,
                )
            body: dict[str, Value] = {
                "session": self._session_id,
                "exchange": k,
                "to": cid,
                "data": payloads[cid],
            }
            out[cid] = wire.encode(spec.request, body, fingerprint=self._fingerprint)
        return out

    def _finish(self, outcome: Finish) -> tuple[npt.NDArray[np.float64], tuple[ClientId, ...]]:
        survivors = tuple(sorted(set(outcome.survivors), key=client_id_sort_key))
        if not survivors or not set(survivors) <= self._id_set:
            raise ProtocolError("scheme error: survivors must be a non-empty subset of clients")
        total = np.asarray(outcome.total)
        if total.dtype != np.float64 or total.shape != (self._length,):
            raise ProtocolError(
                f"scheme error: the aggregate must be float64 of shape ({self._length},), "
                f"got {total.dtype} of shape {total.shape}"
            )
        result = np.array(total, dtype=np.float64, copy=True)
        if self._mean:
            result /= len(survivors)
        return result, survivors

    def _fail(self, reason: str) -> None:
        self._state = "failed"
        self._failure = reason
        self._contacted = frozenset()

    def _failed_error(self) -> ProtocolError:
        return ProtocolError(f"this session has failed and cannot be used: {self._failure}")

    def _not_done(self, what: str) -> ProtocolError:
        if self._state == "failed":
            return self._failed_error()
        return ProtocolError(f"{what} is available only once the round is done")


class BaseClientSession(ClientSession):
    """A :class:`~privkit.aggregation.ClientSession` that does envelope, binding and checks.

    The client binds to the session id of the first message it accepts, then takes the
    exchanges strictly in order (0, 1, 2, ...); it is done after the last declared
    exchange.  Subclasses implement two hooks:

    - :meth:`_check_request` validates a request's payload without changing state;
    - :meth:`_respond` applies it and returns the reply payload (or ``None``).

    Args:
        fingerprint: the scheme's 16-byte parameter fingerprint.
        exchanges: the type tags of each exchange, as the server declares them.
        client_id: this client's id.
        max_request_size: refuse messages longer than this (None: no limit).

    Raises:
        ParameterError: an invalid argument.

    Security assumption: messages are untrusted; see the module docstring.
    """

    def __init__(
        self,
        *,
        fingerprint: bytes,
        exchanges: Sequence[ExchangeSpec],
        client_id: ClientId,
        max_request_size: int | None = None,
    ) -> None:
        self._fingerprint = _check_fingerprint(fingerprint)
        self._exchanges = _check_exchanges(exchanges)
        self._client_id = check_client_id(client_id)
        self._max_request_size = _check_max_size(max_request_size, "max_request_size")
        self._request_types = frozenset(spec.request for spec in self._exchanges)
        self._bound: bytes | None = None
        self._next = 0
        self._state: _State = "running"
        self._failure = ""

    @property
    def client_id(self) -> ClientId:
        return self._client_id

    @property
    def done(self) -> bool:
        return self._state == "done"

    @property
    def failed(self) -> bool:
        """Whether the session has failed; every later :meth:`handle` raises."""
        return self._state == "failed"

    @property
    def session_id(self) -> bytes | None:
        """The session this client is bound to; ``None`` before its first message."""
        return self._bound

    @property
    def exchange(self) -> int:
        """The index of the exchange whose message :meth:`handle` expects next."""
        return self._next

    def handle(self, message: bytes) -> bytes | None:
        who = f"client {describe_client_id(self._client_id)}"
        if self._state == "failed":
            raise ProtocolError(
                f"{who}: this session has failed and cannot be used: {self._failure}",
                client_id=self._client_id,
            )
        if self._state == "done":
            raise ProtocolError(
                f"{who} has finished its part of the round; message refused "
                "(a duplicate or replayed delivery?)",
                client_id=self._client_id,
            )
        if not isinstance(message, bytes | bytearray | memoryview):
            raise DecodeError(f"{who}: expected bytes, got {type(message).__name__}")
        try:
            msg = wire.decode(
                message,
                expect_type=self._request_types,
                expect_fingerprint=self._fingerprint,
                max_size=self._max_request_size,
            )
        except DecodeError as exc:
            raise DecodeError(f"{who}: {exc}") from None
        body = _parse_body(msg.body, up=False, who=who)
        if self._bound is not None and not hmac.compare_digest(body.session, self._bound):
            raise ProtocolError(
                f"{who}: the message belongs to another session", client_id=self._client_id
            )
        k = self._next
        if body.exchange < k:
            raise ProtocolError(
                f"{who}: the message is a replay of exchange {body.exchange}, already handled",
                client_id=self._client_id,
            )
        if body.exchange > k:
            raise ProtocolError(
                f"{who}: the message is for exchange {body.exchange}, but this client "
                f"expects exchange {k}",
                client_id=self._client_id,
            )
        want = self._exchanges[k].request
        if msg.type_tag != want:
            raise DecodeError(
                f"{who}: message type {tag_name(msg.type_tag)} is not the request "
                f"type of exchange {k} ({tag_name(want)})"
            )
        if body.peer != self._client_id or type(body.peer) is not type(self._client_id):
            raise ProtocolError(
                f"{who}: the message is addressed to client {describe_client_id(body.peer)}",
                client_id=self._client_id,
            )
        parsed = self._check_request(k, body.data)
        # Accepted: bind and apply.
        self._bound = body.session
        try:
            payload = self._respond(k, parsed)
            reply = None
            if payload is not None:
                reply_body: dict[str, Value] = {
                    "session": body.session,
                    "exchange": k,
                    "from": self._client_id,
                    "data": payload,
                }
                reply = wire.encode(
                    self._exchanges[k].reply, reply_body, fingerprint=self._fingerprint
                )
        except Exception as exc:
            self._state = "failed"
            self._failure = f"exchange {k} could not be completed ({type(exc).__name__})"
            raise
        self._next = k + 1
        if self._next >= len(self._exchanges):
            self._state = "done"
        return reply

    @abc.abstractmethod
    def _check_request(self, exchange: int, data: Payload) -> object:
        """Validate one request's payload; must not change any state.

        Args:
            exchange: the exchange index of the (verified) request.
            data: the payload, untrusted.

        Returns:
            What :meth:`_respond` should receive.

        Raises:
            DecodeError: the payload is malformed.
            ProtocolError: the payload is unacceptable.
            ParameterError: the request cannot be served with this client's input.
        """

    @abc.abstractmethod
    def _respond(self, exchange: int, request: Any) -> Payload | None:
        """Apply a checked request and produce the reply payload.

        Args:
            exchange: the exchange index.
            request: what :meth:`_check_request` returned.

        Returns:
            The reply payload, or ``None`` to send nothing.

        Raises:
            ProtocolError: the client cannot go on; the session becomes failed.
        """
