"""The plain reference scheme and the abstract API it implements."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from privkit import wire
from privkit.aggregation import (
    ClientSession,
    Plain,
    PlainServerSession,
    Scheme,
    ServerSession,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
)
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.wire import MessageType


def round_trip(server: ServerSession, clients: dict[Any, ClientSession]) -> np.ndarray:
    out = server.start()
    server.step({c: clients[c].handle(m) for c, m in out.items()})
    return server.result()


def make(scheme: Plain, updates: dict[Any, Any]) -> tuple[ServerSession, dict[Any, Any]]:
    first = next(iter(updates.values()))
    server = scheme.server(client_ids=list(updates), length=np.asarray(first).size)
    clients = {c: scheme.client(client_id=c, update=u) for c, u in updates.items()}
    return server, clients


def forge_update(server: PlainServerSession, client_id: Any, vector: Any) -> bytes:
    body = {
        "session": server.session_id,
        "exchange": 0,
        "from": client_id,
        "data": {"vector": vector},
    }
    return wire.encode(MessageType.PLAIN_UPDATE, body, fingerprint=Plain().fingerprint)


# ---------------------------------------------------------------------- the scheme


def test_params_fingerprint_repr() -> None:
    assert Plain().params() == {"mean": False, "min_clients": 1}
    assert Plain().fingerprint == Plain().fingerprint
    assert len(Plain().fingerprint) == 16
    assert Plain().fingerprint != Plain(mean=True).fingerprint
    assert Plain().fingerprint != Plain(min_clients=2).fingerprint
    assert repr(Plain(mean=True)) == "Plain(mean=True, min_clients=1)"
    assert Plain().input_bound is None
    assert Plain(mean=True).mean
    assert not Plain().mean
    assert Plain(min_clients=4).min_survivors(10) == 4
    assert Plain(min_clients=4).min_clients == 4
    assert isinstance(Plain(), Scheme)


@pytest.mark.parametrize(
    "kwargs", [{"mean": 1}, {"min_clients": 0}, {"min_clients": True}, {"min_clients": 1.0}]
)
def test_invalid_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParameterError):
        Plain(**kwargs)


def test_tolerance() -> None:
    assert Plain().tolerance(n_summands=0, bound=1.0) == 0.0
    assert Plain().tolerance(n_summands=1, bound=5.0) == 0.0
    assert Plain().tolerance(n_summands=4, bound=2.0) == 16 * 2.0 * 2.0**-52
    assert Plain(mean=True).tolerance(n_summands=4, bound=2.0) == 4 * 2.0 * 2.0**-52
    assert Plain().tolerance(n_summands=3, bound=1e308) == math.inf
    for kwargs in ({"n_summands": -1, "bound": 1.0}, {"n_summands": 2, "bound": -1.0}):
        with pytest.raises(ParameterError):
            Plain().tolerance(**kwargs)


def test_tolerance_is_sound_for_cancelling_sums() -> None:
    # 0.1 + 0.2 + 0.3 - 0.6 style cancellation: the bound still covers the error
    vectors = [np.array([0.1]), np.array([0.2]), np.array([0.3]), np.array([-0.6])]
    server, clients = make(Plain(), dict(enumerate(vectors)))
    got = round_trip(server, clients)[0]
    assert abs(got - math.fsum(float(v[0]) for v in vectors)) <= Plain().tolerance(
        n_summands=4, bound=0.6
    )


# ---------------------------------------------------------------------- client ids


def test_client_id_validation_and_order() -> None:
    assert check_client_id(5) == 5
    assert check_client_id("x") == "x"
    for bad in (True, 1.0, np.int64(1), None, b"x", 2**64, -(2**63) - 1, "\ud800"):
        with pytest.raises(ParameterError):
            check_client_id(bad)
    assert check_client_ids(["b", 3, "a", -1]) == (-1, 3, "a", "b")
    assert sorted(["b", 2, 1], key=client_id_sort_key) == [1, 2, "b"]
    for bad_ids in ([], [1, 1], "abc", 5):
        with pytest.raises(ParameterError):
            check_client_ids(bad_ids)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- sessions


def test_sum_and_mean() -> None:
    updates = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, -4.0])}
    np.testing.assert_array_equal(round_trip(*make(Plain(), updates)), [4.0, -2.0])
    np.testing.assert_array_equal(round_trip(*make(Plain(mean=True), updates)), [2.0, -1.0])


def test_call_order_errors() -> None:
    server, clients = make(Plain(), {1: np.ones(2), 2: np.ones(2)})
    with pytest.raises(ProtocolError, match="before start"):
        server.step({})
    with pytest.raises(ProtocolError, match="only once the round is done"):
        server.result()
    with pytest.raises(ProtocolError):
        _ = server.survivors
    out = server.start()
    with pytest.raises(ProtocolError, match="already called"):
        server.start()
    with pytest.raises(ProtocolError, match="only once the round is done"):
        server.result()
    replies = {c: clients[c].handle(m) for c, m in out.items()}
    assert server.step(replies) == {}
    assert server.done
    with pytest.raises(ProtocolError, match="already done"):
        server.step(replies)
    with pytest.raises(ProtocolError, match="already called"):
        server.start()
    assert server.survivors == (1, 2)
    result = server.result()
    result[:] = 99.0  # a copy: the session's result is not affected
    np.testing.assert_array_equal(server.result(), [2.0, 2.0])


def test_everyone_drops_out() -> None:
    server, _ = make(Plain(), {1: np.ones(2), 2: np.ones(2)})
    server.start()
    with pytest.raises(ProtocolError, match=r"at least 1, but only 0 remain \(0 of 2"):
        server.step({})
    assert server.failed
    for call in (lambda: server.step({}), server.result, server.start):
        with pytest.raises(ProtocolError, match="failed"):
            call()


def test_min_clients() -> None:
    updates = {c: np.full(2, float(c)) for c in (1, 2, 3)}
    server, clients = make(Plain(min_clients=2), updates)
    out = server.start()
    server.step({c: clients[c].handle(out[c]) for c in (1, 3)})
    assert server.survivors == (1, 3)
    server, clients = make(Plain(min_clients=2), updates)
    out = server.start()
    with pytest.raises(ProtocolError, match="needs at least 2, but only 1 remain") as info:
        server.step({2: clients[2].handle(out[2])})
    assert info.value.client_id is None
    with pytest.raises(ParameterError, match="at least 4 clients"):
        Plain(min_clients=4).server(client_ids=[1, 2, 3], length=2)


@pytest.mark.parametrize(
    ("vector", "match"),
    [
        (np.ones(3), "shape"),
        (np.ones(2, dtype=np.float32), "dtype float32"),
        (np.ones((1, 2)), "shape"),
        (np.array([1.0, np.nan]), "non-finite"),
        (np.array([np.inf, 0.0]), "non-finite"),
        ([1.0, 2.0], "not an array"),
    ],
)
def test_bad_vectors_are_refused_naming_the_client(vector: Any, match: str) -> None:
    server, clients = make(Plain(), {"x": np.ones(2), "y": np.ones(2)})
    out = server.start()
    replies = {c: clients[c].handle(m) for c, m in out.items()}
    with pytest.raises(ProtocolError, match=match) as info:
        server.step({**replies, "y": forge_update(server, "y", vector)})
    assert info.value.client_id == "y"
    assert "'y'" in str(info.value)
    server.step(replies)  # unchanged: the genuine round completes
    np.testing.assert_array_equal(server.result(), [2.0, 2.0])


def test_error_messages_do_not_contain_update_values() -> None:
    secret = 123456.789
    server, clients = make(Plain(), {1: np.full(2, secret), 2: np.ones(2)})
    out = server.start()
    replies = {c: clients[c].handle(m) for c, m in out.items()}
    for bad in (np.full(3, secret), np.full(2, secret, dtype=np.float32)):
        with pytest.raises(ProtocolError) as info:
            server.step({**replies, 1: forge_update(server, 1, bad)})
        assert "123456" not in str(info.value)
    with pytest.raises(ParameterError) as err:
        Plain().client(client_id=1, update=np.array([secret, np.nan]))
    assert "123456" not in str(err.value)


def test_malformed_payloads_are_decode_errors() -> None:
    server, clients = make(Plain(), {1: np.ones(2)})
    out = server.start()
    sid = server.session_id
    for data in ({}, {"vector": np.ones(2), "more": 1}):
        body = {"session": sid, "exchange": 0, "from": 1, "data": data}
        raw = wire.encode(MessageType.PLAIN_UPDATE, body, fingerprint=Plain().fingerprint)
        with pytest.raises(DecodeError):
            server.step({1: raw})
    with pytest.raises(DecodeError, match="too large"):
        server.step({1: forge_update(server, 1, np.ones(5000))})
    server.step({1: clients[1].handle(out[1])})
    assert server.done


def test_client_refuses_length_mismatch_without_changing_state() -> None:
    server = Plain().server(client_ids=[1], length=3)
    client = Plain().client(client_id=1, update=np.ones(2))
    out = server.start()
    with pytest.raises(ParameterError, match="asks for updates of 3 coordinates"):
        client.handle(out[1])
    assert not client.done
    assert client.session_id is None


def test_client_rejects_bad_requests() -> None:
    server = Plain().server(client_ids=[1, 2], length=2)
    client = Plain().client(client_id=1, update=np.ones(2))
    out = server.start()
    with pytest.raises(ProtocolError, match="addressed to client 2"):
        client.handle(out[2])
    with pytest.raises(DecodeError, match="fingerprint"):
        Plain(mean=True).client(client_id=1, update=np.ones(2)).handle(out[1])
    with pytest.raises(DecodeError):
        client.handle(out[1][:40])
    with pytest.raises(DecodeError):
        client.handle(out[1] + b"\x00")
    with pytest.raises(DecodeError, match="expected bytes"):
        client.handle("x")  # type: ignore[arg-type]
    body = {"session": server.session_id, "exchange": 0, "to": 1, "data": {"length": "2"}}
    with pytest.raises(DecodeError, match="PLAIN_REQUEST"):
        client.handle(wire.encode(MessageType.PLAIN_REQUEST, body, fingerprint=Plain().fingerprint))
    assert client.handle(out[1]) is not None
    assert client.done
    with pytest.raises(ProtocolError, match="finished"):
        client.handle(out[1])


def test_client_refuses_bad_updates() -> None:
    with pytest.raises(ParameterError, match="NaN or infinite"):
        Plain().client(client_id=1, update=np.array([1.0, np.inf]))
    with pytest.raises(ParameterError):
        Plain().client(client_id=1, update="not an update")
    with pytest.raises(ParameterError):
        Plain().client(client_id=True, update=np.ones(1))


def test_fingerprint_mismatch_between_server_and_client() -> None:
    server = Plain(mean=True).server(client_ids=[1], length=1)
    out = server.start()
    reply = Plain(mean=True).client(client_id=1, update=np.ones(1)).handle(out[1])
    assert reply is not None
    other = Plain().server(client_ids=[1], length=1)
    other.start()
    with pytest.raises(DecodeError, match="fingerprint"):
        other.step({1: reply})


def test_summation_order_is_canonical() -> None:
    # Same inputs in different insertion orders give bit-identical sums.
    vals = {1: np.array([1e16]), "b": np.array([1.0]), 0: np.array([-1e16]), "a": np.array([1.0])}
    a = round_trip(*make(Plain(), vals))
    b = round_trip(*make(Plain(), dict(reversed(list(vals.items())))))
    assert a.tobytes() == b.tobytes()
