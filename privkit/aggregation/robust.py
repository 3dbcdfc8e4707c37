"""Byzantine-robust aggregation: median, trimmed mean, Krum / Multi-Krum, norm bounding.

Two layers:

- **Pure functions** (numpy in, numpy out) for callers that already hold the updates:
  :func:`median`, :func:`trimmed_mean`, :func:`krum`, :func:`krum_select`,
  :func:`norm_bound`.  Each takes an ``(n, d)`` array (or a sequence of ``n`` 1-D
  arrays of length ``d``) and returns a new float64 vector of length ``d``.
- **A scheme of the uniform session API**: :class:`RobustAggregation` with one *rule*
  object (:class:`Median`, :class:`TrimmedMean`, :class:`Krum`, :class:`NormBound`).
  Its protocol is Plain's (one exchange, ``PLAIN_REQUEST`` / ``PLAIN_UPDATE``, the
  updates in the clear), bound to its own parameter fingerprint, so runs locally
  (:func:`~privkit.aggregation.run_local`), over Flower or any transport, and composes
  with :class:`~privkit.dp.ClientDP` (see ``docs/robust.md`` for what DP guarantee
  then holds).

>>> import numpy as np
>>> from privkit.aggregation import run_local
>>> from privkit.aggregation.robust import Median, RobustAggregation
>>> ups = {1: np.array([1.0]), 2: np.array([2.0]), 3: np.array([1000.0])}
>>> run_local(RobustAggregation(Median()), ups).aggregate.tolist()
[2.0]

Threat model: **no confidentiality**.  Like :class:`~privkit.aggregation.Plain`, the
server (and the transport) sees every client's update: a robust rule needs the
individual updates.  What the rules protect is the *integrity of the aggregate* against
a minority of Byzantine clients that send arbitrary finite vectors, each under the
assumption its class states (how many such clients it tolerates).  They do not protect
against a malicious server, against more Byzantine clients than assumed, against Sybil
identities (the count ``f`` is of client *ids*), nor against small, well-hidden
perturbations inside the honest spread (see ``docs/robust.md``).
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from privkit.aggregation.api import (
    ClientId,
    Scheme,
    check_client_id,
    check_client_ids,
    describe_client_id,
)
from privkit.aggregation.plain import PlainClientSession, PlainServerSession
from privkit.aggregation.session import (
    BaseClientSession,
    BaseServerSession,
    ExchangeSpec,
    Finish,
    check_length,
)
from privkit.encoding import flatten
from privkit.errors import ParameterError, ProtocolError
from privkit.wire import MessageType, Value

__all__ = [
    "Krum",
    "Median",
    "NormBound",
    "RobustAggregation",
    "RobustClientSession",
    "RobustServerSession",
    "Rule",
    "TrimmedMean",
    "krum",
    "krum_scores",
    "krum_select",
    "median",
    "norm_bound",
    "trimmed_mean",
]

Array = npt.NDArray[np.float64]

_EXCHANGES: Final = (ExchangeSpec(MessageType.PLAIN_REQUEST, MessageType.PLAIN_UPDATE),)
_OVERHEAD: Final = 1024
_SLACK: Final = 2.0**-40  # relative float64 rounding slack of the tolerance bounds


# ---------------------------------------------------------------------------- helpers


def _int(value: object, what: str, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
        raise ParameterError(f"{what} must be an int >= {lowest}, got {value!r}")
    return int(value)


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{what} must be a real number, got {value!r}")
    return float(value)


def _stack(updates: object) -> Array:
    """Turn ``updates`` into a finite float64 ``(n, d)`` matrix with ``n >= 1``."""
    if isinstance(updates, np.ndarray):
        arr = updates
    elif isinstance(updates, Sequence) and not isinstance(updates, str | bytes):
        rows = list(updates)
        if not rows:
            raise ParameterError("updates must hold at least one update")
        try:
            arr = np.stack([np.asarray(r) for r in rows])
        except ValueError:
            raise ParameterError("updates must all have the same shape") from None
    else:
        raise ParameterError(
            f"updates must be a 2-D array or a sequence of 1-D arrays, got {type(updates).__name__}"
        )
    if arr.ndim != 2:
        raise ParameterError(f"updates must be 2-D (n updates, d coordinates), got {arr.ndim}-D")
    if arr.shape[0] < 1:
        raise ParameterError("updates must hold at least one update")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ParameterError(f"updates must be real numbers, got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float64, copy=True)
    if not np.isfinite(out).all():
        raise ParameterError("updates must be finite (no NaN or infinity)")
    return out


# ---------------------------------------------------------------------------- pure functions


def median(updates: object) -> Array:
    """Coordinate-wise median of ``n`` updates.

    For even ``n`` each coordinate is the mean of its two middle values (numpy's rule).

    Args:
        updates: an ``(n, d)`` real array or a sequence of ``n`` equal-length vectors,
            ``n >= 1``, all finite.

    Returns:
        A new float64 vector of length ``d``; coordinate ``j`` lies between the smallest
        and the largest ``updates[i, j]``.

    Raises:
        ParameterError: not a non-empty 2-D real finite input.

    Security assumption: tolerates fewer than ``n / 2`` Byzantine updates per coordinate
    (the breakdown point of the median); the server sees every update.
    """
    x = _stack(updates)
    out: Array = np.median(x, axis=0)
    return np.ascontiguousarray(out, dtype=np.float64)


def _trim_count(n: int, fraction: float | None, count: int | None) -> int:
    if fraction is not None:
        return math.floor(fraction * n)
    assert count is not None
    return count


def _check_trim(fraction: object, count: object) -> tuple[float | None, int | None]:
    if (fraction is None) == (count is None):
        raise ParameterError("pass exactly one of fraction= and count=")
    if fraction is not None:
        f = _real(fraction, "fraction")
        if not 0.0 <= f < 0.5:
            raise ParameterError(f"fraction must be in [0, 0.5), got {f!r}")
        return f, None
    return None, _int(count, "count", 0)


def trimmed_mean(
    updates: object, *, fraction: float | None = None, count: int | None = None
) -> Array:
    """Coordinate-wise trimmed mean: drop the ``b`` smallest and ``b`` largest per coordinate.

    ``b = count``, or ``b = floor(fraction * n)`` (as :func:`scipy.stats.trim_mean`).

    Args:
        updates: an ``(n, d)`` real array or a sequence of ``n`` equal-length vectors.
        fraction: the fraction trimmed at *each* end, in ``[0, 0.5)``.
        count: the number trimmed at each end, ``>= 0``.  Pass exactly one of the two.

    Returns:
        A new float64 vector of length ``d``: the mean of the ``n - 2b`` middle values
        of each coordinate (the plain mean when ``b = 0``).

    Raises:
        ParameterError: invalid input, both or neither of ``fraction`` / ``count``, or
            ``n <= 2 * count`` (nothing would be left).

    Security assumption: tolerates up to ``b`` Byzantine updates (each coordinate's
    kept values then lie within the honest range); the server sees every update.
    """
    frac, cnt = _check_trim(fraction, count)
    x = _stack(updates)
    n = x.shape[0]
    b = _trim_count(n, frac, cnt)
    if n <= 2 * b:
        raise ParameterError(f"trimming {b} at each end of {n} updates leaves nothing")
    if b == 0:
        out: Array = x.mean(axis=0)
    else:
        out = np.sort(x, axis=0)[b : n - b].mean(axis=0)
    return np.ascontiguousarray(out, dtype=np.float64)


def _krum_min(f: int) -> int:
    return 2 * f + 3


def krum_scores(updates: object, *, f: int) -> Array:
    """Krum scores (Blanchard et al., NeurIPS 2017): see :func:`krum_select`.

    Args:
        updates: an ``(n, d)`` real array or a sequence of vectors, ``n > 2f + 2``.
        f: the assumed number of Byzantine updates, ``>= 0``.

    Returns:
        float64 vector of length ``n``: for each update the sum of its squared L2
        distances to its ``n - f - 2`` nearest other updates.

    Raises:
        ParameterError: invalid input or ``n <= 2f + 2``.

    Security assumption: see :func:`krum_select`.
    """
    f = _int(f, "f", 0)
    x = _stack(updates)
    n = x.shape[0]
    if n < _krum_min(f):
        raise ParameterError(f"Krum with f={f} needs n > 2f + 2 = {2 * f + 2} updates, got {n}")
    # Squared distances via the Gram matrix (one BLAS call), clamped at 0 against
    # cancellation; the diagonal (self-distance) is excluded below.
    sq = np.einsum("ij,ij->i", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, np.inf)
    k = n - f - 2
    nearest = np.sort(d2, axis=1)[:, :k]
    scores: Array = nearest.sum(axis=1)
    return scores


def krum_select(updates: object, *, f: int, m: int = 1) -> tuple[int, ...]:
    """The indices Krum (``m = 1``) or Multi-Krum (``m > 1``) selects.

    Each update's score is the sum of squared L2 distances to its ``n - f - 2`` nearest
    other updates; the ``m`` updates of lowest score are selected (ties: lower index
    first), as in Blanchard et al., "Machine Learning with Adversaries: Byzantine
    Tolerant Gradient Descent", NeurIPS 2017 (Krum and Multi-Krum).

    Args:
        updates: an ``(n, d)`` real array or a sequence of vectors, ``n > 2f + 2``.
        f: the assumed number of Byzantine updates, ``>= 0``.
        m: how many updates to select, ``1 <= m <= n - f``.

    Returns:
        The selected row indices, best score first.

    Raises:
        ParameterError: invalid input, ``n <= 2f + 2`` or ``m`` out of range.

    Security assumption: at most ``f`` of the ``n`` updates are Byzantine and
    ``n > 2f + 2``; the server sees every update.
    """
    f = _int(f, "f", 0)
    m = _int(m, "m", 1)
    scores = krum_scores(updates, f=f)
    n = scores.size
    if m > n - f:
        raise ParameterError(f"Multi-Krum selects m <= n - f = {n - f} updates, got m={m}")
    order = np.argsort(scores, kind="stable")
    return tuple(int(i) for i in order[:m])


def krum(updates: object, *, f: int, m: int = 1) -> Array:
    """Krum (``m = 1``: the selected update) or Multi-Krum (the mean of ``m`` selected).

    Args:
        updates: an ``(n, d)`` real array or a sequence of vectors, ``n > 2f + 2``.
        f: the assumed number of Byzantine updates, ``>= 0``.
        m: how many updates to select and average, ``1 <= m <= n - f``.

    Returns:
        A new float64 vector of length ``d``.

    Raises:
        ParameterError: see :func:`krum_select`.

    Security assumption: see :func:`krum_select`.
    """
    x = _stack(updates)
    chosen = krum_select(x, f=f, m=m)
    out: Array = x[sorted(chosen)].mean(axis=0)
    return np.ascontiguousarray(out, dtype=np.float64)


def norm_bound(updates: object, *, bound: float, mean: bool = True) -> Array:
    """Clip each update to L2 norm ``bound``, then average (or sum).

    An update ``x`` with ``||x||_2 > bound`` becomes ``x * bound / ||x||_2``; others
    pass unchanged.

    Args:
        updates: an ``(n, d)`` real array or a sequence of vectors.
        bound: the L2 norm bound, finite and ``> 0``.
        mean: return the mean (default) or the sum of the clipped updates.

    Returns:
        A new float64 vector of length ``d``.

    Raises:
        ParameterError: invalid input or ``bound``.

    Security assumption: each Byzantine update moves the sum by at most ``bound``
    (the mean by ``bound / n``); it does not remove the Byzantine updates' influence.
    """
    b = _check_bound(bound)
    if not isinstance(mean, bool):
        raise ParameterError(f"mean must be a bool, got {type(mean).__name__}")
    x = _stack(updates)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    scale = np.where(norms > b, b / np.where(norms > 0, norms, 1.0), 1.0)
    clipped = x * scale[:, None]
    out: Array = clipped.mean(axis=0) if mean else clipped.sum(axis=0)
    return np.ascontiguousarray(out, dtype=np.float64)


def _check_bound(bound: object, what: str = "bound") -> float:
    b = _real(bound, what)
    if not (math.isfinite(b) and b > 0):
        raise ParameterError(f"{what} must be finite and > 0, got {bound!r}")
    return b


# ---------------------------------------------------------------------------- rules


class Rule(abc.ABC):
    """A robust aggregation rule for :class:`RobustAggregation`.

    A rule is immutable.  It names itself and its parameters (they enter the scheme's
    fingerprint), says how many updates it needs, aggregates an ``(n, d)`` matrix, and
    bounds how far its result can be from the plain mean (or sum).

    Security assumption: stated by each subclass (how many Byzantine updates it
    tolerates).
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def params(self) -> dict[str, Value]:
        """The rule's parameters as wire values (its ``kind`` is added by the scheme)."""

    @abc.abstractmethod
    def min_updates(self) -> int:
        """The fewest updates the rule can aggregate (>= 1)."""

    def check_count(self, n: int) -> None:
        """Refuse ``n`` updates when the rule cannot aggregate that many.

        Raises:
            ParameterError: ``n`` below :meth:`min_updates`.
        """
        need = self.min_updates()
        if n < need:
            raise ParameterError(f"{self!r} needs at least {need} updates, got {n}")

    @abc.abstractmethod
    def aggregate(self, updates: Array) -> Array:
        """Aggregate a finite float64 ``(n, d)`` matrix into a float64 vector of length d.

        Raises:
            ParameterError: ``n`` below :meth:`min_updates`.
        """

    @property
    def mean(self) -> bool:
        """Whether the result estimates the mean (True) or the sum (False)."""
        return True

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """Bound ``|result - exact mean|`` per coordinate for inputs with ``|x| <= bound``.

        The robust result and the mean both lie in ``[-bound, bound]`` per coordinate,
        so they differ by at most ``2 * bound`` (plus float64 rounding); one update
        passes unchanged (0.0).  This is a worst case, not a typical error: a robust
        rule *intends* to differ from the mean when outliers are present.
        """
        if n_summands <= 1:
            return 0.0
        return 2.0 * bound * (1.0 + _SLACK)

    @abc.abstractmethod
    def sensitivity(self, *, clip: float, n: int) -> float:
        """An upper bound on how far one client can move the result (L2).

        The bound holds when every update has L2 norm ``<= clip`` (as ClientDP ensures)
        and one client's update is replaced, added or removed around a round of ``n``
        updates, with the survivor count treated as public (ClientDP's convention:
        it calibrates its noise to ``clip`` for a sum and ``clip / n`` for a mean).

        Args:
            clip: the L2 norm bound of every update, ``> 0``.
            n: the number of updates aggregated.

        Returns:
            The bound: what a Gaussian mechanism's noise must be calibrated to.
        """

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params().items()))
        return f"{type(self).__name__}({inner})"


class Median(Rule):
    """Coordinate-wise median (:func:`median`).

    Security assumption: per coordinate, fewer than half of the aggregated updates are
    Byzantine; then every coordinate of the result lies within the honest values' range.
    """

    kind: ClassVar[str] = "median"

    def params(self) -> dict[str, Value]:
        return {}

    def min_updates(self) -> int:
        return 1

    def aggregate(self, updates: Array) -> Array:
        self.check_count(updates.shape[0])
        return median(updates)

    def sensitivity(self, *, clip: float, n: int) -> float:
        """``2 sqrt(2) clip``: a median of vectors of norm ``<= C`` has norm ``<= sqrt(2) C``.

        (Per coordinate at least ``ceil(n/2)`` values are at least as large in magnitude
        as the median, so ``ceil(n/2) ||med||^2 <= sum_i ||x_i||^2 <= n C^2``; any two
        results differ by at most twice that norm.)
        """
        return 2.0 * math.sqrt(2.0) * float(clip)


class TrimmedMean(Rule):
    """Coordinate-wise trimmed mean (:func:`trimmed_mean`).

    Args:
        fraction: the fraction trimmed at each end, ``[0, 0.5)``: ``b = floor(fraction n)``.
        count: the number trimmed at each end, ``>= 0``.  Pass exactly one.

    Raises:
        ParameterError: both or neither given, or out of range.

    Security assumption: at most ``b`` of the aggregated updates are Byzantine (with a
    fraction: at most ``floor(fraction * n)`` of the survivors).
    """

    kind: ClassVar[str] = "trimmed_mean"

    def __init__(self, *, fraction: float | None = None, count: int | None = None) -> None:
        self._fraction, self._count = _check_trim(fraction, count)

    def params(self) -> dict[str, Value]:
        if self._fraction is not None:
            return {"fraction": self._fraction}
        assert self._count is not None
        return {"count": self._count}

    def trim(self, n: int) -> int:
        """The number ``b`` trimmed at each end of ``n`` values."""
        return _trim_count(n, self._fraction, self._count)

    def min_updates(self) -> int:
        return 1 if self._count is None else 2 * self._count + 1

    def aggregate(self, updates: Array) -> Array:
        self.check_count(updates.shape[0])
        return trimmed_mean(updates, fraction=self._fraction, count=self._count)

    def sensitivity(self, *, clip: float, n: int) -> float:
        """``2 clip max_m sqrt(m / (m - 2 b(m)))`` over ``m`` in ``{n - 1, n}``.

        By Cauchy-Schwarz on the kept values, a trimmed mean of ``m`` vectors of norm
        ``<= C`` has norm ``<= C sqrt(m / (m - 2b))``; any two results differ by at most
        the sum of two such norms.
        """
        ratios = [
            math.sqrt(m / (m - 2 * self.trim(m)))
            for m in (n - 1, n)
            if m >= 1 and m - 2 * self.trim(m) >= 1
        ]
        return 2.0 * float(clip) * max(ratios, default=1.0)


class Krum(Rule):
    """Krum (``m = 1``) or Multi-Krum (``m > 1``): :func:`krum`.

    Args:
        f: the assumed number of Byzantine clients, ``>= 0``; rounds need
            ``n > 2f + 2`` survivors.
        m: the number of updates selected and averaged, ``>= 1`` (at most ``n - f``).

    Raises:
        ParameterError: invalid ``f`` or ``m``.

    Security assumption: at most ``f`` of the ``n > 2f + 2`` aggregated updates are
    Byzantine (Blanchard et al. 2017).
    """

    kind: ClassVar[str] = "krum"

    def __init__(self, *, f: int, m: int = 1) -> None:
        self._f = _int(f, "f", 0)
        self._m = _int(m, "m", 1)

    @property
    def f(self) -> int:
        """The assumed number of Byzantine clients."""
        return self._f

    @property
    def m(self) -> int:
        """The number of updates selected and averaged (1: Krum)."""
        return self._m

    def params(self) -> dict[str, Value]:
        return {"f": self._f, "m": self._m}

    def min_updates(self) -> int:
        return max(_krum_min(self._f), self._m + self._f)

    def aggregate(self, updates: Array) -> Array:
        self.check_count(updates.shape[0])
        return krum(updates, f=self._f, m=self._m)

    def sensitivity(self, *, clip: float, n: int) -> float:
        """``2 * clip``: the result is a mean of inputs, so its norm is ``<= clip``."""
        return 2.0 * float(clip)


class NormBound(Rule):
    """Norm bounding: clip each update to L2 norm ``bound``, then mean or sum.

    Args:
        bound: the L2 norm bound, finite and ``> 0``.
        mean: aggregate the mean (default) or the sum of the clipped updates.

    Raises:
        ParameterError: invalid ``bound`` or ``mean``.

    Security assumption: none on the number of Byzantine clients; each one moves the sum
    by at most ``bound``, the mean by ``bound / n``.
    """

    kind: ClassVar[str] = "norm_bound"

    def __init__(self, *, bound: float, mean: bool = True) -> None:
        self._bound = _check_bound(bound)
        if not isinstance(mean, bool):
            raise ParameterError(f"mean must be a bool, got {type(mean).__name__}")
        self._mean = mean

    @property
    def bound(self) -> float:
        """The L2 norm bound of each update."""
        return self._bound

    @property
    def mean(self) -> bool:
        """Whether the clipped updates are averaged (True) or summed (False)."""
        return self._mean

    def params(self) -> dict[str, Value]:
        return {"bound": self._bound, "mean": self._mean}

    def min_updates(self) -> int:
        return 1

    def aggregate(self, updates: Array) -> Array:
        self.check_count(updates.shape[0])
        return norm_bound(updates, bound=self._bound, mean=self._mean)

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """Clipping scales a coordinate toward 0, so each moves by ``<= bound``.

        Returns ``bound`` (mean) or ``n * bound`` (sum), plus float64 rounding.
        """
        if n_summands == 0:
            return 0.0
        per = float(bound) * (1.0 + _SLACK)
        return per if self._mean else per * n_summands * (1.0 + _SLACK)

    def sensitivity(self, *, clip: float, n: int) -> float:
        """``min(bound, clip)`` for the sum, divided by the public ``n`` for the mean.

        Adding or removing one client changes the sum by one clipped update.  (Replacing
        one changes it by up to twice that, as for any sum; ClientDP's accounting uses
        add/remove.)
        """
        s = min(self._bound, float(clip))
        return s / max(n, 1) if self._mean else s


# ---------------------------------------------------------------------------- scheme


class RobustAggregation(Scheme):
    """A plaintext scheme that aggregates with a robust :class:`Rule`.

    Protocol: Plain's single exchange (``PLAIN_REQUEST`` ``{"length": n}`` /
    ``PLAIN_UPDATE`` ``{"vector": float64[n]}``), bound to this scheme's fingerprint
    (which covers the rule and its parameters), with Plain's checks on every reply.
    The server applies the rule to the updates of the clients that answered; dropouts
    are simply absent.  :attr:`~privkit.aggregation.ServerSession.survivors` are all
    the clients that answered (the rule's result depends on each of them);
    :attr:`RobustServerSession.selected` names those Krum selected.

    Threat model: no confidentiality (the server sees every update, as with Plain).
    Integrity of the aggregate against Byzantine clients under the rule's assumption.

    Args:
        rule: a :class:`Median`, :class:`TrimmedMean`, :class:`Krum` or
            :class:`NormBound` (or a user's :class:`Rule`).
        min_clients: the fewest answering clients for a round to complete (``>= 1``);
            the rule's own minimum (Krum: ``2f + 3``) applies on top.

    Raises:
        ParameterError: ``rule`` is not a Rule, or ``min_clients`` is not an int >= 1.
    """

    name: ClassVar[str] = "privkit.robust.v1"

    def __init__(self, rule: Rule, *, min_clients: int = 1) -> None:
        if not isinstance(rule, Rule):
            raise ParameterError(f"rule must be a privkit robust Rule, got {type(rule).__name__}")
        self._rule = rule
        self._min_clients = _int(min_clients, "min_clients", 1)

    @property
    def rule(self) -> Rule:
        """The aggregation rule."""
        return self._rule

    @property
    def mean(self) -> bool:
        """True except for ``NormBound(mean=False)``: the result estimates the mean."""
        return self._rule.mean

    def params(self) -> dict[str, Value]:
        """Return ``{"rule": kind, "rule_params": {...}, "min_clients": ...}``."""
        return {
            "rule": self._rule.kind,
            "rule_params": self._rule.params(),
            "min_clients": self._min_clients,
        }

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> RobustServerSession:
        """Create the server session of one round (see :meth:`Scheme.server`).

        Raises:
            ParameterError: invalid ids or length, or fewer clients than
                :meth:`min_survivors` (Krum: ``n > 2f + 2``).
        """
        return RobustServerSession(self, client_ids=client_ids, length=length)

    def client(self, *, client_id: ClientId, update: object) -> RobustClientSession:
        """Create one client's session (see :meth:`Scheme.client`).

        Raises:
            ParameterError: an invalid id or a non-finite / unflattenable update.
        """
        return RobustClientSession(self, client_id=client_id, update=update)

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """The rule's worst-case distance from the exact mean (or sum); see :meth:`Rule.tolerance`.

        Raises:
            ParameterError: a negative or non-numeric argument.
        """
        if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 0:
            raise ParameterError(f"n_summands must be an int >= 0, got {n_summands!r}")
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound >= 0:
            raise ParameterError(f"bound must be a number >= 0, got {bound!r}")
        if not math.isfinite(float(bound)):
            return math.inf
        return self._rule.tolerance(n_summands=n_summands, bound=float(bound))

    def min_survivors(self, n_clients: int) -> int:
        """``max(min_clients, rule.min_updates())``, whatever ``n_clients``."""
        return max(self._min_clients, self._rule.min_updates())

    def dp_noise_multiplier(self, noise_multiplier: float, *, clip: float, n_clients: int) -> float:
        """The ``noise_multiplier`` to give ``ClientDP(self, clip=clip, ...)`` (central mode).

        ClientDP adds ``N(0, (z' C)^2)`` to a sum, ``z' C / k`` to a mean of ``k``
        survivors: calibrated to a *sum's* sensitivity ``C``.  A robust rule's
        sensitivity :meth:`Rule.sensitivity` is larger (the median's is about ``2.8 C``,
        not ``C / k``), so this returns the smallest ``z'`` for which the noise is at
        least ``noise_multiplier * rule.sensitivity(clip, k)`` for every survivor count
        ``k`` from :meth:`min_survivors` to ``n_clients``.  The round is then a Gaussian
        mechanism of multiplier ``noise_multiplier`` in the rule's true sensitivity.

        Do **not** give ClientDP an accountant in that case: it would record ``z'``;
        compose ``SampledGaussian(noise_multiplier, sample_rate)`` into your own
        accountant instead.

        Args:
            noise_multiplier: the intended multiplier ``z >= 0`` (noise std over the
                rule's sensitivity).
            clip: ClientDP's L2 clip ``C > 0``.
            n_clients: the clients invited to each round (``>= min_survivors``).

        Returns:
            ``z'`` (``<= z`` for :class:`NormBound`, whose sensitivity is at most C).

        Raises:
            ParameterError: a negative or non-finite argument, or ``n_clients`` below
                :meth:`min_survivors`.
        """
        z = _real(noise_multiplier, "noise_multiplier")
        if not (math.isfinite(z) and z >= 0):
            raise ParameterError(f"noise_multiplier must be finite and >= 0, got {z!r}")
        c = _check_bound(clip, "clip")
        lowest = self.min_survivors(0)
        n = _int(n_clients, "n_clients", lowest)
        worst = 0.0
        for k in range(lowest, n + 1):
            per = self._rule.sensitivity(clip=c, n=k) / c
            worst = max(worst, per * k if self.mean else per)
        return z * worst


class RobustServerSession(PlainServerSession):
    """The server side of :class:`RobustAggregation`; create it with its ``server()``.

    Security assumption: replies are untrusted and checked as Plain's; the updates are
    visible to this session.
    """

    def __init__(
        self, scheme: RobustAggregation, *, client_ids: Iterable[ClientId], length: int
    ) -> None:
        ids = check_client_ids(client_ids)
        longest = max((len(c.encode("utf-8")) if isinstance(c, str) else 0 for c in ids), default=0)
        n = check_length(length)
        BaseServerSession.__init__(
            self,
            fingerprint=scheme.fingerprint,
            exchanges=_EXCHANGES,
            client_ids=ids,
            length=n,
            min_survivors=scheme.min_survivors(len(ids)),
            mean=False,  # the rule returns the final value; no division by the base
            max_reply_size=8 * n + _OVERHEAD + longest,
        )
        self._rule = scheme.rule
        self._selected: tuple[ClientId, ...] | None = None

    @property
    def selected(self) -> tuple[ClientId, ...]:
        """The clients whose updates the rule used directly, in canonical order.

        Krum / Multi-Krum: the selected clients; other rules: all survivors.

        Raises:
            ProtocolError: the round is not done.
        """
        if self._selected is None:
            raise ProtocolError("selected is available only once the round is done")
        return self._selected

    def _advance(
        self,
        exchange: int,
        replies: Mapping[ClientId, Any],
        dropped: frozenset[ClientId],
    ) -> Finish:
        ids = list(replies)
        if self.length == 0:
            total: Array = np.zeros(0, dtype=np.float64)
            self._selected = tuple(ids)
            return Finish(total=total, survivors=ids)
        x = np.stack([replies[c] for c in ids])
        try:
            self._rule.check_count(len(ids))
        except ParameterError as exc:
            raise ProtocolError(f"round failed: {exc}") from None
        if isinstance(self._rule, Krum):
            chosen = sorted(krum_select(x, f=self._rule.f, m=self._rule.m))
            total = np.ascontiguousarray(x[chosen].mean(axis=0), dtype=np.float64)
            self._selected = tuple(ids[i] for i in chosen)
        else:
            total = np.ascontiguousarray(self._rule.aggregate(x), dtype=np.float64)
            self._selected = tuple(ids)
        return Finish(total=total, survivors=ids)


class RobustClientSession(PlainClientSession):
    """The client side of :class:`RobustAggregation`; create it with its ``client()``.

    Security assumption: none for confidentiality; the update is sent in the clear.
    """

    def __init__(self, scheme: RobustAggregation, *, client_id: ClientId, update: object) -> None:
        cid = check_client_id(client_id)
        vector, _ = flatten(update)
        if not np.isfinite(vector).all():
            raise ParameterError(
                f"the update of client {describe_client_id(cid)} contains NaN or infinite "
                "values; only finite updates can be aggregated"
            )
        BaseClientSession.__init__(
            self,
            fingerprint=scheme.fingerprint,
            exchanges=_EXCHANGES,
            client_id=cid,
            max_request_size=_OVERHEAD + (len(cid.encode("utf-8")) if isinstance(cid, str) else 0),
        )
        self._vector = vector
