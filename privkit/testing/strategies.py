"""Hypothesis strategies for property-testing aggregation schemes.

Every function here returns a :mod:`hypothesis` search strategy.  hypothesis is an
optional dependency (the ``testing`` extra): this module imports without it, and each
function raises :class:`~privkit.errors.BackendUnavailableError` when it is missing.

>>> from hypothesis import given
>>> from privkit.testing import strategies as pks
>>> @given(pks.updates(pks.client_ids(), length=4))
... def test_sum(updates): ...

Security assumption: none; these generate test data only (hypothesis' own randomness,
never for secrets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from privkit._backends import require
from privkit.aggregation.api import ClientId
from privkit.errors import ParameterError

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "DEFAULT_UPDATE_DTYPES",
    "array_updates",
    "client_ids",
    "dropout_schedules",
    "updates",
    "vectors",
]

IdKind = Literal["int", "str", "any", "mixed"]

DEFAULT_UPDATE_DTYPES: tuple[str, ...] = ("float16", "float32", "float64", "int32", "int64")
"""The dtypes :func:`array_updates` draws from by default."""

_INT_ID_MIN = -(1 << 63)
_INT_ID_MAX = (1 << 64) - 1


def _require() -> None:
    require("hypothesis", feature="privkit.testing")


def _check_size_range(min_size: object, max_size: object, what: str, lowest: int) -> None:
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise ParameterError(f"{what}: {name} must be an int >= {lowest}, got {value!r}")
    assert isinstance(min_size, int)
    assert isinstance(max_size, int)
    if min_size > max_size:
        raise ParameterError(f"{what}: min_size {min_size} exceeds max_size {max_size}")


def _check_bound(bound: object) -> float:
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise ParameterError(f"bound must be a finite number >= 0, got {bound!r}")
    value = float(bound)
    if not math.isfinite(value) or value < 0:
        raise ParameterError(f"bound must be a finite number >= 0, got {bound!r}")
    return value


def client_ids(
    min_size: int = 2, max_size: int = 10, *, kind: IdKind = "any"
) -> SearchStrategy[list[ClientId]]:
    """Lists of distinct client ids.

    Args:
        min_size: the fewest ids (>= 1).
        max_size: the most ids.
        kind: ``"int"`` (ints in ``[-2**63, 2**64)``), ``"str"`` (non-empty Unicode
            strings), ``"any"`` (each list all ints or all strs) or ``"mixed"`` (as
            ``"any"``, plus lists mixing both kinds, where ``1`` and ``"1"`` are
            different clients).

    Returns:
        A strategy of ``list[ClientId]`` without duplicates, in drawn order.

    Raises:
        ParameterError: invalid sizes or kind.
        BackendUnavailableError: hypothesis is not installed.
    """
    _check_size_range(min_size, max_size, "client_ids", 1)
    if kind not in ("int", "str", "any", "mixed"):
        raise ParameterError(f"kind must be 'int', 'str', 'any' or 'mixed', got {kind!r}")
    _require()
    from hypothesis import strategies as st

    ints: SearchStrategy[ClientId] = st.integers(_INT_ID_MIN, _INT_ID_MAX)
    strs: SearchStrategy[ClientId] = st.text(min_size=1, max_size=12)

    def lists(elements: SearchStrategy[ClientId]) -> SearchStrategy[list[ClientId]]:
        return st.lists(elements, min_size=min_size, max_size=max_size, unique=True)

    if kind == "int":
        return lists(ints)
    if kind == "str":
        return lists(strs)
    if kind == "any":
        return lists(ints) | lists(strs)
    return lists(ints) | lists(strs) | lists(ints | strs)


def _float_bound(dtype: np.dtype[Any], bound: float) -> float:
    """The largest value of ``dtype`` that is <= bound (as a Python float)."""
    cast = float(np.asarray(bound, dtype=np.float64).astype(dtype))
    if math.isinf(cast) or cast > bound:
        cast = float(np.nextafter(dtype.type(min(bound, float(np.finfo(dtype).max))), 0))
    return cast


def _elements(dtype: np.dtype[Any], bound: float) -> SearchStrategy[Any]:
    from hypothesis import strategies as st

    if dtype.kind == "f":
        hi = _float_bound(dtype, bound)
        width: Literal[16, 32, 64] = (
            16 if dtype.itemsize == 2 else 32 if dtype.itemsize == 4 else 64
        )
        return st.floats(
            min_value=-hi, max_value=hi, allow_nan=False, allow_infinity=False, width=width
        )
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        limit = min(math.floor(bound), 2**53)
        return st.integers(max(-limit, int(info.min)), min(limit, int(info.max)))
    if dtype.kind == "b":
        return st.booleans()
    raise ParameterError(f"unsupported dtype {dtype}; use a float, int, uint or bool dtype")


def _as_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise ParameterError(f"not a numpy dtype: {dtype!r}") from exc
    if result.kind not in "fiub" or result.itemsize > 8:
        raise ParameterError(f"unsupported dtype {result}; use float16/32/64, (u)int8..64 or bool")
    return result


def vectors(
    length: int | SearchStrategy[int],
    *,
    bound: float = 1.0,
    dtype: npt.DTypeLike = np.float64,
) -> SearchStrategy[npt.NDArray[Any]]:
    """1-D arrays of finite values in ``[-bound, bound]``.

    Args:
        length: the number of elements (>= 0), or a strategy for it.
        bound: the largest absolute value (floats: the largest value of ``dtype`` not
            above it; ints: ``floor(bound)``, at most ``2**53``).
        dtype: a float, int, uint or bool numpy dtype.

    Returns:
        A strategy of arrays of shape ``(length,)`` and the given dtype.

    Raises:
        ParameterError: negative length, invalid bound or unsupported dtype.
        BackendUnavailableError: hypothesis is not installed.
    """
    b = _check_bound(bound)
    dt = _as_dtype(dtype)
    if isinstance(length, int) and (isinstance(length, bool) or length < 0):
        raise ParameterError(f"length must be an int >= 0, got {length!r}")
    _require()
    from hypothesis.extra import numpy as hnp

    return hnp.arrays(dt, length, elements=_elements(dt, b))


def array_updates(
    *,
    dtypes: Sequence[npt.DTypeLike] = DEFAULT_UPDATE_DTYPES,
    bound: float = 1.0,
    max_dims: int = 3,
    max_side: int = 4,
    allow_0d: bool = True,
    allow_empty: bool = False,
) -> SearchStrategy[npt.NDArray[Any]]:
    """numpy arrays of random shape and dtype, as clients pass them as updates.

    Args:
        dtypes: the dtypes to draw from (float16, float32, float64 and int32, int64 by
            default).
        bound: the largest absolute value of an element.
        max_dims: the most dimensions.
        max_side: the longest side.
        allow_0d: also draw 0-d arrays (scalars, one element).
        allow_empty: also draw arrays with a side of length 0 (no elements).

    Returns:
        A strategy of arrays.

    Raises:
        ParameterError: an invalid argument.
        BackendUnavailableError: hypothesis is not installed.
    """
    b = _check_bound(bound)
    dts = [_as_dtype(d) for d in dtypes]
    if not dts:
        raise ParameterError("dtypes must not be empty")
    for name, value in (("max_dims", max_dims), ("max_side", max_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
    _require()
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    shapes = hnp.array_shapes(
        min_dims=0 if allow_0d else 1,
        max_dims=max_dims,
        min_side=0 if allow_empty else 1,
        max_side=max_side,
    )
    return st.one_of(*[hnp.arrays(dt, shapes, elements=_elements(dt, b)) for dt in dts])


def updates(
    client_ids: Sequence[ClientId] | SearchStrategy[list[ClientId]],
    length: int | SearchStrategy[int],
    bound: float = 1.0,
    *,
    dtype: npt.DTypeLike = np.float64,
) -> SearchStrategy[dict[ClientId, npt.NDArray[Any]]]:
    """One update vector per client, all of the same length.

    Args:
        client_ids: the ids, or a strategy of id lists (e.g. :func:`client_ids`).
        length: the common length (>= 0), or a strategy for it (drawn once per dict).
        bound: the largest absolute value of a coordinate.
        dtype: the dtype of the vectors.

    Returns:
        A strategy of ``{client_id: vector}`` dicts, in the ids' order.

    Raises:
        ParameterError: an invalid argument.
        BackendUnavailableError: hypothesis is not installed.
    """
    b = _check_bound(bound)
    dt = _as_dtype(dtype)
    _require()
    from hypothesis import strategies as st

    ids_st: SearchStrategy[Sequence[ClientId]] = (
        client_ids if isinstance(client_ids, st.SearchStrategy) else st.just(list(client_ids))
    )
    len_st: SearchStrategy[int] = (
        length if isinstance(length, st.SearchStrategy) else st.just(length)
    )

    @st.composite
    def draw_updates(draw: Any) -> dict[ClientId, npt.NDArray[Any]]:
        ids = draw(ids_st)
        n = draw(len_st)
        return {cid: draw(vectors(n, bound=b, dtype=dt)) for cid in ids}

    result: SearchStrategy[dict[ClientId, npt.NDArray[Any]]] = draw_updates()
    return result


def dropout_schedules(
    client_ids: Sequence[ClientId],
    n_exchanges: int,
    max_dropped: int | None = None,
) -> SearchStrategy[dict[int, list[ClientId]]]:
    """Dropout schedules for :func:`privkit.aggregation.run_local` and similar loops.

    Args:
        client_ids: the clients of the round.
        n_exchanges: exchanges are drawn from ``0 .. n_exchanges - 1`` (>= 1).
        max_dropped: the most clients that drop (default: all of them).

    Returns:
        A strategy of ``{exchange: [client ids]}``: each client at most once, lists in
        the order of ``client_ids``, exchanges without dropouts omitted.

    Raises:
        ParameterError: an invalid argument.
        BackendUnavailableError: hypothesis is not installed.
    """
    ids = list(client_ids)
    if len(set(ids)) != len(ids):
        raise ParameterError("client_ids must be distinct")
    if isinstance(n_exchanges, bool) or not isinstance(n_exchanges, int) or n_exchanges < 1:
        raise ParameterError(f"n_exchanges must be an int >= 1, got {n_exchanges!r}")
    limit = len(ids) if max_dropped is None else max_dropped
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ParameterError(f"max_dropped must be None or an int >= 0, got {max_dropped!r}")
    limit = min(limit, len(ids))
    _require()
    from hypothesis import strategies as st

    @st.composite
    def draw_schedule(draw: Any) -> dict[int, list[ClientId]]:
        indices = draw(
            st.lists(st.integers(0, len(ids) - 1), max_size=limit, unique=True)
            if ids
            else st.just([])
        )
        schedule: dict[int, list[ClientId]] = {}
        for i in sorted(indices):
            exchange = draw(st.integers(0, n_exchanges - 1))
            schedule.setdefault(exchange, []).append(ids[i])
        return dict(sorted(schedule.items()))

    result: SearchStrategy[dict[int, list[ClientId]]] = draw_schedule()
    return result
