"""Run any privkit aggregation scheme inside Flower (Message API, ``flwr >= 1.41``).

Three pieces, all on Flower's Message API (``flwr.serverapp`` / ``flwr.clientapp``):

- :func:`privkit_mod` builds a client *mod* ``(msg, context, call_next) -> Message``.  It
  is inert unless a train message carries the ``"privkit"`` :class:`ConfigRecord` that
  :class:`SecureAggregation` adds.  Then it runs the user's train function, keeps the
  returned model (the single ``ArrayRecord`` of the reply) on the node as this client's
  update, and answers the server with the reply's metrics only: the model never leaves
  the node in the clear.  It then answers the scheme's protocol messages (message type
  :data:`EXCHANGE_MESSAGE_TYPE`, routed to it by :func:`register_exchange`) with its
  client session's replies.
- :func:`run_scheme_round` is the server driver: it runs one round of any scheme's
  exchanges with ``Grid.send_and_receive``; a node that does not answer (timeout, error
  reply, malformed or refused reply) has dropped out.
- :class:`SecureAggregation` wraps a Flower Message-API strategy (``FedAvg``,
  ``FedAdam``, ...): the inner strategy chooses and configures the nodes as usual, then
  receives the unmasked / decrypted weighted mean as ONE synthetic reply.  Strategies that
  need individual updates (``Krum``, ``FedMedian``, ...) are refused.

Carrying bytes: every protocol message is a :mod:`privkit.wire` message (already typed,
versioned and bound to its session) carried as one
``Array(dtype="uint8", shape=(n,), stype="privkit/wire", data=...)`` in the
``ArrayRecord`` :data:`WIRE_RECORD`; Flower chunks large arrays itself, and
``Array.numpy()`` refuses the non-numpy ``stype``, so an aggregator that is not privkit
fails loudly instead of averaging ciphertexts.  Small parameters (round, exchange index,
lengths, the scheme fingerprint) travel in the ``ConfigRecord`` :data:`CONFIG_RECORD`.

What is aggregated: the client flattens its model in the order of the ``ArrayRecord``
it received, as float64, multiplies it by its weight ``w`` (1, or its number of examples
with ``weighting="examples"``) and appends ``w``; the server divides the aggregate by its
last coordinate, which is the weighted mean whether the scheme returns the sum or the
mean.  Schemes that clip their inputs (SecAgg: ``clip``) must admit ``|w * x|`` and ``w``.

Client state: a node's pending update and client session live in this process between
the train message and the last exchange (a client session holds secrets and is never
serialized).  The ClientApp must therefore run in one long-lived process per node
(Flower's simulation with one actor, or a SuperNode whose ClientApp process handles
the whole round); otherwise the node answers exchanges with an error and drops out.
HE keys cannot be pickled to Ray's actors: give :func:`privkit_mod` a factory that
rebuilds the scheme from key bytes inside the actor (``docs/flower.md``).

Security assumption: as the wrapped scheme's threat model (SecAgg: an honest-but-curious
server learns only the aggregate of the survivors while fewer than the threshold
collude; HE: the server holds no secret key).  The train metrics the user's function
returns (e.g. ``num-examples``, loss) are sent in the clear, as in plain Flower.  Flower
authenticates nodes (or not) on its own; privkit's messages are bound to their session
but not signed, and every received record is validated before use.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from privkit._backends import require
from privkit.aggregation.api import ClientId, ClientSession, Scheme, ServerSession
from privkit.errors import DecodeError, ParameterError, PrivkitError, ProtocolError

__all__ = [
    "CONFIG_RECORD",
    "EXCHANGE_MESSAGE_TYPE",
    "WIRE_RECORD",
    "WIRE_STYPE",
    "SchemeFactory",
    "SchemeRoundResult",
    "SecureAggregation",
    "privkit_mod",
    "register_exchange",
    "run_scheme_round",
]

EXCHANGE_MESSAGE_TYPE: Final = "query.privkit"
"""The Flower message type of the scheme's protocol messages."""

CONFIG_RECORD: Final = "privkit"
"""Key of the ``ConfigRecord`` with privkit's small parameters in every privkit message."""

WIRE_RECORD: Final = "privkit.wire"
"""Key of the ``ArrayRecord`` that carries one protocol message."""

WIRE_STYPE: Final = "privkit/wire"
"""The ``Array.stype`` of a carried :mod:`privkit.wire` message."""

_WIRE_KEY: Final = "message"
_WEIGHTINGS: Final = ("uniform", "examples")
_MAX_MESSAGE: Final = 1 << 31

# Strategies whose aggregation needs every client's individual update.
_REFUSED: Final = (
    "Bulyan",
    "DifferentialPrivacyServerSideAdaptiveClipping",
    "DifferentialPrivacyServerSideFixedClipping",
    "FedMedian",
    "FedTrimmedAvg",
    "FedXgbBagging",
    "FedXgbCyclic",
    "Krum",
    "MultiKrum",
    "QFedAvg",
)

_log = logging.getLogger(__name__)


def _flwr_app() -> Any:
    return require("flwr.app", feature="privkit.integrations.flower")


# --------------------------------------------------------------------------- records


def _wire_record(data: bytes) -> Any:
    app = _flwr_app()
    arr = app.Array(dtype="uint8", shape=(len(data),), stype=WIRE_STYPE, data=bytes(data))
    return app.ArrayRecord({_WIRE_KEY: arr})


def _read_wire(content: Any) -> bytes:
    """The protocol message carried in ``content`` (DecodeError if absent or malformed)."""
    if WIRE_RECORD not in content.array_records:
        raise DecodeError(f"a privkit message needs the ArrayRecord {WIRE_RECORD!r}")
    record = content.array_records[WIRE_RECORD]
    if set(record.keys()) != {_WIRE_KEY}:
        raise DecodeError(f"ArrayRecord {WIRE_RECORD!r} must hold exactly {_WIRE_KEY!r}")
    arr = record[_WIRE_KEY]
    data = arr.data
    if arr.stype != WIRE_STYPE or arr.dtype != "uint8":
        raise DecodeError(
            f"a privkit message must be an Array with stype {WIRE_STYPE!r} and dtype "
            f"'uint8', got stype {arr.stype!r} and dtype {arr.dtype!r}"
        )
    if not isinstance(data, bytes) or len(data) > _MAX_MESSAGE:
        raise DecodeError("a privkit message must be at most 2 GiB of bytes")
    if tuple(arr.shape) != (len(data),):
        raise DecodeError(f"a privkit message of {len(data)} bytes must have shape (n,)")
    return data


def _read_config(content: Any) -> dict[str, Any]:
    if CONFIG_RECORD not in content.config_records:
        raise DecodeError(f"a privkit message needs the ConfigRecord {CONFIG_RECORD!r}")
    return dict(content.config_records[CONFIG_RECORD])


def _int_field(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DecodeError(f"ConfigRecord {CONFIG_RECORD!r} needs {key!r} as an int >= 0")
    return value


def _single_array_record(content: Any, what: str) -> Any:
    records = list(content.array_records.values())
    if len(records) != 1:
        raise ParameterError(f"{what} must hold exactly one ArrayRecord, found {len(records)}")
    return records[0]


@dataclass(frozen=True)
class _Layout:
    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype[Any], ...]

    @property
    def size(self) -> int:
        return sum(math.prod(s) for s in self.shapes)


def _layout(record: Any) -> _Layout:
    keys, shapes, dtypes = [], [], []
    for key, arr in record.items():
        try:
            value = arr.numpy()
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"array {key!r} cannot be read as a numpy array ({exc}); privkit "
                "aggregates numpy / torch arrays"
            ) from exc
        keys.append(str(key))
        shapes.append(tuple(int(d) for d in value.shape))
        dtypes.append(value.dtype)
    return _Layout(tuple(keys), tuple(shapes), tuple(dtypes))


def _flatten(record: Any, layout: _Layout) -> npt.NDArray[np.float64]:
    if tuple(record.keys()) != layout.keys:
        raise ParameterError(
            "the trained ArrayRecord must have the keys of the received one, in the same "
            f"order: expected {list(layout.keys)}, got {list(record.keys())}"
        )
    parts = []
    for key, shape in zip(layout.keys, layout.shapes, strict=True):
        value = np.asarray(record[key].numpy())
        if tuple(value.shape) != shape:
            raise ParameterError(f"array {key!r} has shape {value.shape}, expected {shape}")
        parts.append(value.astype(np.float64).ravel())
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return np.concatenate(parts)


def _unflatten(vector: npt.NDArray[np.float64], layout: _Layout) -> Any:
    app = _flwr_app()
    out = {}
    offset = 0
    for key, shape, dtype in zip(layout.keys, layout.shapes, layout.dtypes, strict=True):
        size = math.prod(shape)
        out[key] = app.Array(
            np.ascontiguousarray(vector[offset : offset + size].reshape(shape).astype(dtype))
        )
        offset += size
    return app.ArrayRecord(out)


# --------------------------------------------------------------------------- client mod


@dataclass
class _Pending:
    round: int
    update: npt.NDArray[np.float64]
    session: ClientSession | None = None


class _Registry:
    """Per-process state of the nodes served here, keyed by (run id, node id, fingerprint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[int, int, bytes], _Pending] = {}

    def put(self, key: tuple[int, int, bytes], item: _Pending) -> None:
        with self._lock:
            self._items[key] = item

    def get(self, key: tuple[int, int, bytes]) -> _Pending | None:
        with self._lock:
            return self._items.get(key)

    def drop(self, key: tuple[int, int, bytes]) -> None:
        with self._lock:
            self._items.pop(key, None)


def _check_weighting(weighting: object) -> str:
    if weighting not in _WEIGHTINGS:
        raise ParameterError(f"weighting must be one of {_WEIGHTINGS}, got {weighting!r}")
    assert isinstance(weighting, str)
    return weighting


def _check_scheme(scheme: object) -> Scheme:
    if not isinstance(scheme, Scheme):
        raise ParameterError(
            f"scheme must be a privkit.aggregation.Scheme, got {type(scheme).__name__}"
        )
    return scheme


Mod = Callable[[Any, Any, Callable[[Any, Any], Any]], Any]
"""A Flower client mod: ``(message, context, call_next) -> message``."""


SchemeFactory = Callable[[], Scheme]
"""A zero-argument callable returning the client's :class:`~privkit.aggregation.Scheme`."""


def privkit_mod(scheme: Scheme | SchemeFactory) -> Mod:
    """Build the Flower client mod that takes part in ``scheme``'s rounds.

    Install it on the ClientApp (``ClientApp(mods=[mod])`` or ``@app.train(mods=[mod])``)
    and route the protocol messages to it with :func:`register_exchange`; see
    ``docs/flower.md``.

    ``scheme`` is either the scheme itself or a zero-argument *factory* returning it, e.g.
    ``privkit_mod(lambda: CKKS.from_bytes(key_bytes))``.  A factory is called lazily, in
    the process that serves the node, at the first message that needs the scheme, then
    cached for the life of that process (one call per process and mod, even when the
    engine unpickles the ClientApp again for every message, as Flower's Ray simulation
    does).  Use it for HE key holders: TenSEAL keys (CKKS, BFV) cannot be pickled, and
    with a factory the mod ships only the factory (and what it captures, e.g. key bytes)
    to Ray's actors, never a live key object (Paillier's would pickle).

    Behaviour by message:

    - a ``train`` message without the ``"privkit"`` ConfigRecord, and every other
      message type: passed to ``call_next`` unchanged (the mod is inert, and a factory is
      not called);
    - a ``train`` message with it: the record is removed, ``call_next`` runs the user's
      training, the reply's single ``ArrayRecord`` (same keys and shapes as the received
      one) becomes this node's update for the round, and the reply sent to the server
      keeps only the metric records plus a ``"privkit"`` ConfigRecord (round, length);
    - an :data:`EXCHANGE_MESSAGE_TYPE` message: handed to this node's client session
      (created at exchange 0 with client id ``context.node_id``); the reply carries the
      session's answer.

    Args:
        scheme: the aggregation scheme, or a zero-argument callable returning it; its
            fingerprint must equal the server's.

    Returns:
        The mod.

    Raises:
        ParameterError: ``scheme`` is neither a :class:`~privkit.aggregation.Scheme` nor
            callable.
        BackendUnavailableError: flwr is not installed (extra ``flower``).
        (Inside the mod, a factory that returns something other than a Scheme raises
        :class:`~privkit.errors.ParameterError` and one that raises propagates its error,
        at every message until a call succeeds; a malformed message raises
        :class:`~privkit.errors.DecodeError`, a message for another round, scheme or node
        :class:`~privkit.errors.ProtocolError` and an update of the wrong form
        :class:`~privkit.errors.ParameterError`; Flower turns the exception into an error
        reply and the server counts a dropout.)

    Security assumption: the server's messages are untrusted and validated; the update
    leaves the node only through the scheme's client session.  The update and session
    stay in this process's memory until the round ends or the next round replaces them.
    What a factory captures (e.g. secret-key bytes) is pickled with the ClientApp by
    engines that pickle it: it must travel only between processes of the same trust
    domain (Flower's simulation runs on one machine); see ``docs/flower.md``.
    """
    _flwr_app()
    if isinstance(scheme, Scheme):
        return _PrivkitMod(scheme)
    if callable(scheme):
        return _PrivkitMod(None, factory=scheme)
    raise ParameterError(
        "scheme must be a privkit.aggregation.Scheme or a zero-argument callable returning "
        f"one, got {type(scheme).__name__}"
    )


_REGISTRY: Final = _Registry()
"""The nodes' pending updates and sessions in this process (never pickled with a mod)."""

_FACTORY_LOCK: Final = threading.Lock()
_FACTORY_SCHEMES: Final[dict[str, Scheme]] = {}
"""Schemes built by factories in this process, by the token of the mod that owns them."""


class _PrivkitMod:
    """The mod of :func:`privkit_mod`; a module-level class so engines that pickle the
    ClientApp (Flower's Ray simulation) ship only the scheme (or its factory), and the node
    state stays in this module's :data:`_REGISTRY` of the process that runs the node.

    A factory's scheme is cached in :data:`_FACTORY_SCHEMES` under a random token drawn
    when the mod is built; the token travels with the pickled mod, so every copy of the
    mod in a process shares one scheme, and the scheme itself is never pickled."""

    def __init__(self, scheme: Scheme | None, *, factory: SchemeFactory | None = None) -> None:
        self._scheme = scheme
        self._factory = factory
        self._token = uuid.uuid4().hex

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._factory is not None:
            state["_scheme"] = None  # rebuilt (or found in the cache) in the new process
        return state

    @property
    def scheme(self) -> Scheme:
        """The scheme, built by the factory in this process on first use (then cached)."""
        if self._scheme is not None:
            return self._scheme
        assert self._factory is not None
        with _FACTORY_LOCK:
            cached = _FACTORY_SCHEMES.get(self._token)
            if cached is None:
                built = self._factory()
                if not isinstance(built, Scheme):
                    raise ParameterError(
                        "the scheme factory given to privkit_mod must return a "
                        f"privkit.aggregation.Scheme, got {type(built).__name__}"
                    )
                cached = _FACTORY_SCHEMES[self._token] = built
        self._scheme = cached
        return cached

    @property
    def fingerprint(self) -> bytes:
        """The scheme's fingerprint."""
        return self.scheme.fingerprint

    def __call__(self, msg: Any, context: Any, call_next: Callable[[Any, Any], Any]) -> Any:
        message_type = msg.metadata.message_type
        if message_type == EXCHANGE_MESSAGE_TYPE:
            return self._exchange(msg, context)
        if message_type == "train" and CONFIG_RECORD in msg.content.config_records:
            return self._train(msg, context, call_next)
        return call_next(msg, context)

    def _key(self, context: Any) -> tuple[int, int, bytes]:
        return (int(context.run_id), int(context.node_id), self.fingerprint)

    def _train(self, msg: Any, context: Any, call_next: Callable[[Any, Any], Any]) -> Any:
        app = _flwr_app()
        config = _read_config(msg.content)
        rnd = _int_field(config, "round")
        fp = config.get("fingerprint")
        if not isinstance(fp, bytes) or fp != self.fingerprint:
            raise ProtocolError(
                "the server runs another scheme or other parameters (fingerprint mismatch); "
                "build privkit_mod with the scheme given to SecureAggregation"
            )
        weighting = _check_weighting(config.get("weighting"))
        weight_key = config.get("weight-key")
        if not isinstance(weight_key, str):
            raise DecodeError(f"ConfigRecord {CONFIG_RECORD!r} needs 'weight-key' as a str")
        layout = _layout(_single_array_record(msg.content, "the train message"))
        # The same content may be shared by several messages: hand the user's function a
        # shallow copy without privkit's record instead of changing it in place.
        stripped = app.RecordDict()
        for name, record in msg.content.items():
            if name != CONFIG_RECORD:
                stripped[name] = record
        inner = copy.copy(msg)
        inner.content = stripped
        reply = call_next(inner, context)
        if reply.has_error():
            return reply
        vector = _flatten(_single_array_record(reply.content, "the train reply"), layout)
        weight = 1.0
        if weighting == "examples":
            metrics = list(reply.content.metric_records.values())
            value = metrics[0].get(weight_key) if len(metrics) == 1 else None
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ParameterError(
                    f"weighting='examples' needs the train reply's single MetricRecord to "
                    f"hold {weight_key!r} > 0"
                )
            weight = float(value)
        update = np.append(vector * weight, weight)
        _REGISTRY.put(self._key(context), _Pending(rnd, update))
        content = app.RecordDict()
        for name, record in reply.content.metric_records.items():
            content[name] = record
        content[CONFIG_RECORD] = app.ConfigRecord({"round": rnd, "length": int(update.size)})
        return app.Message(content, reply_to=msg)

    def _exchange(self, msg: Any, context: Any) -> Any:
        app = _flwr_app()
        config = _read_config(msg.content)
        rnd = _int_field(config, "round")
        k = _int_field(config, "exchange")
        data = _read_wire(msg.content)
        key = self._key(context)
        pending = _REGISTRY.get(key)
        if pending is None or pending.round != rnd:
            raise ProtocolError(
                f"node has no privkit update for round {rnd}: the train message was not "
                "handled by this process (run the ClientApp in one long-lived process per "
                "node) or the node was not trained this round"
            )
        if pending.session is None:
            if k != 0:
                raise ProtocolError(f"exchange {k} arrived before exchange 0 of round {rnd}")
            pending.session = self.scheme.client(
                client_id=int(context.node_id), update=pending.update
            )
        answer = pending.session.handle(data)
        if pending.session.done:
            _REGISTRY.drop(key)
        content = app.RecordDict()
        content[CONFIG_RECORD] = app.ConfigRecord({"round": rnd, "exchange": k})
        if answer is not None:
            content[WIRE_RECORD] = _wire_record(answer)
        return app.Message(content, reply_to=msg)


def register_exchange(app: Any, mod: Mod) -> None:
    """Register the handler of :data:`EXCHANGE_MESSAGE_TYPE` messages on a ClientApp.

    Flower only routes a message type to a ClientApp that has a function registered for
    it; this registers one under ``query.privkit`` wrapped in ``mod``, which answers the
    message itself (the function is never reached).

    Args:
        app: a ``flwr.clientapp.ClientApp`` built with decorators (not ``client_fn``).
        mod: the mod returned by :func:`privkit_mod`.

    Raises:
        ParameterError: ``mod`` is not callable.
        ValueError: (from Flower) the app already has a ``query.privkit`` function or was
            built with ``client_fn``.

    Security assumption: none beyond :func:`privkit_mod`'s.
    """
    if not callable(mod):
        raise ParameterError(f"mod must be the callable from privkit_mod, got {type(mod).__name__}")

    def _unreachable(msg: Any, context: Any) -> Any:
        raise ProtocolError("a privkit exchange reached the ClientApp: privkit_mod is missing")

    app.query(EXCHANGE_MESSAGE_TYPE.split(".")[1], mods=[mod])(_unreachable)


# --------------------------------------------------------------------------- server driver


@dataclass(frozen=True, eq=False)
class SchemeRoundResult:
    """The outcome of :func:`run_scheme_round`.

    Attributes:
        aggregate: the scheme's result: the float64 sum (or mean, for ``scheme.mean``) of
            the survivors' updates.
        survivors: node ids whose updates are in ``aggregate``, in canonical order.
        dropped: node ids invited but not in ``aggregate``.
        exchanges: the number of exchanges the round took.

    Security assumption: everything here is what the server may learn under the scheme's
    threat model (the aggregate and who took part); nothing individual.
    """

    aggregate: npt.NDArray[np.float64]
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    exchanges: int


def _parse_reply(reply: Any, rnd: int, k: int) -> bytes | None:
    """The reply's bytes, or None when it counts as a dropout (logged)."""
    if reply.has_error():
        _log.info(
            "privkit: node %s answered exchange %d with an error", reply.metadata.src_node_id, k
        )
        return None
    try:
        config = _read_config(reply.content)
        if _int_field(config, "round") != rnd or _int_field(config, "exchange") != k:
            raise ProtocolError("reply for another round or exchange")
        if WIRE_RECORD not in reply.content.array_records:
            return None
        return _read_wire(reply.content)
    except PrivkitError as exc:
        _log.info("privkit: dropping a reply to exchange %d: %s", k, exc)
        return None


def run_scheme_round(
    grid: Any,
    scheme: Scheme,
    node_ids: Iterable[int],
    length: int,
    *,
    server_round: int = 0,
    timeout: float | None = None,
) -> SchemeRoundResult:
    """Run one round of ``scheme`` over Flower with ``grid.send_and_receive``.

    Each exchange sends every recipient one :data:`EXCHANGE_MESSAGE_TYPE` message
    (``group_id`` = the round) and waits for the replies; a node that sends no reply in
    ``timeout``, an error reply, a malformed reply or one the session refuses has dropped
    out and is not contacted again.  The nodes must have been trained in ``server_round``
    through :func:`privkit_mod` (as :class:`SecureAggregation` does).

    Args:
        grid: the ServerApp's ``flwr.serverapp.Grid``.
        scheme: the aggregation scheme (the nodes' mods must use the same parameters).
        node_ids: the Flower node ids taking part (they are the privkit client ids).
        length: coordinates of every update.
        server_round: the round number the nodes were trained in.
        timeout: seconds to wait for the replies of each exchange (None: no limit).

    Returns:
        A :class:`SchemeRoundResult`.

    Raises:
        ParameterError: invalid scheme, node ids or length, or fewer nodes than the scheme
            needs.
        ProtocolError: too few nodes remained to complete the round.
        BackendUnavailableError: flwr is not installed.

    Security assumption: the grid and the nodes' replies are untrusted; every reply is
    checked by the server session before it changes anything.
    """
    app = _flwr_app()
    checked = _check_scheme(scheme)
    ids: list[ClientId] = []
    for nid in node_ids:
        if isinstance(nid, bool) or not isinstance(nid, int | np.integer):
            raise ParameterError(f"node ids must be ints, got {type(nid).__name__}")
        ids.append(int(nid))
    if isinstance(server_round, bool) or not isinstance(server_round, int) or server_round < 0:
        raise ParameterError(f"server_round must be an int >= 0, got {server_round!r}")
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise ParameterError(f"timeout must be None or a number > 0, got {timeout!r}")
    session: ServerSession = checked.server(client_ids=ids, length=length)
    out = session.start()
    k = 0
    while not session.done:
        messages = []
        for dst, payload in out.items():
            content = app.RecordDict()
            content[CONFIG_RECORD] = app.ConfigRecord({"round": server_round, "exchange": k})
            content[WIRE_RECORD] = _wire_record(payload)
            messages.append(
                app.Message(
                    content,
                    dst_node_id=int(dst),
                    message_type=EXCHANGE_MESSAGE_TYPE,
                    group_id=str(server_round),
                )
            )
        replies: dict[ClientId, bytes | None] = {}
        for reply in grid.send_and_receive(messages, timeout=timeout):
            src = int(reply.metadata.src_node_id)
            if src in out and src not in replies:
                answer = _parse_reply(reply, server_round, k)
                if answer is not None:
                    replies[src] = answer
        out = _step(session, replies, k)
        k += 1
    survivors = tuple(int(c) for c in session.survivors if isinstance(c, int))
    kept = set(survivors)
    dropped = tuple(i for i in ids if isinstance(i, int) and i not in kept)
    return SchemeRoundResult(session.result(), survivors, dropped, k)


def _step(
    session: ServerSession, replies: dict[ClientId, bytes | None], k: int
) -> dict[ClientId, bytes]:
    """``session.step``, removing replies the session refuses (they become dropouts)."""
    while True:
        try:
            return session.step(replies)
        except (DecodeError, ProtocolError) as exc:
            bad = getattr(exc, "client_id", None)
            if getattr(session, "failed", False) or bad is None or bad not in replies:
                raise
            _log.info("privkit: refused the reply of node %s to exchange %d: %s", bad, k, exc)
            del replies[bad]


# --------------------------------------------------------------------------- strategy


class SecureAggregation:
    """A Flower Message-API strategy whose training aggregate comes from a privkit scheme.

    The inner strategy configures training (which nodes, which config) and evaluation as
    usual.  Its train messages get the ``"privkit"`` ConfigRecord; the nodes' mods train,
    keep their models, and the aggregate is computed with :func:`run_scheme_round`.  The
    inner ``aggregate_train`` then receives ONE synthetic reply: the weighted mean model as
    ``"arrays"`` and, as ``"metrics"``, its weight key (``weighted_by_key``, default
    ``"num-examples"``) set to the number of survivors (``weighting="uniform"``) or their
    total number of examples (``weighting="examples"``).  ``start`` is Flower's
    ``Strategy.start`` loop.

    Args:
        strategy: a ``flwr.serverapp.strategy`` strategy that aggregates by a (weighted)
            mean: FedAvg, FedAvgM, FedProx, FedAdam, FedYogi, FedAdagrad, client-side DP
            wrappers.
        scheme: the privkit aggregation scheme.
        weighting: ``"uniform"`` (every survivor counts 1) or ``"examples"`` (each update
            is weighted by the reply's weight key, as FedAvg does; the scheme must admit
            ``|examples * x|``).
        exchange_timeout: seconds to wait for each exchange's replies (None: no limit).

    Raises:
        ParameterError: ``strategy`` needs individual updates (Krum, MultiKrum,
            FedMedian, FedTrimmedAvg, Bulyan, QFedAvg, FedXgb*, server-side DP clipping)
            or lacks the Message-API methods; invalid scheme, weighting or timeout.
        BackendUnavailableError: flwr is not installed (extra ``flower``).

    Security assumption: as the scheme's; the server and the inner strategy see only the
    aggregate of the survivors, the survivors' ids, and the clients' train metrics.
    """

    def __init__(
        self,
        strategy: Any,
        scheme: Scheme,
        *,
        weighting: str = "uniform",
        exchange_timeout: float | None = 600.0,
    ) -> None:
        _flwr_app()
        for cls in type(strategy).__mro__:
            if cls.__name__ in _REFUSED:
                raise ParameterError(
                    f"{type(strategy).__name__} needs every client's individual update, "
                    "which secure aggregation hides; use a mean-based strategy (FedAvg, "
                    "FedAdam, FedYogi, FedAvgM, ...) or privkit.aggregation.robust schemes"
                )
        for name in ("configure_train", "aggregate_train", "configure_evaluate"):
            if not callable(getattr(strategy, name, None)):
                raise ParameterError(
                    f"strategy must be a Flower Message-API strategy (no {name!r} method)"
                )
        self.strategy = strategy
        self.scheme = _check_scheme(scheme)
        self.weighting = _check_weighting(weighting)
        if exchange_timeout is not None and not (
            isinstance(exchange_timeout, int | float) and exchange_timeout > 0
        ):
            raise ParameterError(f"exchange_timeout must be None or > 0, got {exchange_timeout}")
        self.exchange_timeout = exchange_timeout
        self._grid: Any = None
        self._layout: _Layout | None = None
        self.last_round: SchemeRoundResult | None = None
        """The driver's result of the latest aggregated round (None before)."""
        self.rounds: dict[int, SchemeRoundResult] = {}
        """The driver's result of every aggregated round, by server round."""

    @property
    def weight_key(self) -> str:
        """The MetricRecord key the inner strategy weights by."""
        key = getattr(self.strategy, "weighted_by_key", "num-examples")
        return key if isinstance(key, str) else "num-examples"

    def summary(self) -> None:
        """Log the configuration (Flower's ``Strategy.summary``)."""
        _log.info("privkit SecureAggregation(%r, weighting=%s)", self.scheme, self.weighting)
        self.strategy.summary()

    def configure_train(self, server_round: int, arrays: Any, config: Any, grid: Any) -> list[Any]:
        """The inner strategy's train messages, each with the ``"privkit"`` ConfigRecord.

        Raises:
            ParameterError: ``arrays`` holds non-numpy arrays.
        """
        app = _flwr_app()
        self._grid = grid
        self._layout = _layout(arrays)
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        for msg in messages:
            msg.content[CONFIG_RECORD] = app.ConfigRecord(
                {
                    "round": int(server_round),
                    "fingerprint": self.scheme.fingerprint,
                    "weighting": self.weighting,
                    "weight-key": self.weight_key,
                }
            )
        return messages

    def aggregate_train(self, server_round: int, replies: Iterable[Any]) -> tuple[Any, Any]:
        """Run the scheme over the nodes that trained and give the inner strategy the mean.

        Returns:
            The inner strategy's ``(ArrayRecord | None, MetricRecord | None)``; ``(None,
            None)`` when too few nodes trained or the round failed (logged), as Flower's
            strategies do for a round without usable replies.
        """
        app = _flwr_app()
        layout = self._layout
        if layout is None or self._grid is None:
            raise ProtocolError("aggregate_train called before configure_train")
        length = layout.size + 1
        trained: list[Any] = []
        for reply in replies:
            if reply.has_error():
                continue
            try:
                config = _read_config(reply.content)
                ok = (
                    _int_field(config, "round") == server_round
                    and _int_field(config, "length") == length
                )
            except PrivkitError:
                ok = False
            if ok:
                trained.append(reply)
        ids = sorted({int(r.metadata.src_node_id) for r in trained})
        if len(ids) < max(1, self.scheme.min_survivors(len(ids))):
            _log.warning("privkit: round %d: only %d nodes trained", server_round, len(ids))
            return None, None
        try:
            result = run_scheme_round(
                self._grid,
                self.scheme,
                ids,
                length,
                server_round=server_round,
                timeout=self.exchange_timeout,
            )
        except (ProtocolError, ParameterError) as exc:
            _log.warning("privkit: round %d failed: %s", server_round, exc)
            return None, None
        self.last_round = result
        self.rounds[int(server_round)] = result
        total = float(result.aggregate[-1])
        if not total > 0:
            _log.warning("privkit: round %d: aggregate weight %r <= 0", server_round, total)
            return None, None
        mean = result.aggregate[:-1] / total
        weight = total * len(result.survivors) if self.scheme.mean else total
        content = app.RecordDict(
            {
                "arrays": _unflatten(mean, layout),
                "metrics": app.MetricRecord({self.weight_key: weight}),
            }
        )
        synthetic = app.Message(content, reply_to=_origin(trained))
        return self.strategy.aggregate_train(server_round, [synthetic])  # type: ignore[no-any-return]

    def configure_evaluate(
        self, server_round: int, arrays: Any, config: Any, grid: Any
    ) -> Iterable[Any]:
        """The inner strategy's evaluate messages (privkit is not involved)."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)  # type: ignore[no-any-return]

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Any]) -> Any:
        """The inner strategy's evaluation aggregate (privkit is not involved)."""
        return self.strategy.aggregate_evaluate(server_round, replies)

    def start(self, grid: Any, initial_arrays: Any, num_rounds: int = 3, **kwargs: Any) -> Any:
        """Run Flower's ``Strategy.start`` loop with this strategy.

        Args:
            grid: the ServerApp's Grid.
            initial_arrays: the initial model (``ArrayRecord`` of numpy arrays).
            num_rounds: rounds to run.
            **kwargs: ``timeout``, ``train_config``, ``evaluate_config``, ``evaluate_fn``
                as for ``Strategy.start``.

        Returns:
            Flower's ``Result``.
        """
        strategy_mod = require("flwr.serverapp.strategy", feature="SecureAggregation.start")
        return strategy_mod.Strategy.start(self, grid, initial_arrays, num_rounds, **kwargs)


def _origin(replies: Sequence[Any]) -> Any:
    # The synthetic reply must answer some message; any trained reply's origin will do,
    # the inner strategy only reads its content.
    return replies[0]
