"""The hypothesis strategies shipped in privkit.testing.strategies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privkit.aggregation import Plain, check_client_ids, run_local
from privkit.errors import ParameterError
from privkit.testing import strategies as pks

SOME = settings(max_examples=40, deadline=None)


@SOME
@given(pks.client_ids(2, 6))
def test_client_ids_default(ids: list[Any]) -> None:
    assert 2 <= len(ids) <= 6
    assert len(set(ids)) == len(ids)
    assert len({type(c) for c in ids}) == 1  # "any": one kind per list
    check_client_ids(ids)  # all valid


@SOME
@given(pks.client_ids(1, 4, kind="int"), pks.client_ids(1, 4, kind="str"))
def test_client_ids_kinds(ints: list[Any], strs: list[Any]) -> None:
    assert all(type(c) is int for c in ints)
    assert all(type(c) is str and c for c in strs)


def test_client_ids_mixed_can_mix() -> None:
    seen: list[bool] = []

    @settings(max_examples=100, deadline=None)
    @given(pks.client_ids(3, 6, kind="mixed"))
    def probe(ids: list[Any]) -> None:
        check_client_ids(ids)
        seen.append(len({type(c) for c in ids}) == 2)

    probe()
    assert any(seen)


@SOME
@given(st.data())
def test_vectors(data: Any) -> None:
    dtype = data.draw(st.sampled_from(["float16", "float32", "float64", "int32", "uint8", "bool"]))
    bound = data.draw(st.sampled_from([0.0, 0.1, 1.0, 300.0]))
    n = data.draw(st.integers(0, 9))
    v = data.draw(pks.vectors(n, bound=bound, dtype=dtype))
    assert v.shape == (n,)
    assert v.dtype == np.dtype(dtype)
    if dtype != "bool":
        assert np.all(np.isfinite(v.astype(np.float64)))
        assert np.all(np.abs(v.astype(np.float64)) <= bound)


@SOME
@given(pks.vectors(st.integers(1, 3), bound=2.5))
def test_vectors_length_strategy(v: np.ndarray) -> None:
    assert 1 <= v.size <= 3
    assert v.dtype == np.float64


@SOME
@given(pks.array_updates())
def test_array_updates_default(a: np.ndarray) -> None:
    assert a.dtype.name in pks.DEFAULT_UPDATE_DTYPES
    assert a.ndim <= 3
    assert a.size >= 1
    assert np.all(np.abs(a.astype(np.float64)) <= 1.0)


@SOME
@given(pks.array_updates(dtypes=["float32"], allow_0d=False, allow_empty=True, max_side=2))
def test_array_updates_options(a: np.ndarray) -> None:
    assert a.ndim >= 1
    assert a.dtype == np.float32


@SOME
@given(pks.updates(pks.client_ids(2, 4), st.integers(1, 5), 3.0))
def test_updates_run_through_plain(updates: dict[Any, np.ndarray]) -> None:
    lengths = {v.size for v in updates.values()}
    assert len(lengths) == 1
    res = run_local(Plain(), updates)
    exact = [sum(float(v[j]) for v in updates.values()) for j in range(lengths.pop())]
    tol = Plain().tolerance(n_summands=len(updates), bound=3.0)
    np.testing.assert_allclose(res.aggregate, exact, rtol=0, atol=tol + 1e-12)


@SOME
@given(pks.updates([1, "a"], 2))
def test_updates_fixed_ids(updates: dict[Any, np.ndarray]) -> None:
    assert list(updates) == [1, "a"]


@SOME
@given(pks.dropout_schedules(["a", "b", "c", 4], 3, max_dropped=2))
def test_dropout_schedules(schedule: dict[int, list[Any]]) -> None:
    flat = [c for ids in schedule.values() for c in ids]
    assert len(flat) == len(set(flat)) <= 2
    assert all(0 <= k < 3 for k in schedule)
    assert all(schedule.values())
    assert list(schedule) == sorted(schedule)
    updates = {c: np.ones(2) for c in ("a", "b", "c", 4)}
    res = run_local(Plain(), updates, dropouts=schedule)
    assert set(res.survivors) == set(updates) - set(schedule.get(0, []))


@pytest.mark.parametrize(
    "call",
    [
        lambda: pks.client_ids(0, 3),
        lambda: pks.client_ids(3, 2),
        lambda: pks.client_ids(kind="float"),  # type: ignore[arg-type]
        lambda: pks.vectors(-1),
        lambda: pks.vectors(2, bound=-1.0),
        lambda: pks.vectors(2, bound=float("nan")),
        lambda: pks.vectors(2, dtype="complex128"),
        lambda: pks.vectors(2, dtype="not a dtype"),
        lambda: pks.array_updates(dtypes=[]),
        lambda: pks.array_updates(max_dims=0),
        lambda: pks.updates([1], 2, bound=-2.0),
        lambda: pks.dropout_schedules([1, 1], 2),
        lambda: pks.dropout_schedules([1], 0),
        lambda: pks.dropout_schedules([1], 2, max_dropped=-1),
    ],
)
def test_invalid_arguments(call: Any) -> None:
    with pytest.raises(ParameterError):
        call()
