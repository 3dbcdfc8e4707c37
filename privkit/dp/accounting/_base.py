"""The one accountant interface shared by RDP, PRV and GDP accounting.

An accountant is a ledger of composed mechanisms plus a method to turn the ledger into
(epsilon, delta).  It satisfies the shape of Flower's ``PrivacyAccountant`` protocol
(``config``, ``num_releases``, ``compose``, ``get_epsilon``, ``get_delta``,
``get_privacy_spent``, ``would_exceed``, ``state_dict``, ``load_state_dict``), so it can be
handed to Flower's DP strategy wrappers, and also accepts privkit's own mechanisms.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from privkit.dp.accounting._mechanisms import (
    AccountingConfig,
    DistributedDiscreteGaussian,
    Mechanism,
    PrivacySpent,
    SampledGaussian,
    _integer,
    _real,
)
from privkit.errors import ParameterError

__all__ = ["Accountant", "History"]

History = tuple[tuple[Mechanism, int], ...]

_STATE_FORMAT = "privkit.dp.accounting"
_STATE_VERSION = 1
_CACHE_LIMIT = 512
_SUPPORTED_SAMPLING = ("poisson", "no-amplification")


def _enum_value(value: object) -> object:
    """Flower's enums are ``str`` subclasses with ``.value``; accept them or plain strings."""
    return getattr(value, "value", value)


def _check_delta(delta: object) -> float:
    out = _real("delta", delta)
    if not 0 < out < 1:
        raise ParameterError(f"delta must be in (0, 1), got {out!r}")
    return out


def _check_epsilon(epsilon: object, name: str = "epsilon", *, positive: bool = False) -> float:
    out = _real(name, epsilon)
    if out < 0 or (positive and out == 0):
        raise ParameterError(f"{name} must be {'> 0' if positive else '>= 0'}, got {out!r}")
    return out


class Accountant(abc.ABC):
    """Base class of privkit's privacy accountants (never instantiated itself).

    Args:
        target_delta: default delta of :meth:`get_epsilon` / :meth:`get_privacy_spent`;
            in (0, 1) or ``None`` (then every call must pass a delta).
        max_epsilon: default budget of :meth:`would_exceed`; > 0 or ``None``.
        config: a Flower ``PrivacyConfig`` (or anything with its fields: target_delta,
            population_size, neighboring_relation, sampling_method, max_epsilon).  Its
            target_delta / max_epsilon are the defaults; a conflicting keyword raises.

    Raises:
        ParameterError: invalid values, a neighbouring relation other than
            add-or-remove-one, or ``without-replacement`` sampling (not supported: the
            Poisson analyses here do not apply to fixed-size samples).

    Security assumption: epsilon is only meaningful if every release that touched the data
    was composed here, with the noise and sampling that really happened.
    """

    method: ClassVar[str]

    def __init__(
        self,
        *,
        target_delta: float | None = None,
        max_epsilon: float | None = None,
        config: object | None = None,
    ) -> None:
        self._sampling = "poisson"
        self._population: int | None = None
        if config is not None:
            target_delta, max_epsilon = self._read_config(config, target_delta, max_epsilon)
        self._target_delta = None if target_delta is None else _check_delta(target_delta)
        self._max_epsilon = (
            None
            if max_epsilon is None
            else _check_epsilon(max_epsilon, "max_epsilon", positive=True)
        )
        self._config: object = (
            config
            if config is not None
            else AccountingConfig(
                target_delta=self._target_delta,
                sampling_method=self._sampling,
                max_epsilon=self._max_epsilon,
            )
        )
        self._history: list[tuple[Mechanism, int]] = []
        self._cache: dict[tuple[object, ...], tuple[float, float | None]] = {}

    def _read_config(
        self, config: object, target_delta: float | None, max_epsilon: float | None
    ) -> tuple[float | None, float | None]:
        fields = (
            "target_delta",
            "population_size",
            "neighboring_relation",
            "sampling_method",
            "max_epsilon",
        )
        missing = [f for f in fields if not hasattr(config, f)]
        if missing:
            raise ParameterError(
                f"config must have Flower PrivacyConfig's fields; missing {missing}"
            )
        sampling = _enum_value(config.sampling_method)  # type: ignore[attr-defined]
        if sampling == "without-replacement":
            raise ParameterError(
                "sampling_method 'without-replacement' is not supported: privkit's "
                "accountants analyse Poisson sampling; use 'poisson' or 'no-amplification'"
            )
        if sampling not in _SUPPORTED_SAMPLING:
            raise ParameterError(
                f"sampling_method must be one of {_SUPPORTED_SAMPLING}, got {sampling!r}"
            )
        relation = _enum_value(config.neighboring_relation)  # type: ignore[attr-defined]
        if relation != "add-or-remove-one":
            raise ParameterError(
                f"only the 'add-or-remove-one' neighboring relation is supported, got {relation!r}"
            )
        self._sampling = str(sampling)
        population = config.population_size  # type: ignore[attr-defined]
        if population is not None:
            self._population = _integer("population_size", population, minimum=1)
        cfg_delta = config.target_delta  # type: ignore[attr-defined]
        cfg_max = config.max_epsilon  # type: ignore[attr-defined]
        if target_delta is not None and cfg_delta is not None and target_delta != cfg_delta:
            raise ParameterError("target_delta conflicts with config.target_delta")
        if max_epsilon is not None and cfg_max is not None and max_epsilon != cfg_max:
            raise ParameterError("max_epsilon conflicts with config.max_epsilon")
        return (
            cfg_delta if target_delta is None else target_delta,
            cfg_max if max_epsilon is None else max_epsilon,
        )

    # ----------------------------------------------------------------- properties
    @property
    def config(self) -> object:
        """The Flower config given at construction, or an :class:`AccountingConfig`."""
        return self._config

    @property
    def num_releases(self) -> int:
        """Total number of composed releases."""
        return sum(count for _, count in self._history)

    @property
    def history(self) -> History:
        """The composed (mechanism, count) pairs, identical neighbours merged."""
        return tuple(self._history)

    @property
    def target_delta(self) -> float | None:
        """The default delta (``None`` when unset)."""
        return self._target_delta

    @property
    def max_epsilon(self) -> float | None:
        """The default epsilon budget of :meth:`would_exceed` (``None`` when unset)."""
        return self._max_epsilon

    # ------------------------------------------------------------ subclass hooks
    def _check_supported(self, mech: Mechanism) -> None:  # noqa: B027 - optional hook
        """Raise ParameterError if this method cannot account ``mech`` (default: all)."""

    @abc.abstractmethod
    def _epsilon(self, history: History, delta: float) -> tuple[float, float | None]:
        """(epsilon, optimal order or None) of a non-empty history at ``delta``."""

    @abc.abstractmethod
    def _delta(self, history: History, epsilon: float) -> float:
        """delta of a non-empty history at ``epsilon``."""

    # ----------------------------------------------------------------- composing
    def _to_mechanism(self, event: object) -> Mechanism:
        if isinstance(event, SampledGaussian | DistributedDiscreteGaussian):
            mech: Mechanism = event
        elif all(hasattr(event, a) for a in ("noise_multiplier", "sample_size", "population_size")):
            sigma = _real("event.noise_multiplier", event.noise_multiplier)  # type: ignore[attr-defined]
            size = _integer("event.sample_size", event.sample_size, minimum=1)  # type: ignore[attr-defined]
            population = _integer("event.population_size", event.population_size, minimum=1)  # type: ignore[attr-defined]
            if size > population:
                raise ParameterError(
                    f"event.sample_size ({size}) must not exceed population_size ({population})"
                )
            if self._population is not None and population != self._population:
                raise ParameterError(
                    f"event.population_size ({population}) does not match "
                    f"config.population_size ({self._population})"
                )
            rate = 1.0 if self._sampling == "no-amplification" else size / population
            mech = SampledGaussian(noise_multiplier=sigma, sample_rate=rate)
        else:
            raise ParameterError(
                "event must be a SampledGaussian, a DistributedDiscreteGaussian or a "
                "Flower GaussianPrivacyEvent (noise_multiplier, sample_size, population_size), "
                f"got {type(event).__name__}"
            )
        self._check_supported(mech)
        return mech

    @staticmethod
    def _extend(history: Sequence[tuple[Mechanism, int]], mech: Mechanism, count: int) -> History:
        items = list(history)
        if items and items[-1][0] == mech:
            items[-1] = (mech, items[-1][1] + count)
        else:
            items.append((mech, count))
        return tuple(items)

    def compose(self, event: object, count: int = 1) -> None:
        """Record ``count`` releases of ``event``.

        Args:
            event: a :class:`SampledGaussian`, a :class:`DistributedDiscreteGaussian` or a
                Flower ``GaussianPrivacyEvent`` (q = sample_size / population_size under
                Poisson sampling, q = 1 under no-amplification).
            count: number of identical releases, an int >= 1.

        Raises:
            ParameterError: invalid event or count, or a mechanism this method cannot
                account.  Nothing is recorded then.
        """
        mech = self._to_mechanism(event)
        n = _integer("count", count, minimum=1)
        self._history = list(self._extend(self._history, mech, n))

    # ------------------------------------------------------------------ queries
    def _resolve_delta(self, delta: float | None) -> float:
        if delta is None:
            if self._target_delta is None:
                raise ParameterError("no delta given and no target_delta set")
            return self._target_delta
        return _check_delta(delta)

    def _eps_cached(self, history: History, delta: float) -> tuple[float, float | None]:
        if not history:
            return 0.0, None
        key: tuple[object, ...] = ("eps", history, delta)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._epsilon(history, delta)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def get_epsilon(self, delta: float | None = None) -> float:
        """Epsilon spent so far at ``delta`` (default: target_delta); 0.0 if nothing composed.

        Raises:
            ParameterError: delta not in (0, 1), or None with no target_delta.
        """
        return self._eps_cached(self.history, self._resolve_delta(delta))[0]

    def get_delta(self, epsilon: float) -> float:
        """Delta spent so far at ``epsilon`` >= 0 (0.0 if nothing composed).

        Raises:
            ParameterError: epsilon negative, NaN, infinite or not a number.
        """
        eps = _check_epsilon(epsilon)
        history = self.history
        if not history:
            return 0.0
        key: tuple[object, ...] = ("delta", history, eps)
        hit = self._cache.get(key)
        if hit is None:
            hit = (self._delta(history, eps), None)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = hit
        return hit[0]

    def get_privacy_spent(self, delta: float | None = None) -> PrivacySpent:
        """(epsilon, delta) spent so far as a :class:`PrivacySpent`.

        Raises:
            ParameterError: as :meth:`get_epsilon`.
        """
        d = self._resolve_delta(delta)
        eps, order = self._eps_cached(self.history, d)
        return PrivacySpent(
            epsilon=eps,
            delta=d,
            num_releases=self.num_releases,
            accounting_method=self.method,
            optimal_order=order,
        )

    def epsilon_if(self, event: object, count: int = 1, delta: float | None = None) -> float:
        """Epsilon after composing ``count`` more ``event`` releases; nothing is recorded.

        Raises:
            ParameterError: as :meth:`compose` and :meth:`get_epsilon`.
        """
        mech = self._to_mechanism(event)
        n = _integer("count", count, minimum=1)
        d = self._resolve_delta(delta)
        return self._eps_cached(self._extend(self._history, mech, n), d)[0]

    def would_exceed(self, event: object, max_epsilon: float | None = None, count: int = 1) -> bool:
        """Whether composing ``count`` ``event`` releases would push epsilon (at
        target_delta) above ``max_epsilon`` (default: the accountant's max_epsilon).

        Raises:
            ParameterError: no budget given or set, no target_delta, or invalid arguments.
        """
        limit = self._max_epsilon if max_epsilon is None else max_epsilon
        if limit is None:
            raise ParameterError("max_epsilon must be given here or set on the accountant")
        limit_f = _check_epsilon(limit, "max_epsilon", positive=True)
        return self.epsilon_if(event, count=count) > limit_f

    # -------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, object]:
        """A JSON-serialisable snapshot: format, version, method, defaults and history."""
        history: list[dict[str, object]] = []
        for mech, count in self._history:
            if isinstance(mech, SampledGaussian):
                entry: dict[str, object] = {
                    "mechanism": "sampled_gaussian",
                    "noise_multiplier": mech.noise_multiplier,
                    "sample_rate": mech.sample_rate,
                }
            else:
                entry = {
                    "mechanism": "distributed_discrete_gaussian",
                    "local_sigma": mech.local_sigma,
                    "n_shares": mech.n_shares,
                    "l2_sensitivity": mech.l2_sensitivity,
                    "l1_sensitivity": mech.l1_sensitivity,
                    "dimension": mech.dimension,
                    "sample_rate": mech.sample_rate,
                    "failure_probability": mech.failure_probability,
                }
            entry["count"] = count
            history.append(entry)
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "method": self.method,
            "target_delta": self._target_delta,
            "max_epsilon": self._max_epsilon,
            "history": history,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Replace this accountant's history and defaults by ``state`` (all or nothing).

        Raises:
            ParameterError: not a dict, wrong format / version / method, unknown or missing
                keys, or any invalid value.
        """
        if not isinstance(state, dict):
            raise ParameterError("state must be a dict produced by state_dict()")
        expected = {"format", "version", "method", "target_delta", "max_epsilon", "history"}
        if set(state) != expected:
            raise ParameterError(f"state must have exactly the keys {sorted(expected)}")
        if state["format"] != _STATE_FORMAT:
            raise ParameterError(f"state format must be {_STATE_FORMAT!r}")
        version = state["version"]
        if isinstance(version, bool) or version != _STATE_VERSION:
            raise ParameterError(f"unsupported state version {version!r}")
        if state["method"] != self.method:
            raise ParameterError(
                f"state was written by a {state['method']!r} accountant, this is {self.method!r}"
            )
        target = state["target_delta"]
        target_delta = None if target is None else _check_delta(target)
        limit = state["max_epsilon"]
        max_epsilon = None if limit is None else _check_epsilon(limit, "max_epsilon", positive=True)
        raw = state["history"]
        if not isinstance(raw, list):
            raise ParameterError("state['history'] must be a list")
        history: History = ()
        for entry in raw:
            mech, count = self._parse_entry(entry)
            self._check_supported(mech)
            history = self._extend(history, mech, count)
        self._history = list(history)
        self._target_delta = target_delta
        self._max_epsilon = max_epsilon
        if isinstance(self._config, AccountingConfig):
            self._config = AccountingConfig(
                target_delta=target_delta,
                sampling_method=self._sampling,
                max_epsilon=max_epsilon,
            )

    @staticmethod
    def _parse_entry(entry: object) -> tuple[Mechanism, int]:
        if not isinstance(entry, dict):
            raise ParameterError("each history entry must be a dict")
        kind = entry.get("mechanism")
        fields: tuple[str, ...]
        if kind == "sampled_gaussian":
            fields = ("noise_multiplier", "sample_rate")
        elif kind == "distributed_discrete_gaussian":
            fields = (
                "local_sigma",
                "n_shares",
                "l2_sensitivity",
                "l1_sensitivity",
                "dimension",
                "sample_rate",
                "failure_probability",
            )
        else:
            raise ParameterError(f"unknown mechanism {kind!r} in state history")
        if set(entry) != {"mechanism", "count", *fields}:
            raise ParameterError(f"history entry for {kind} must have keys {sorted(fields)}")
        count = _integer("count", entry["count"], minimum=1)
        values = {f: entry[f] for f in fields}
        mech: Mechanism = (
            SampledGaussian(**values)
            if kind == "sampled_gaussian"
            else DistributedDiscreteGaussian(**values)
        )
        return mech, count
