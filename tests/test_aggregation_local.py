"""run_local: the in-process message loop with dropouts and accounting."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from privkit.aggregation import ExchangeStats, LocalResult, Plain, run_local
from privkit.errors import ParameterError, ProtocolError


def test_numpy_updates_sum() -> None:
    updates = {i: np.arange(6, dtype=np.float32).reshape(2, 3) * i for i in range(1, 4)}
    res = run_local(Plain(), updates)
    assert isinstance(res, LocalResult)
    np.testing.assert_array_equal(res.aggregate, np.arange(6.0) * 6)
    assert res.aggregate.dtype == np.float64
    assert res.survivors == (1, 2, 3)
    out = res.structured()
    assert out.shape == (2, 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.arange(6, dtype=np.float32).reshape(2, 3) * 6)


def test_mean() -> None:
    updates = {"a": np.array([1.0, 3.0]), "b": np.array([3.0, 5.0])}
    res = run_local(Plain(mean=True), updates)
    np.testing.assert_array_equal(res.aggregate, [2.0, 4.0])


def test_dict_updates_round_trip() -> None:
    updates = {
        c: OrderedDict(w=np.full((2, 2), float(c)), b=np.array([c, -c], dtype=np.int64))
        for c in (1, 2)
    }
    res = run_local(Plain(), updates)
    out = res.structured()
    assert isinstance(out, OrderedDict)
    assert list(out) == ["w", "b"]
    np.testing.assert_array_equal(out["w"], np.full((2, 2), 3.0))
    assert out["b"].dtype == np.int64
    np.testing.assert_array_equal(out["b"], [3, -3])


def test_torch_state_dict_updates() -> None:
    torch = pytest.importorskip("torch")
    updates = {
        c: {"weight": torch.full((2, 3), float(v)), "bias": torch.ones(3, dtype=torch.float64)}
        for c, v in (("x", 1), ("y", 2))
    }
    res = run_local(Plain(mean=True), updates)
    out = res.structured()
    assert isinstance(out["weight"], torch.Tensor)
    assert out["weight"].dtype == torch.float32
    assert out["bias"].dtype == torch.float64
    assert torch.equal(out["weight"], torch.full((2, 3), 1.5))
    assert torch.equal(out["bias"], torch.ones(3, dtype=torch.float64))


def test_result_is_read_only() -> None:
    res = run_local(Plain(), {1: np.ones(2)})
    with pytest.raises(ValueError, match="read-only"):
        res.aggregate[0] = 5.0
    out = res.structured()
    out[0] = 7.0  # the structured copy is writable
    assert res.aggregate[0] == 1.0


def test_accounting() -> None:
    updates = {c: np.ones(1000) for c in range(4)}
    res = run_local(Plain(), updates)
    assert len(res.exchanges) == 1
    stats = res.exchanges[0]
    assert isinstance(stats, ExchangeStats)
    assert stats.index == 0
    assert stats.messages_down == 4
    assert stats.messages_up == 4
    assert stats.bytes_up > 4 * 8000  # four 1000-coordinate float64 vectors and envelopes
    assert 0 < stats.bytes_down < stats.bytes_up
    assert stats.server_seconds > 0
    assert stats.client_seconds > 0
    assert res.bytes_up == stats.bytes_up
    assert res.bytes_down == stats.bytes_down
    assert res.seconds == pytest.approx(stats.server_seconds + stats.client_seconds)
    assert res.server_seconds == stats.server_seconds
    assert res.client_seconds == stats.client_seconds


def test_dropouts_at_exchange_zero() -> None:
    updates = {c: np.full(3, float(c)) for c in (1, 2, 3, 4)}
    res = run_local(Plain(), updates, dropouts={0: [2, 4]})
    assert res.survivors == (1, 3)
    np.testing.assert_array_equal(res.aggregate, np.full(3, 4.0))
    assert res.exchanges[0].messages_down == 4  # the server did send to them
    assert res.exchanges[0].messages_up == 2
    # dropping out at an exchange the round never reaches changes nothing
    res = run_local(Plain(), updates, dropouts={5: [1]})
    assert res.survivors == (1, 2, 3, 4)


def test_everyone_drops_out() -> None:
    updates = {c: np.ones(2) for c in ("a", "b", "c")}
    with pytest.raises(ProtocolError, match=r"needs at least 1, but only 0 remain \(0 of 3"):
        run_local(Plain(), updates, dropouts={0: ["a", "b", "c"]})


def test_min_clients() -> None:
    updates = {c: np.ones(2) for c in range(5)}
    assert run_local(Plain(min_clients=3), updates, dropouts={0: [0, 1]}).survivors == (2, 3, 4)
    with pytest.raises(ProtocolError, match="at least 3, but only 2 remain"):
        run_local(Plain(min_clients=3), updates, dropouts={0: [0, 1, 2]})
    with pytest.raises(ParameterError, match="at least 6 clients"):
        run_local(Plain(min_clients=6), updates)


def test_mismatched_update_lengths() -> None:
    with pytest.raises(ParameterError, match="different lengths") as info:
        run_local(Plain(), {1: np.ones(3), 2: np.ones(4)})
    assert "client 1" in str(info.value)
    assert "client 2" in str(info.value)
    # an explicit length skips the pre-check; the client refuses when it learns it
    with pytest.raises(ParameterError, match="asks for updates of 3 coordinates"):
        run_local(Plain(), {1: np.ones(3), 2: np.ones(4)}, length=3)


@pytest.mark.parametrize(
    ("updates", "dropouts"),
    [
        ({}, None),
        ([np.ones(2)], None),
        ({True: np.ones(2)}, None),
        ({1: np.ones(2)}, {0: [7]}),
        ({1: np.ones(2)}, {0: ["1"]}),
        ({1: np.ones(2)}, {0: [1], 1: [1]}),
        ({1: np.ones(2)}, {-1: [1]}),
        ({1: np.ones(2)}, {0: "1"}),
        ({1: np.ones(2)}, [(0, [1])]),
        ({1: "text"}, None),
    ],
)
def test_invalid_arguments(updates: Any, dropouts: Any) -> None:
    with pytest.raises(ParameterError):
        run_local(Plain(), updates, dropouts=dropouts)


def test_many_clients_mixed_ids() -> None:
    updates: dict[Any, Any] = {i: np.full(4, 1.0) for i in range(20)}
    updates.update({f"s{i}": np.full(4, 2.0) for i in range(10)})
    res = run_local(Plain(), updates)
    np.testing.assert_array_equal(res.aggregate, np.full(4, 40.0))
    assert res.survivors[:20] == tuple(range(20))
    assert res.survivors[20:] == tuple(sorted(f"s{i}" for i in range(10)))
