"""The reusable session bases, exercised through a two-exchange commit/reveal scheme.

``TwoPhase`` (defined here, reused by tests/test_testing_conformance.py) is what a
multi-exchange scheme built on the bases looks like: exchange 0 collects a SHA-256
commitment to each update, exchange 1 collects the updates and checks them against
their commitments.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from privkit import wire
from privkit.aggregation import (
    SESSION_ID_SIZE,
    BaseClientSession,
    BaseServerSession,
    ClientId,
    ExchangeSpec,
    Finish,
    Payload,
    Scheme,
    run_local,
)
from privkit.encoding import flatten
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.wire import Value

COMMIT_REQ, COMMIT, REVEAL_REQ, REVEAL = 0x7F10, 0x7F11, 0x7F12, 0x7F13
EXCHANGES = (ExchangeSpec(COMMIT_REQ, COMMIT), ExchangeSpec(REVEAL_REQ, REVEAL))


def digest(vector: np.ndarray) -> bytes:
    return hashlib.sha256(vector.tobytes()).digest()


class TwoPhase(Scheme):
    """Commit, then reveal; no privacy (a test scheme)."""

    name: ClassVar[str] = "test.twophase.v1"

    def __init__(self, *, min_clients: int = 1, mean: bool = False) -> None:
        self._min = min_clients
        self._mean = mean

    @property
    def mean(self) -> bool:
        return self._mean

    def params(self) -> dict[str, Value]:
        return {"min_clients": self._min, "mean": self._mean}

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> TwoPhaseServer:
        return TwoPhaseServer(self, client_ids, length)

    def client(self, *, client_id: ClientId, update: object) -> TwoPhaseClient:
        return TwoPhaseClient(self, client_id, update)

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        return n_summands * n_summands * bound * 2.0**-52

    def min_survivors(self, n_clients: int) -> int:
        return self._min


class TwoPhaseServer(BaseServerSession):
    def __init__(self, scheme: TwoPhase, client_ids: Iterable[ClientId], length: int) -> None:
        ids = list(client_ids)
        super().__init__(
            fingerprint=scheme.fingerprint,
            exchanges=EXCHANGES,
            client_ids=ids,
            length=length,
            min_survivors=scheme.min_survivors(len(ids)),
            mean=scheme.mean,
        )
        self.commitments: dict[ClientId, bytes] = {}

    def _open(self) -> Mapping[ClientId, Payload]:
        return {c: {"length": self.length} for c in self.client_ids}

    def _check_reply(self, exchange: int, client_id: ClientId, data: Payload) -> object:
        if exchange == 0:
            commitment = data.get("commitment")
            if set(data) != {"commitment"} or not isinstance(commitment, bytes):
                raise DecodeError("COMMIT holds exactly 'commitment' (bytes)")
            return commitment
        vector = data.get("vector")
        if set(data) != {"vector"} or not isinstance(vector, np.ndarray):
            raise DecodeError("REVEAL holds exactly 'vector' (an array)")
        if vector.dtype != np.float64 or vector.shape != (self.length,):
            raise ProtocolError("bad vector shape", client_id=client_id)
        if digest(vector) != self.commitments[client_id]:
            raise ProtocolError("vector does not match its commitment", client_id=client_id)
        return vector

    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Mapping[ClientId, Payload] | Finish:
        if exchange == 0:
            self.commitments = dict(replies)
            return {c: {} for c in replies}
        total = np.zeros(self.length)
        for v in replies.values():
            total += v
        return Finish(total=total, survivors=replies.keys())


class TwoPhaseClient(BaseClientSession):
    def __init__(self, scheme: TwoPhase, client_id: ClientId, update: object) -> None:
        super().__init__(fingerprint=scheme.fingerprint, exchanges=EXCHANGES, client_id=client_id)
        self.vector, _ = flatten(update)

    def _check_request(self, exchange: int, data: Payload) -> object:
        if exchange == 0:
            if data.get("length") != self.vector.size:
                raise ParameterError("length mismatch")
            return None
        if data:
            raise DecodeError("REVEAL_REQ is empty")
        return None

    def _respond(self, exchange: int, request: Any) -> Payload:
        if exchange == 0:
            return {"commitment": digest(self.vector)}
        return {"vector": self.vector}


# ------------------------------------------------------------------------- helpers


def setup(n: int = 3, length: int = 4, scheme: Scheme | None = None) -> tuple[Any, ...]:
    scheme = scheme or TwoPhase()
    ids = list(range(1, n + 1))
    updates = {c: np.full(length, float(c)) for c in ids}
    server = scheme.server(client_ids=ids, length=length)
    clients = {c: scheme.client(client_id=c, update=updates[c]) for c in ids}
    return scheme, server, clients, updates


def answer(clients: Mapping[ClientId, Any], out: Mapping[ClientId, bytes]) -> dict:
    return {c: clients[c].handle(m) for c, m in out.items()}


def forge(scheme: Scheme, tag: int, body: Value) -> bytes:
    return wire.encode(tag, body, fingerprint=scheme.fingerprint)


# ------------------------------------------------------------------------- tests


def test_two_exchanges_and_exchange_index() -> None:
    _, server, clients, _ = setup()
    assert server.exchange == 0
    out = server.start()
    assert server.exchange == 0
    assert set(out) == {1, 2, 3}
    out = server.step(answer(clients, out))
    assert server.exchange == 1
    assert not server.done
    assert server.step(answer(clients, out)) == {}
    assert server.done
    assert server.exchange == 2
    assert server.survivors == (1, 2, 3)
    np.testing.assert_array_equal(server.result(), np.full(4, 6.0))
    assert all(c.done for c in clients.values())


def test_every_message_carries_session_exchange_and_peer() -> None:
    scheme, server, clients, _ = setup(n=2)
    out = server.start()
    body = wire.decode(out[1], expect_type=COMMIT_REQ, expect_fingerprint=scheme.fingerprint).body
    assert body == {"session": server.session_id, "exchange": 0, "to": 1, "data": {"length": 4}}
    assert len(server.session_id) == SESSION_ID_SIZE
    reply = wire.decode(clients[1].handle(out[1])).body
    assert set(reply) == {"session", "exchange", "from", "data"}
    assert reply["from"] == 1
    assert clients[1].session_id == server.session_id
    assert scheme.server(client_ids=[1], length=4).session_id != server.session_id


def test_dropout_between_exchanges() -> None:
    _, server, clients, _ = setup()
    out = server.start()
    out = server.step(answer(clients, out))
    replies = answer(clients, out)
    del replies[2]
    server.step(replies)
    assert server.survivors == (1, 3)
    np.testing.assert_array_equal(server.result(), np.full(4, 4.0))


def test_dropped_client_is_never_contacted_again() -> None:
    _, server, clients, _ = setup()
    out = server.start()
    replies = answer(clients, out)
    late = replies.pop(2)
    out = server.step(replies)
    assert set(out) == {1, 3}
    assert server.alive == (1, 3)
    with pytest.raises(ProtocolError, match="not sent a message") as info:
        server.step({**answer(clients, out), 2: late})
    assert info.value.client_id == 2


def test_replayed_reply_of_earlier_exchange_is_refused_and_state_kept() -> None:
    _, server, clients, _ = setup()
    out = server.start()
    first = answer(clients, out)
    out = server.step(first)
    second = answer(clients, out)
    with pytest.raises(ProtocolError, match="replay of exchange 0") as info:
        server.step({**second, 3: first[3]})
    assert info.value.client_id == 3
    assert server.exchange == 1
    server.step(second)
    assert server.survivors == (1, 2, 3)


def test_reply_for_a_later_exchange_is_refused() -> None:
    _, server, clients, _ = setup()
    out = server.start()
    srv2, cls2 = copy.deepcopy((server, clients))
    later = answer(cls2, srv2.step(answer(cls2, out)))
    replies = answer(clients, out)
    with pytest.raises(ProtocolError, match="for exchange 1") as info:
        server.step({**replies, 1: later[1]})
    assert info.value.client_id == 1
    server.step(replies)
    assert server.exchange == 1


def test_reply_from_another_session_is_refused() -> None:
    scheme, server, clients, updates = setup()
    other = scheme.server(client_ids=[1, 2, 3], length=4)
    other_clients = {c: scheme.client(client_id=c, update=u) for c, u in updates.items()}
    foreign = answer(other_clients, other.start())
    replies = answer(clients, server.start())
    with pytest.raises(ProtocolError, match="another session") as info:
        server.step({**replies, 2: foreign[2]})
    assert info.value.client_id == 2
    server.step(replies)


def test_reply_under_wrong_or_unknown_id_is_refused() -> None:
    _, server, clients, _ = setup()
    replies = answer(clients, server.start())
    with pytest.raises(ProtocolError, match="sent by client 1") as info:
        server.step({**replies, 2: replies[1]})
    assert info.value.client_id == 2
    for key in (99, "1", None, 2.5, (1,)):
        with pytest.raises(ProtocolError, match="unknown client id") as info:
            server.step({**replies, key: replies[1]})
        assert info.value.client_id is key
    # True == 1 in Python, but a bool is never a client id
    with pytest.raises(ProtocolError, match="unknown client id") as info:
        server.step({True: replies[1]})
    assert info.value.client_id is True
    server.step(replies)
    assert server.exchange == 1


def test_reflected_request_is_refused() -> None:
    _, server, _, _ = setup()
    out = server.start()
    with pytest.raises(DecodeError, match="unexpected message type"):
        server.step({1: out[1]})


def test_malformed_bodies_are_decode_errors_and_change_nothing() -> None:
    scheme, server, clients, _ = setup(n=1)
    out = server.start()
    sid = server.session_id
    good = {"session": sid, "exchange": 0, "from": 1, "data": {"commitment": b"x" * 32}}
    bad_bodies: list[Value] = [
        [1, 2],
        {k: v for k, v in good.items() if k != "data"},
        {**good, "extra": 1},
        {**good, "session": sid[:8]},
        {**good, "exchange": -1},
        {**good, "exchange": True},
        {**good, "from": 1.5},
        {**good, "data": [1]},
        {"session": sid, "exchange": 0, "to": 1, "data": {}},
    ]
    for body in bad_bodies:
        with pytest.raises(DecodeError) as info:
            server.step({1: forge(scheme, COMMIT, body)})
        assert getattr(info.value, "client_id", None) == 1
    with pytest.raises(DecodeError, match="not the reply type of exchange 0"):
        server.step({1: forge(scheme, REVEAL, good)})
    with pytest.raises(DecodeError, match="expected bytes"):
        server.step({1: "text"})  # type: ignore[dict-item]
    with pytest.raises(DecodeError, match="fingerprint"):
        server.step({1: wire.encode(COMMIT, good)})
    with pytest.raises(ParameterError):
        server.step([(1, b"")])  # type: ignore[arg-type]
    assert server.exchange == 0
    server.step(answer(clients, out))
    assert server.exchange == 1


def test_none_reply_counts_as_dropout() -> None:
    _, server, clients, _ = setup()
    replies: dict[ClientId, bytes | None] = dict(answer(clients, server.start()))
    replies[3] = None
    out = server.step(replies)
    assert set(out) == {1, 2}


def test_client_binding_replays_and_future_messages() -> None:
    scheme, server, clients, updates = setup(n=2)
    out0 = server.start()
    other = scheme.server(client_ids=[1, 2], length=4)
    other_out0 = other.start()
    c1 = clients[1]
    srv2, cls2 = copy.deepcopy((server, clients))
    later = srv2.step(answer(cls2, out0))
    with pytest.raises(ProtocolError, match="expects exchange 0"):
        c1.handle(later[1])
    with pytest.raises(ProtocolError, match="addressed to client 2"):
        c1.handle(out0[2])
    assert c1.session_id is None
    assert c1.exchange == 0
    replies = answer(clients, out0)
    assert c1.session_id == server.session_id
    with pytest.raises(ProtocolError, match="replay of exchange 0"):
        c1.handle(out0[1])
    out1 = server.step(replies)
    other_clients = {c: scheme.client(client_id=c, update=u) for c, u in updates.items()}
    other_out1 = other.step(answer(other_clients, other_out0))
    with pytest.raises(ProtocolError, match="another session"):
        c1.handle(other_out1[1])
    with pytest.raises(DecodeError):
        c1.handle(out1[1][:-1])
    assert c1.exchange == 1
    server.step(answer(clients, out1))
    assert c1.done
    with pytest.raises(ProtocolError, match="finished"):
        c1.handle(out1[1])
    np.testing.assert_array_equal(server.result(), np.full(4, 3.0))


def test_client_refusal_of_request_changes_nothing() -> None:
    scheme = TwoPhase()
    server = scheme.server(client_ids=[1], length=5)
    client = scheme.client(client_id=1, update=np.zeros(4))
    out = server.start()
    with pytest.raises(ParameterError, match="length mismatch"):
        client.handle(out[1])
    assert client.session_id is None
    assert not client.done
    assert not client.failed


class _Buggy(TwoPhaseServer):
    mode = ""

    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Mapping[ClientId, Payload] | Finish:
        if self.mode == "raise":
            raise KeyError("bug")
        if self.mode == "dropped" and exchange == 0:
            return {c: {} for c in self.client_ids}
        if self.mode == "empty":
            return {}
        if self.mode == "shape":
            return Finish(total=np.zeros(self.length + 1), survivors=replies.keys())
        if self.mode == "survivors":
            return Finish(total=np.zeros(self.length), survivors=["nobody"])
        if self.mode == "endless" and exchange == 1:
            return {c: {} for c in replies}
        return super()._advance(exchange, replies, dropped)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("raise", KeyError),
        ("dropped", ProtocolError),
        ("empty", ProtocolError),
        ("shape", ProtocolError),
        ("survivors", ProtocolError),
        ("endless", ProtocolError),
    ],
)
def test_scheme_bugs_fail_the_session_closed(mode: str, error: type[Exception]) -> None:
    scheme = TwoPhase()
    server = _Buggy(scheme, [1, 2], 3)
    server.mode = mode
    clients = {c: scheme.client(client_id=c, update=np.ones(3)) for c in (1, 2)}

    def drive() -> None:
        out = server.start()
        replies = answer(clients, out)
        if mode == "dropped":
            del replies[2]
        out = server.step(replies)
        server.step(answer(clients, out))

    with pytest.raises(error):
        drive()
    assert server.failed
    assert not server.done
    for call in (lambda: server.step({}), server.result, server.start):
        with pytest.raises(ProtocolError, match="failed"):
            call()
    with pytest.raises(ProtocolError):
        _ = server.survivors


def test_failed_open_fails_closed() -> None:
    class NoOpen(TwoPhaseServer):
        def _open(self) -> Mapping[ClientId, Payload]:
            return {"stranger": {}}

    server = NoOpen(TwoPhase(), [1], 2)
    with pytest.raises(ProtocolError, match="not an active client"):
        server.start()
    with pytest.raises(ProtocolError, match="failed"):
        server.start()


def test_client_respond_error_fails_client_closed() -> None:
    class Broken(TwoPhaseClient):
        def _respond(self, exchange: int, request: Any) -> Payload:
            raise RuntimeError("boom")

    scheme = TwoPhase()
    server = scheme.server(client_ids=[1], length=2)
    client = Broken(scheme, 1, np.ones(2))
    out = server.start()
    with pytest.raises(RuntimeError):
        client.handle(out[1])
    assert client.failed
    with pytest.raises(ProtocolError, match="failed"):
        client.handle(out[1])


def test_base_constructor_validation() -> None:
    fp = TwoPhase().fingerprint

    def make(**kw: Any) -> TwoPhaseServer:
        args: dict[str, Any] = {
            "fingerprint": fp,
            "exchanges": EXCHANGES,
            "client_ids": [1, 2],
            "length": 3,
            "min_survivors": 1,
        }
        args.update(kw)
        server = TwoPhaseServer.__new__(TwoPhaseServer)
        BaseServerSession.__init__(server, **args)
        return server

    make()
    for kw in (
        {"fingerprint": b"short"},
        {"exchanges": ()},
        {"exchanges": [(1, 2)]},
        {"client_ids": []},
        {"client_ids": [1, 1]},
        {"client_ids": [1, True]},
        {"client_ids": "ab"},
        {"length": -1},
        {"length": 2.0},
        {"min_survivors": 0},
        {"min_survivors": 3},
        {"max_reply_size": 3},
    ):
        with pytest.raises(ParameterError):
            make(**kw)


def test_exchange_spec_validation() -> None:
    assert ExchangeSpec(1, 2).reply == 2
    for request, reply in ((0, 1), (1, 1), (1, 0x10000), (True, 2)):
        with pytest.raises(ParameterError):
            ExchangeSpec(request, reply)


def test_two_phase_run_local_with_dropouts_at_exchange_one() -> None:
    updates = {c: np.full(3, float(i)) for i, c in enumerate(("a", "b", "c"), start=1)}
    res = run_local(TwoPhase(mean=True), updates, dropouts={1: ["c"]})
    assert res.survivors == ("a", "b")
    assert len(res.exchanges) == 2
    assert res.exchanges[1].messages_down == 3
    assert res.exchanges[1].messages_up == 2
    np.testing.assert_array_equal(res.aggregate, np.full(3, 1.5))
