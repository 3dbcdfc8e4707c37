"""Client-level differential privacy for federated aggregation: :class:`ClientDP`.

``ClientDP(inner, clip=..., noise_multiplier=..., mode=...)`` wraps any aggregation
scheme of the uniform session API (Plain, SecAgg, SecAgg+, the HE schemes, a user's
own) and is itself a scheme.  Every round:

1. the server announces the round's clip ``C`` in exchange 0: its exchange-0 messages
   are ``DP_ROUND`` messages ``{"clip": C, "inner": <the inner scheme's message>}``;
2. each client clips its flattened update to L2 norm ``C`` (so one client changes the
   sum by at most ``C``: *client-level* DP, McMahan et al., ICLR 2018, DP-FedAvg),
   processes it as the mode requires, and only then hands it to the inner scheme;
3. the inner scheme aggregates; later exchanges carry the inner scheme's messages,
   re-bound to ClientDP's parameter fingerprint (the header's fingerprint is swapped,
   type and body are unchanged), so that every message of a ClientDP round names the
   DP parameters too;
4. the server releases the noised sum (or mean) and, with an accountant, records the
   round's privacy loss.

Modes and trust models:

- ``mode="central"``: the server adds ``N(0, (noise_multiplier * C)^2)`` per
  coordinate to the sum after the inner round (:func:`privkit.dp.noise.gaussian`).
  The aggregator is **trusted** to add that noise and to keep the un-noised sum to
  itself; with SecAgg underneath, the server still sees the exact sum of the clipped
  updates before it adds noise.
- ``mode="distributed"``: the distributed discrete Gaussian (DDG) of Kairouz, Liu and
  Steinke (ICML 2021).  Clients clip, scale by ``1 / granularity``, round to integers
  with conditional randomized rounding (L2 norm ``<= Delta2``), add discrete Gaussian
  noise of scale ``noise_multiplier * Delta2 / sqrt(noise_shares)`` and hand
  ``integers * granularity`` to the inner scheme, which must sum them exactly (SecAgg's
  fixed-point grid).  The sum of ``k >= noise_shares`` shares carries noise of scale at
  least ``noise_multiplier * Delta2``; under SecAgg the server never sees an un-noised
  sum.  Clients are **trusted to add their noise**: ``j`` colluding (or lazy) clients
  remove their shares, leaving ``k - j`` shares, so choose ``noise_shares`` as the
  number of *honest* survivors you expect.  The server refuses to release a sum of
  fewer than ``noise_shares`` survivors.

Adaptive clipping (``clip=AdaptiveClip(...)``, Andrew et al., NeurIPS 2021): each
client also reports whether its norm was within the clip, as one extra coordinate
centred at zero (``±w`` for inside / outside) inside the same (secure) sum; that
coordinate is noised (central: by the server with ``N(0, count_noise^2)`` on the count;
distributed: by the clients' discrete noise) and the server moves the clip toward the
target quantile for the next round.  The update noise then uses the larger multiplier
:func:`privkit.dp.clipping.adaptive_noise_multiplier`, so that the round as a whole is
as private as a Gaussian mechanism of multiplier ``noise_multiplier``.

State: a ClientDP object with an :class:`~privkit.dp.clipping.AdaptiveClip` or an
accountant is **stateful across rounds** (the clip moves, the budget is spent) even
though it is a :class:`~privkit.aggregation.Scheme`: create one per training run on the
server; clients need the same configuration (the fingerprint covers it) but their copy
never changes.  Rounds of one ClientDP should run one after the other: the budget check
happens when a round's server session is created, and the round is recorded when it
finishes.

What DP does not cover: the server learns which clients took part (the survivors) and
how many; client-level DP bounds what the released aggregates reveal about any one
client's *data*, given that participation.
"""

from __future__ import annotations

import hmac
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, Literal

import numpy as np
import numpy.typing as npt

from privkit import wire
from privkit.aggregation.api import (
    ClientId,
    ClientSession,
    Scheme,
    ServerSession,
    check_client_id,
    check_client_ids,
    describe_client_id,
)
from privkit.aggregation.session import check_length
from privkit.dp.clipping import (
    DEFAULT_BETA,
    AdaptiveClip,
    adaptive_noise_multiplier,
    clip_l2,
    randomized_round,
    rounded_l2_bound,
)
from privkit.dp.noise import discrete_gaussian, gaussian
from privkit.encoding import FixedPoint, flatten
from privkit.errors import (
    DecodeError,
    ParameterError,
    PrivacyBudgetExceededError,
    ProtocolError,
)
from privkit.wire import MessageType, Value

if TYPE_CHECKING:
    from privkit.dp.accounting import Accountant, Mechanism

__all__ = ["ClientDP", "ClientDPClientSession", "ClientDPServerSession", "RoundPlan"]

Mode = Literal["central", "distributed"]
_MODES: Final = ("central", "distributed")


def _real(value: object, what: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{what} must be a real number, got {type(value).__name__}")
    return float(value)


def _count(value: object, what: str, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < lowest:
        raise ParameterError(f"{what} must be an int >= {lowest}, got {value!r}")
    return int(value)


def _tail(n_coords: int, magnitude: float, limit: int, sigma: float) -> float:
    """Union bound on P(some |r + X| > limit) over n_coords shares with |r| <= magnitude.

    X is a discrete Gaussian of scale sigma, sigma-sub-Gaussian (Canonne et al. 2020):
    P(|X| >= t) <= 2 exp(-t^2 / (2 sigma^2)); |r + X| > limit needs |X| >= limit + 1 - |r|.
    """
    if n_coords == 0:
        return 0.0
    if sigma == 0.0:
        return 0.0 if magnitude <= limit else 1.0
    t = limit + 1 - magnitude
    if t <= 0:
        return 1.0
    return min(1.0, 2.0 * n_coords * math.exp(-(t * t) / (2.0 * sigma * sigma)))


def _check_robust_inner(
    inner: Scheme, *, mode: object, adaptive: bool, accountant: object | None
) -> None:
    """Refuse the combinations with a robust inner scheme that DP cannot account.

    ClientDP's noise and accounting assume the sensitivity of a *sum* (``clip``).  A
    median, trimmed mean or Krum moves further when one client changes (see
    ``Rule.sensitivity``), discards most clients' noise shares (distributed mode) and
    does not sum the adaptive-clipping indicator.  Norm bounding is a sum or mean of
    clipped updates, so it composes like any other scheme.
    """
    from privkit.aggregation.robust import NormBound, RobustAggregation

    if not isinstance(inner, RobustAggregation) or isinstance(inner.rule, NormBound):
        return
    rule = type(inner.rule).__name__
    if mode == "distributed":
        raise ParameterError(
            f"mode='distributed' needs an inner scheme that sums: {rule} discards most "
            "clients' noise shares; use mode='central'"
        )
    if adaptive:
        raise ParameterError(
            f"adaptive clipping needs an inner scheme that sums the clip indicator; {rule} "
            "does not: use a fixed clip"
        )
    if accountant is not None:
        raise ParameterError(
            f"ClientDP accounts the sensitivity of a sum, but {rule} has a larger one: pass "
            "noise_multiplier=inner.dp_noise_multiplier(z, clip=..., n_clients=...) and "
            "account SampledGaussian(z, q) yourself, or use NormBound"
        )


@dataclass(frozen=True)
class RoundPlan:
    """The parameters of one ClientDP round, derived from the scheme and the round's clip.

    Attributes:
        clip: the L2 clip ``C`` of this round.
        length: coordinates of the users' updates (the result's length).
        dimension: coordinates handed to the inner scheme (``length``, plus one with
            adaptive clipping).
        update_multiplier: the noise multiplier of the update coordinates (``z``, or
            ``z_delta`` of :func:`~privkit.dp.clipping.adaptive_noise_multiplier`).
        count_noise: std of the noise on the clipped count (adaptive), else 0.
        indicator: the magnitude of the indicator coordinate on the inner scheme's scale
            (central, in value units) or in integer units (distributed); 0 if none.
        granularity: the integer grid step (distributed), else 0.
        delta2: the L2 bound after randomized rounding, integer units (distributed).
        local_sigma: each client's discrete Gaussian scale, integer units (distributed).
        coordinate_bound: the largest ``|r|`` of a rounded coordinate (distributed).
        inner_limit: the largest integer ``m`` with ``m * granularity <= inner
            input_bound`` (distributed, None when the inner scheme has no bound).
    """

    clip: float
    length: int
    dimension: int
    update_multiplier: float
    count_noise: float = 0.0
    indicator: float = 0.0
    granularity: float = 0.0
    delta2: float = 0.0
    local_sigma: float = 0.0
    coordinate_bound: float = 0.0
    inner_limit: int | None = None

    def clamp_probability(self, n_shares: int) -> float:
        """Bound the probability that the inner scheme clamps any coordinate of any share.

        A union bound over ``n_shares * dimension`` coordinates of the sub-Gaussian tail
        of the discrete Gaussian (0 in central mode or without an inner bound).
        """
        if self.inner_limit is None or self.granularity == 0.0:
            return 0.0
        p = _tail(n_shares * self.length, self.coordinate_bound, self.inner_limit, self.local_sigma)
        if self.dimension > self.length:
            p += _tail(n_shares, self.indicator, self.inner_limit, self.local_sigma)
        return min(1.0, p)

    def needed_input_bound(self, n_shares: int, probability: float) -> float:
        """The smallest inner ``input_bound`` keeping :meth:`clamp_probability` <= probability."""
        magnitude = max(self.coordinate_bound, self.indicator)
        n = n_shares * self.dimension
        extra = self.local_sigma * math.sqrt(2.0 * math.log(2.0 * n / probability))
        return math.ceil(magnitude - 1 + extra) * self.granularity


class ClientDP(Scheme):
    """Client-level differential privacy around any aggregation scheme (DP-FedAvg).

    See the module docstring for the protocol, the two modes and their trust models.

    Args:
        inner: the aggregation scheme that sums the processed updates; not weighted
            (a weight would scale a client's contribution past the clip).
        clip: the L2 clip of every client's update (finite, > 0), or an
            :class:`~privkit.dp.clipping.AdaptiveClip`.
        noise_multiplier: ``z >= 0``: noise std over L2 sensitivity (0: no noise, no
            privacy; useful to test the plumbing).
        mode: ``"central"`` (the server adds Gaussian noise) or ``"distributed"``
            (clients add discrete Gaussian shares, Kairouz et al. 2021).
        noise_shares: distributed mode only, required: the number of (honest) clients
            whose noise makes up the full noise, ``>= 1``; rounds with fewer survivors
            are refused.
        granularity: distributed mode: the integer grid step ``gamma`` in value units.
            Default: the inner scheme's fixed-point resolution (``inner.encoding``).
            When the inner scheme has a :class:`~privkit.encoding.FixedPoint`
            encoding, ``gamma`` must be a multiple of its resolution.
        accountant: a :class:`privkit.dp.accounting.Accountant`; each finished round
            is composed into it, and a round that would exceed its ``max_epsilon`` is
            refused when its server session is created.  Needs ``noise_multiplier > 0``.
        sample_rate: the Poisson rate at which clients are sampled into a round, in
            (0, 1], for the accounting (the caller samples; 1.0: everyone).
        max_clamp_probability: distributed mode: refuse rounds whose probability
            that the inner scheme clamps a noisy coordinate exceeds this, in (0, 1).
            That probability is the mechanism's ``failure_probability``.

    Raises:
        ParameterError: invalid or inconsistent parameters (weighted inner scheme,
            negative or NaN values, unknown mode, missing noise_shares or granularity,
            a granularity off the inner grid, an impossible adaptive noise split).

    Security assumption: see the module docstring: central mode trusts the server with
    the noise; distributed mode trusts at least ``noise_shares`` survivors to add
    theirs.  Parties with different DP parameters refuse each other's messages (they
    are in :meth:`params`).
    """

    name: ClassVar[str] = "privkit.dp.client.v1"

    def __init__(
        self,
        inner: Scheme,
        *,
        clip: float | AdaptiveClip,
        noise_multiplier: float,
        mode: str = "central",
        noise_shares: int | None = None,
        granularity: float | None = None,
        accountant: Accountant | None = None,
        sample_rate: float = 1.0,
        max_clamp_probability: float = 1e-10,
    ) -> None:
        if not isinstance(inner, Scheme):
            raise ParameterError(f"inner must be a privkit Scheme, got {type(inner).__name__}")
        if getattr(inner, "weighted", False) is True:
            raise ParameterError(
                "ClientDP needs an unweighted inner scheme: a weight scales a client's "
                "contribution past the clip, so the sensitivity would depend on the weights"
            )
        _check_robust_inner(
            inner, mode=mode, adaptive=isinstance(clip, AdaptiveClip), accountant=accountant
        )
        if isinstance(clip, AdaptiveClip):
            self._adaptive: AdaptiveClip | None = clip
            self._fixed = 0.0
        else:
            self._adaptive = None
            self._fixed = _real(clip, "clip")
            if not (math.isfinite(self._fixed) and self._fixed > 0):
                raise ParameterError(f"clip must be finite and > 0, got {self._fixed!r}")
        z = _real(noise_multiplier, "noise_multiplier")
        if not (math.isfinite(z) and z >= 0):
            raise ParameterError(f"noise_multiplier must be finite and >= 0, got {z!r}")
        self._z = z
        if mode not in _MODES:
            raise ParameterError(f"mode must be 'central' or 'distributed', got {mode!r}")
        self._mode: Mode = "central" if mode == "central" else "distributed"
        q = _real(sample_rate, "sample_rate")
        if not 0.0 < q <= 1.0:
            raise ParameterError(f"sample_rate must be in (0, 1], got {q!r}")
        self._q = q
        p = _real(max_clamp_probability, "max_clamp_probability")
        if not 0.0 < p < 1.0:
            raise ParameterError(f"max_clamp_probability must be in (0, 1), got {p!r}")
        self._max_clamp = p
        if accountant is not None:
            for method in ("compose", "would_exceed"):
                if not callable(getattr(accountant, method, None)):
                    raise ParameterError(
                        "accountant must be a privkit.dp.accounting.Accountant "
                        f"(it has no {method}())"
                    )
            if z == 0.0:
                raise ParameterError("an accountant needs noise_multiplier > 0 (0 is not DP)")
        self._accountant = accountant
        self._inner = inner
        self._shares: int | None = None
        self._gamma: float | None = None
        if self._mode == "central":
            if noise_shares is not None:
                raise ParameterError("noise_shares is a parameter of mode='distributed'")
            if granularity is not None:
                raise ParameterError("granularity is a parameter of mode='distributed'")
        else:
            if noise_shares is None:
                raise ParameterError(
                    "mode='distributed' needs noise_shares=: the number of clients whose "
                    "noise shares make up the full noise"
                )
            self._shares = _count(noise_shares, "noise_shares", 1)
            self._gamma = self._resolve_granularity(granularity)
            if self._adaptive is not None and self._adaptive.count_noise is None:
                raise ParameterError(
                    "distributed mode with AdaptiveClip needs an explicit count_noise "
                    "(clients add that noise; the paper suggests expected_clients / 20)"
                )
        if self._adaptive is not None and self._adaptive.count_noise is not None:
            adaptive_noise_multiplier(z, self._adaptive.count_noise)  # refuses bad splits

    def _resolve_granularity(self, granularity: float | None) -> float:
        encoding = getattr(self._inner, "encoding", None)
        codec = encoding if isinstance(encoding, FixedPoint) else None
        if granularity is None:
            if codec is None:
                raise ParameterError(
                    "mode='distributed' needs an integer grid: pass granularity= (the inner "
                    "scheme has no FixedPoint encoding to take it from)"
                )
            return codec.resolution
        g = _real(granularity, "granularity")
        if not (math.isfinite(g) and g > 0):
            raise ParameterError(f"granularity must be finite and > 0, got {g!r}")
        if codec is not None and not math.ldexp(g, codec.frac_bits).is_integer():
            raise ParameterError(
                f"granularity {g!r} is not a multiple of the inner encoding's resolution "
                f"2**-{codec.frac_bits}; the noisy integers would not be exact on its grid"
            )
        return g

    # ------------------------------------------------------------------ parameters

    @property
    def inner(self) -> Scheme:
        """The wrapped aggregation scheme."""
        return self._inner

    @property
    def mode(self) -> str:
        """``"central"`` or ``"distributed"``."""
        return self._mode

    @property
    def noise_multiplier(self) -> float:
        """The overall noise multiplier ``z``."""
        return self._z

    @property
    def noise_shares(self) -> int | None:
        """Distributed mode: the noise shares that make the full noise; else None."""
        return self._shares

    @property
    def granularity(self) -> float | None:
        """Distributed mode: the integer grid step; else None."""
        return self._gamma

    @property
    def sample_rate(self) -> float:
        """The client sampling rate used for accounting."""
        return self._q

    @property
    def accountant(self) -> Accountant | None:
        """The accountant rounds are composed into, or None."""
        return self._accountant

    @property
    def adaptive(self) -> AdaptiveClip | None:
        """The adaptive clip state, or None for a fixed clip."""
        return self._adaptive

    @property
    def clip(self) -> float:
        """The clip the next round will announce."""
        return self._adaptive.value if self._adaptive is not None else self._fixed

    @property
    def mean(self) -> bool:
        return self._inner.mean

    @property
    def input_bound(self) -> float | None:
        """The current clip (an L2 bound, so also a per-coordinate one), capped in central
        mode by the inner scheme's bound."""
        bound = self._inner.input_bound
        if self._mode == "central" and bound is not None:
            return min(self.clip, bound)
        return self.clip

    def params(self) -> dict[str, Value]:
        clip: Value = (
            self._fixed
            if self._adaptive is None
            else {"adaptive": dict[str, Value](self._adaptive.params())}
        )
        return {
            "inner": self._inner.fingerprint,
            "mode": self._mode,
            "noise_multiplier": self._z,
            "clip": clip,
            "noise_shares": self._shares,
            "granularity": self._gamma,
            "sample_rate": self._q,
            "max_clamp_probability": self._max_clamp,
        }

    # ------------------------------------------------------------------ planning

    def _indicator_scale(self) -> float:
        """Central mode: a power of two <= min(1, inner bound) the inner codec sums exactly."""
        bound = self._inner.input_bound
        top = 1.0 if bound is None else min(1.0, float(bound))
        return math.ldexp(1.0, math.floor(math.log2(top)))

    def plan(self, *, clip: float, length: int, n_clients: int | None = None) -> RoundPlan:
        """Derive the parameters of a round with clip ``clip`` and updates of ``length``.

        Args:
            clip: the round's L2 clip (finite, > 0).
            length: the updates' length (>= 0).
            n_clients: clients invited (central mode with ``AdaptiveClip(count_noise=None)``
                uses ``n_clients / 20``); None where unknown.

        Returns:
            The :class:`RoundPlan`.

        Raises:
            ParameterError: invalid arguments or an impossible adaptive noise split.
        """
        c = _real(clip, "clip")
        if not (math.isfinite(c) and c > 0):
            raise ParameterError(f"clip must be finite and > 0, got {c!r}")
        n = check_length(length)
        adaptive = self._adaptive
        dim = n + (1 if adaptive is not None else 0)
        z_up = self._z
        sigma_b = 0.0
        if adaptive is not None:
            if adaptive.count_noise is not None:
                sigma_b = adaptive.count_noise
            elif self._z > 0:
                if n_clients is None:
                    raise ParameterError("AdaptiveClip(count_noise=None) needs n_clients")
                sigma_b = n_clients / 20.0
            z_up = adaptive_noise_multiplier(self._z, sigma_b)
        if self._mode == "central":
            return RoundPlan(
                clip=c,
                length=n,
                dimension=dim,
                update_multiplier=z_up,
                count_noise=sigma_b,
                indicator=self._indicator_scale() if adaptive is not None else 0.0,
            )
        gamma = self._gamma
        shares = self._shares
        assert gamma is not None
        assert shares is not None
        scaled = c / gamma
        if not math.isfinite(scaled) or scaled >= 2.0**52:
            raise ParameterError(
                f"clip / granularity = {scaled:.3g} integer units is too large (>= 2**52); "
                "use a coarser granularity"
            )
        delta2 = rounded_l2_bound(scaled, max(1, n), beta=DEFAULT_BETA)
        local = z_up * delta2 / math.sqrt(shares)
        indicator = 0.0
        if adaptive is not None:
            # The centred indicator ±h shares the update's noise scale; h is chosen so
            # that the count's noise std (local * sqrt(k) / (2h)) is at least count_noise.
            h = math.floor(z_up * delta2 / (2.0 * sigma_b)) if sigma_b > 0 else 1
            indicator = float(max(1, h))
        bound = self._inner.input_bound
        limit: int | None = None
        if bound is not None:
            limit = math.floor(float(bound) / gamma)
            while limit > 0 and limit * gamma > bound:
                limit -= 1
        return RoundPlan(
            clip=c,
            length=n,
            dimension=dim,
            update_multiplier=z_up,
            count_noise=sigma_b,
            indicator=indicator,
            granularity=gamma,
            delta2=delta2,
            local_sigma=local,
            coordinate_bound=float(min(math.floor(delta2), math.ceil(scaled))),
            inner_limit=limit,
        )

    def _check_clamp(self, plan: RoundPlan, n_shares: int) -> float:
        p = plan.clamp_probability(n_shares)
        if p > self._max_clamp:
            need = plan.needed_input_bound(n_shares, self._max_clamp)
            raise ParameterError(
                f"the inner scheme would clamp a noisy coordinate with probability up to "
                f"{p:.3g} (> max_clamp_probability={self._max_clamp:g}) for clip "
                f"{plan.clip:g} and {plan.length} coordinates; give the inner scheme an "
                f"input bound (clip) of at least {need:.6g}, or lower the noise or the clip"
            )
        return p

    def mechanism(
        self,
        *,
        length: int,
        n_shares: int | None = None,
        clip: float | None = None,
        n_clients: int | None = None,
    ) -> Mechanism:
        """The DP mechanism one round releases, for your own accounting.

        Central mode: ``SampledGaussian(noise_multiplier, sample_rate)`` (with adaptive
        clipping the update and the count together are equivalent to it, Andrew et al.
        2021).  Distributed mode: ``DistributedDiscreteGaussian`` with each client's
        scale, ``n_shares`` shares, the rounded L2 sensitivity ``sqrt(Delta2^2 + h^2)``
        (``h``: the indicator, adaptive only), L1 sensitivity ``min(L2^2, sqrt(d) L2)``
        (integer vectors), the dimension, the sample rate and the clamp probability of
        ``max(n_clients, n_shares)`` shares as ``failure_probability``.

        Args:
            length: the updates' length.
            n_shares: distributed: the shares in the sum (default ``noise_shares``, the
                fewest a released round has).
            clip: the round's clip (default: the current one).
            n_clients: clients invited (default ``n_shares``).

        Returns:
            A :class:`privkit.dp.accounting.SampledGaussian` or
            :class:`privkit.dp.accounting.DistributedDiscreteGaussian`.

        Raises:
            ParameterError: ``noise_multiplier`` is 0 (no mechanism), bad arguments.
        """
        from privkit.dp.accounting import DistributedDiscreteGaussian, SampledGaussian

        if self._z == 0.0:
            raise ParameterError("noise_multiplier=0 releases un-noised sums: no DP mechanism")
        if self._mode == "central":
            return SampledGaussian(noise_multiplier=self._z, sample_rate=self._q)
        shares = self._shares if n_shares is None else _count(n_shares, "n_shares", 1)
        assert shares is not None
        clients = shares if n_clients is None else max(shares, _count(n_clients, "n_clients", 1))
        plan = self.plan(clip=self.clip if clip is None else clip, length=length)
        return self._ddg(plan, shares, plan.clamp_probability(clients), DistributedDiscreteGaussian)

    def _ddg(self, plan: RoundPlan, shares: int, failure: float, cls: type) -> Mechanism:
        l2 = math.hypot(plan.delta2, plan.indicator)
        l1 = min(l2 * l2, math.sqrt(max(1, plan.dimension)) * l2)
        mech: Mechanism = cls(
            local_sigma=plan.local_sigma,
            n_shares=shares,
            l2_sensitivity=l2,
            l1_sensitivity=l1,
            dimension=max(1, plan.dimension),
            sample_rate=self._q,
            failure_probability=failure,
        )
        return mech

    # ------------------------------------------------------------------ sessions

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> ClientDPServerSession:
        """Create the server session of one round (see :meth:`Scheme.server`).

        Raises:
            ParameterError: as the inner scheme; fewer clients than ``noise_shares``;
                a clamp probability above ``max_clamp_probability``.
            PrivacyBudgetExceededError: the accountant has a ``max_epsilon`` and this
                round would exceed it (nothing is recorded).
        """
        return ClientDPServerSession(self, client_ids=client_ids, length=length)

    def client(
        self, *, client_id: ClientId, update: object, **inner_kwargs: object
    ) -> ClientDPClientSession:
        """Create one client's session (see :meth:`Scheme.client`).

        Args:
            client_id: this client's id.
            update: anything :func:`~privkit.encoding.flatten` accepts, finite.
            **inner_kwargs: passed to ``inner.client`` (e.g. ``identity=`` for SecAgg's
                authenticated mode); checked now with a dummy update.

        Raises:
            ParameterError: a bad id, update or inner keyword.
        """
        return ClientDPClientSession(
            self, client_id=client_id, update=update, inner_kwargs=inner_kwargs
        )

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """Bound the non-noise error of the aggregate, for updates inside the clip.

        With ``noise_multiplier > 0`` the result carries unbounded Gaussian noise:
        ``inf``.  With ``noise_multiplier == 0``: central mode, the inner scheme's
        tolerance; distributed mode, the inner tolerance for ``bound + granularity``
        plus the randomized rounding (less than one grid step per client).  Updates
        whose L2 norm exceeds the clip are clipped; that change is not an error and is
        not covered.

        Raises:
            ParameterError: a negative or non-numeric argument.
        """
        if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 0:
            raise ParameterError(f"n_summands must be an int >= 0, got {n_summands!r}")
        b = _real(bound, "bound")
        if not b >= 0:
            raise ParameterError(f"bound must be a number >= 0, got {bound!r}")
        if self._z > 0:
            return math.inf
        if self._mode == "central":
            return self._inner.tolerance(n_summands=n_summands, bound=b)
        gamma = self._gamma
        assert gamma is not None
        inner = self._inner.tolerance(n_summands=n_summands, bound=b + gamma)
        rounding = gamma if self._inner.mean else gamma * n_summands
        return (inner + rounding) * (1.0 + 2.0**-40)

    def min_survivors(self, n_clients: int) -> int:
        """The inner scheme's minimum, and at least ``noise_shares`` in distributed mode."""
        return max(self._inner.min_survivors(n_clients), self._shares or 1)


# Envelope layout (docs/wire-format.md section 1): magic, u16 version, u16 type tag,
# 16-byte fingerprint, u64 body length, body.
_TAG_AT: Final = len(wire.MAGIC) + 2
_FP_AT: Final = len(wire.MAGIC) + 4
_FP_END: Final = _FP_AT + wire.FINGERPRINT_SIZE


def _rebind(
    raw: bytes | bytearray | memoryview, expect: bytes | None, new: bytes
) -> tuple[int, bytes]:
    """Swap the parameter fingerprint in a message's envelope header.

    Checks the header's magic, version and (when ``expect`` is given, in constant time)
    fingerprint, then returns the type tag and the message with fingerprint ``new``.  The
    body is not parsed here: the inner session that receives the message decodes and
    checks all of it, with its own size limits.

    Raises:
        DecodeError: a truncated header, wrong magic or version, or another fingerprint.
    """
    buf = bytes(raw)
    if len(buf) < wire.HEADER_SIZE:
        raise DecodeError(
            f"truncated message: {len(buf)} bytes, a message has at least {wire.HEADER_SIZE}"
        )
    if buf[: len(wire.MAGIC)] != wire.MAGIC:
        raise DecodeError("not a privkit message (wrong magic)")
    if int.from_bytes(buf[len(wire.MAGIC) : _TAG_AT], "little") != wire.FORMAT_VERSION:
        raise DecodeError(f"unsupported wire format version; expected {wire.FORMAT_VERSION}")
    if expect is not None and not hmac.compare_digest(buf[_FP_AT:_FP_END], expect):
        raise DecodeError(
            "fingerprint mismatch: the message was made for other parameters (another "
            "ClientDP configuration or inner scheme)"
        )
    tag = int.from_bytes(buf[_TAG_AT:_FP_AT], "little")
    return tag, buf[:_FP_AT] + new + buf[_FP_END:]


class ClientDPServerSession(ServerSession):
    """The server side of a :class:`ClientDP` round; create it with :meth:`ClientDP.server`.

    Wraps the inner scheme's server session: exchange 0 goes out as ``DP_ROUND``
    messages, later messages are re-bound to ClientDP's fingerprint, and the result is
    the noised aggregate of the first ``length`` coordinates.

    Attributes:
        plan: the round's :class:`RoundPlan` (clip, noise scales).
        privacy_event: the mechanism composed when the round finished (None before,
            or with ``noise_multiplier=0``).
        fraction_below: adaptive clipping: the noised fraction of survivors whose update
            was within the clip (None otherwise or before the end).

    Security assumption: replies are untrusted (checked here, then by the inner
    session); central mode trusts this server to add the noise.
    """

    def __init__(self, scheme: ClientDP, *, client_ids: Iterable[ClientId], length: int) -> None:
        ids = check_client_ids(client_ids)
        n = check_length(length)
        shares = scheme.noise_shares
        if shares is not None and len(ids) < shares:
            raise ParameterError(
                f"{len(ids)} clients cannot make up noise_shares={shares} noise shares"
            )
        plan = scheme.plan(clip=scheme.clip, length=n, n_clients=len(ids))
        if shares is not None:
            scheme._check_clamp(plan, max(len(ids), shares))
        accountant = scheme.accountant
        before: Mechanism | None = None
        if scheme.noise_multiplier > 0:
            # Built now so that a round the accounting cannot describe never starts.
            try:
                before = self._mechanism(scheme, plan, shares or 1, len(ids))
            except ParameterError as exc:
                raise ParameterError(
                    f"this round's DP mechanism is invalid: {exc} (in distributed mode a "
                    "finer granularity or a larger noise_multiplier raises local_sigma)"
                ) from None
        if (
            accountant is not None
            and before is not None
            and getattr(accountant, "max_epsilon", None) is not None
        ) and accountant.would_exceed(before):
            raise PrivacyBudgetExceededError(
                f"this round would exceed the privacy budget max_epsilon="
                f"{accountant.max_epsilon} (epsilon would become "
                f"{accountant.epsilon_if(before):.6g}); the round was not started"
            )
        self._scheme = scheme
        self._plan = plan
        self._length = n
        self._inner = scheme.inner.server(client_ids=ids, length=plan.dimension)
        self._fingerprint = scheme.fingerprint
        self._inner_fingerprint = scheme.inner.fingerprint
        self._result: npt.NDArray[np.float64] | None = None
        self._survivors: tuple[ClientId, ...] = ()
        self._failure: str | None = None
        self.privacy_event: Mechanism | None = None
        self.fraction_below: float | None = None

    def __repr__(self) -> str:
        return f"ClientDPServerSession(exchange={self.exchange}, done={self.done})"

    @staticmethod
    def _mechanism(scheme: ClientDP, plan: RoundPlan, shares: int, clients: int) -> Mechanism:
        if scheme.mode == "central":
            return scheme.mechanism(length=plan.length)
        from privkit.dp.accounting import DistributedDiscreteGaussian

        failure = plan.clamp_probability(max(shares, clients))
        return scheme._ddg(plan, shares, failure, DistributedDiscreteGaussian)

    @property
    def plan(self) -> RoundPlan:
        """The round's parameters."""
        return self._plan

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def exchange(self) -> int:
        return self._inner.exchange

    @property
    def survivors(self) -> tuple[ClientId, ...]:
        if self._result is None:
            raise self._unavailable("survivors")
        return self._survivors

    def result(self) -> npt.NDArray[np.float64]:
        if self._result is None:
            raise self._unavailable("result()")
        return np.array(self._result, copy=True)

    def _unavailable(self, what: str) -> ProtocolError:
        if self._failure is not None:
            return ProtocolError(f"this session has failed and cannot be used: {self._failure}")
        return ProtocolError(f"{what} is available only once the round is done")

    def start(self) -> dict[ClientId, bytes]:
        if self._failure is not None:
            raise self._unavailable("start()")
        out = self._inner.start()
        clip = self._plan.clip
        return {
            cid: wire.encode(
                MessageType.DP_ROUND, {"clip": clip, "inner": raw}, fingerprint=self._fingerprint
            )
            for cid, raw in out.items()
        }

    def step(self, replies: Mapping[ClientId, bytes | None]) -> dict[ClientId, bytes]:
        if self._failure is not None:
            raise self._unavailable("step()")
        if self._result is not None:
            raise ProtocolError("the round is done; no more replies are accepted")
        if not isinstance(replies, Mapping):
            raise ProtocolError(f"replies must be a mapping, got {type(replies).__name__}")
        converted: dict[ClientId, bytes | None] = {}
        for key, raw in replies.items():
            if raw is None:
                converted[key] = None
                continue
            who = f"reply from client {describe_client_id(key)}"
            if not isinstance(raw, bytes | bytearray | memoryview):
                raise DecodeError(f"{who}: expected bytes, got {type(raw).__name__}", client_id=key)
            try:
                _, converted[key] = _rebind(raw, self._fingerprint, self._inner_fingerprint)
            except DecodeError as exc:
                raise DecodeError(f"{who}: {exc}", client_id=key) from None
        out = self._inner.step(converted)
        if not self._inner.done:
            return {cid: _rebind(raw, None, self._fingerprint)[1] for cid, raw in out.items()}
        try:
            self._finish()
        except ProtocolError as exc:
            self._failure = str(exc)
            raise
        except Exception as exc:
            self._failure = f"the round could not be finished ({type(exc).__name__})"
            raise
        return {}

    def _finish(self) -> None:
        scheme, plan = self._scheme, self._plan
        total = self._inner.result()
        survivors = tuple(self._inner.survivors)
        k = len(survivors)
        shares = scheme.noise_shares
        if shares is not None and k < shares:
            raise ProtocolError(
                f"round failed: only {k} clients survived, fewer than noise_shares={shares}; "
                "their sum would carry less than the full noise, so it is not released"
            )
        n = plan.length
        mean = scheme.inner.mean
        result = np.array(total[:n], dtype=np.float64, copy=True)
        if scheme.mode == "central" and plan.update_multiplier > 0 and n > 0:
            noise = gaussian(n, plan.update_multiplier * plan.clip)
            if mean:
                noise /= k  # noise on the sum, divided by the public survivor count
            result += noise
        fraction: float | None = None
        if scheme.adaptive is not None:
            signed = float(total[n]) * (k if mean else 1)  # the sum of ±indicator
            if scheme.mode == "central":
                count = (signed / plan.indicator + k) / 2.0
                if plan.count_noise > 0:
                    count += float(gaussian(1, plan.count_noise)[0])
            else:
                count = (signed / (plan.granularity * plan.indicator) + k) / 2.0
            fraction = count / k
        event: Mechanism | None = None
        if scheme.noise_multiplier > 0:
            event = self._mechanism(scheme, plan, k if shares is not None else 1, k)
            if scheme.accountant is not None:
                scheme.accountant.compose(event)
        if fraction is not None and scheme.adaptive is not None:
            scheme.adaptive.update(fraction)
        self.privacy_event = event
        self.fraction_below = fraction
        self._survivors = survivors
        self._result = result


class ClientDPClientSession(ClientSession):
    """One client's side of a :class:`ClientDP` round; create it with :meth:`ClientDP.client`.

    Holds the raw update until the server's ``DP_ROUND`` message announces the clip;
    then clips (and in distributed mode rounds and noises) it, creates the inner
    client session with the processed update and lets it answer.  A rejected message
    leaves the session as it was (a retry draws fresh randomness; only one processed
    update is ever handed on).

    Security assumption: messages are untrusted.  In distributed mode this client adds
    its own noise share and never hands the inner scheme an un-noised update.
    """

    def __init__(
        self,
        scheme: ClientDP,
        *,
        client_id: ClientId,
        update: object,
        inner_kwargs: Mapping[str, object],
    ) -> None:
        cid = check_client_id(client_id)
        vector, _ = flatten(update)
        if not np.isfinite(vector).all():
            raise ParameterError(
                f"the update of client {describe_client_id(cid)} contains NaN or infinite "
                "values; only finite updates can be clipped"
            )
        kwargs = dict(inner_kwargs)
        extra = 1 if scheme.adaptive is not None else 0
        # Check the inner keywords now, on a dummy update, rather than mid-round.
        scheme.inner.client(client_id=cid, update=np.zeros(vector.size + extra), **kwargs)
        self._scheme = scheme
        self._client_id = cid
        self._vector = vector
        self._kwargs = kwargs
        self._fingerprint = scheme.fingerprint
        self._inner_fingerprint = scheme.inner.fingerprint
        self._inner: ClientSession | None = None

    def __repr__(self) -> str:
        return f"ClientDPClientSession(client_id={describe_client_id(self._client_id)})"

    @property
    def client_id(self) -> ClientId:
        return self._client_id

    @property
    def done(self) -> bool:
        return self._inner is not None and self._inner.done

    def _who(self) -> str:
        return f"client {describe_client_id(self._client_id)}"

    def handle(self, message: bytes) -> bytes | None:
        if not isinstance(message, bytes | bytearray | memoryview):
            raise DecodeError(f"{self._who()}: expected bytes, got {type(message).__name__}")
        try:
            tag, inner_msg = _rebind(message, self._fingerprint, self._inner_fingerprint)
        except DecodeError as exc:
            raise DecodeError(f"{self._who()}: {exc}") from None
        if self._inner is not None:
            if tag == MessageType.DP_ROUND:
                raise ProtocolError(
                    f"{self._who()}: a DP_ROUND message after exchange 0 was handled (a replay?)",
                    client_id=self._client_id,
                )
            reply = self._inner.handle(inner_msg)
        else:
            if tag != MessageType.DP_ROUND:
                raise ProtocolError(
                    f"{self._who()}: expected the DP_ROUND message of exchange 0 first",
                    client_id=self._client_id,
                )
            try:
                msg = wire.decode(
                    message, expect_type=MessageType.DP_ROUND, expect_fingerprint=self._fingerprint
                )
            except DecodeError as exc:
                raise DecodeError(f"{self._who()}: {exc}") from None
            clip, round_msg = self._check_round(msg.body)
            processed = self._process(clip)
            inner = self._scheme.inner.client(
                client_id=self._client_id, update=processed, **self._kwargs
            )
            reply = inner.handle(round_msg)  # raises: this session stays unchanged
            self._inner = inner
        return None if reply is None else _rebind(reply, None, self._fingerprint)[1]

    def _check_round(self, body: Value) -> tuple[float, bytes]:
        if not isinstance(body, dict) or set(body) != {"clip", "inner"}:
            raise DecodeError(f"{self._who()}: a DP_ROUND body holds exactly 'clip' and 'inner'")
        clip, inner = body["clip"], body["inner"]
        if not isinstance(clip, float) or not isinstance(inner, bytes):
            raise DecodeError(f"{self._who()}: DP_ROUND needs a float 'clip' and bytes 'inner'")
        if not (math.isfinite(clip) and clip > 0):
            raise ProtocolError(
                f"{self._who()}: the announced clip {clip!r} is not finite and > 0",
                client_id=self._client_id,
            )
        adaptive = self._scheme.adaptive
        if adaptive is None and clip != self._scheme.clip:
            raise ProtocolError(
                f"{self._who()}: the server announces clip {clip!r}, this client's fixed "
                f"clip is {self._scheme.clip!r}",
                client_id=self._client_id,
            )
        return clip, inner

    def _process(self, clip: float) -> npt.NDArray[np.float64]:
        scheme = self._scheme
        clipped, norm = clip_l2(self._vector, clip)
        within = norm <= clip
        adaptive = scheme.adaptive is not None
        if scheme.mode == "central":
            if not adaptive:
                return clipped
            w = scheme._indicator_scale()
            return np.append(clipped, w if within else -w)
        shares = scheme.noise_shares
        assert shares is not None
        plan = scheme.plan(clip=clip, length=self._vector.size)
        scheme._check_clamp(plan, shares)  # ParameterError: nothing changed
        gamma = plan.granularity
        ints = randomized_round(clipped / gamma, l2_bound=plan.delta2)
        ints += discrete_gaussian(ints.size, plan.local_sigma)
        if adaptive:
            mark = int(plan.indicator) if within else -int(plan.indicator)
            ints = np.append(ints, mark + discrete_gaussian(1, plan.local_sigma))
        out = ints.astype(np.float64)
        out *= gamma
        return out
