"""DP-SGD training over Opacus: :func:`make_private` and its privacy handle.

One call turns a model, an optimizer and a data loader into their differentially
private counterparts (Opacus's ``PrivacyEngine`` underneath) and returns a
:class:`PrivateTraining`::

    model, optimizer, loader, criterion, privacy = make_private(
        model, optimizer, loader, criterion=nn.CrossEntropyLoss(),
        target_epsilon=3.0, target_delta=1e-5, epochs=10, max_epsilon=3.0)
    for _ in range(10):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
    print(privacy.epsilon(), privacy.steps)

What it adds to Opacus:

* **one accountant for everything**: every real optimizer step composes
  ``SampledGaussian(noise_multiplier, sample_rate)`` into a privkit
  :class:`~privkit.dp.accounting.Accountant` (``"prv"``, ``"rdp"`` or ``"gdp"``), the
  same object federated code uses; target-epsilon calibration uses
  :func:`privkit.dp.accounting.calibrate_noise`;
* **the fastest clipping mode** that supports the model (``clipping="auto"``, the rule
  is in :func:`select_mode`), including ghost clipping for convolutions through
  :mod:`privkit.dp.ghost`;
* **model validation with a clear fix**: unsupported layers (BatchNorm) are named in a
  :class:`~privkit.errors.ParameterError`; ``fix_model=True`` applies Opacus's fix and
  rebuilds the optimizer over the new parameters;
* **a hard budget**: with ``max_epsilon`` the optimizer step that would exceed it raises
  :class:`~privkit.errors.PrivacyBudgetExceededError` before any noise is drawn or any
  parameter changes;
* **memory-bounded physical batches**: with ``max_physical_batch_size`` the returned
  loader is already split (Opacus's ``BatchMemoryManager`` sampler); the optimizer steps
  and the accountant counts once per logical (Poisson) batch.

Security assumption: the guarantee is sample-level (add/remove one example) DP of the
sequence of released models, under Poisson sampling with rate ``1 / len(data_loader)``,
per-sample clipping to ``max_grad_norm`` (computed by Opacus, or by privkit's conv norm
samplers in ghost mode) and Gaussian noise from torch's generator.  That generator is a
Mersenne Twister (not cryptographic) unless ``secure_mode=True`` (torchcsprng), which is
why ``secure_mode=False`` warns once with :class:`InsecureNoiseWarning`.  The guarantee
covers only training done through the returned objects; with ``poisson_sampling=False``
the accounting still assumes Poisson sampling (an approximation, as in Opacus).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from privkit._backends import optional_import, require
from privkit.errors import BackendUnavailableError, ParameterError, PrivacyBudgetExceededError

if TYPE_CHECKING:
    from privkit.dp.accounting import Accountant, SampledGaussian

__all__ = [
    "ACCOUNTANTS",
    "CLIPPING_MODES",
    "InsecureNoiseWarning",
    "ModeChoice",
    "PrivacyHandle",
    "PrivateTraining",
    "make_private",
    "select_mode",
]

_FEATURE: Final = "DP-SGD training (privkit.dp.make_private)"

#: Accountant names :func:`make_private` accepts (privkit's accountants of those kinds).
ACCOUNTANTS: Final = ("prv", "rdp", "gdp")

#: ``clipping=`` values: ``"auto"`` or one of Opacus's per-sample gradient modes.
CLIPPING_MODES: Final = ("auto", "single-pass", "ghost", "hooks", "functorch", "ew")

#: Upper end of the search for how many more steps a budget allows (about 1e9 steps:
#: beyond any training run; a budget allowing more is reported as this many).
_MAX_SEARCH_STEPS: Final = 1 << 30


class InsecureNoiseWarning(UserWarning):
    """DP noise comes from a non-cryptographic PRNG (``secure_mode=False``).

    Fine for research and experiments; for a deployed model whose guarantee must hold
    against an adversary who can exploit the generator, train with ``secure_mode=True``.
    """


@dataclass(frozen=True)
class ModeChoice:
    """The per-sample gradient mode :func:`select_mode` chose, and why.

    Attributes:
        mode: ``"single-pass"`` (privkit's one-backward ghost clipping,
            :class:`privkit.dp.ghost.GhostClipper`, on Opacus's ghost-mode loader and
            optimizer) or Opacus's ``grad_sample_mode``: ``"ghost"``, ``"hooks"``,
            ``"functorch"`` or ``"ew"``.
        reason: one sentence saying why (shown by :attr:`PrivacyHandle.mode_reason`).
    """

    mode: str
    reason: str

    @property
    def opacus_mode(self) -> str:
        """The ``grad_sample_mode`` handed to Opacus (single-pass starts from ghost)."""
        return "ghost" if self.mode == "single-pass" else self.mode


class PrivateTraining(NamedTuple):
    """What :func:`make_private` returns (unpacks as a 5-tuple).

    Attributes:
        model: the model to train (an Opacus ``GradSampleModule`` wrapping the given
            model; in single-pass mode the model itself; a fixed copy of it when
            ``fix_model=True`` replaced layers).
        optimizer: the DP optimizer (clips, noises, and refuses over-budget steps).
        data_loader: the loader to iterate: Poisson-sampled by default, split into
            physical batches of at most ``max_physical_batch_size`` when asked.
        criterion: the loss to call in the training loop: in ghost mode Opacus's
            wrapper (its ``backward()`` runs both ghost passes), in single-pass mode
            privkit's (its ``backward()`` leaves the clipped sum in ``p.grad``), else
            the given criterion (or ``None`` when none was given).
        privacy: the :class:`PrivacyHandle` (epsilon, steps, budget).
    """

    model: Any
    optimizer: Any
    data_loader: Any
    criterion: Any
    privacy: PrivacyHandle


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_finite(name: str, value: object) -> float:
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0.0:  # type: ignore[arg-type]
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _positive_int(name: str, value: object) -> int:
    # bool is an Integral: refuse True/False explicitly
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class PrivacyHandle:
    """The privacy state of one private training run.

    Created by :func:`make_private`; its optimizer calls it at every real (logical)
    step.  Read it to report the guarantee, or to stop before a budget runs out.

    Attributes (read-only):
        accountant: the privkit :class:`~privkit.dp.accounting.Accountant` that every
            step is composed into (``SampledGaussian(noise_multiplier, sample_rate)``).
        noise_multiplier: noise standard deviation / ``max_grad_norm``.
        sample_rate: Poisson rate ``1 / len(data_loader)`` of the given loader.
        max_grad_norm: per-sample L2 clipping bound.
        delta: the default delta of :meth:`epsilon` (``target_delta``).
        max_epsilon: the budget at ``delta``, or ``None``.
        mode: the per-sample gradient mode in use; ``mode_reason`` says why.
        secure_mode: whether the noise comes from a cryptographic generator.
        max_physical_batch_size: the physical batch bound, or ``None``.
        planned_steps: ``epochs * len(data_loader)`` when epochs were given, else None.

    Security assumption: the epsilon reported covers the steps taken through the
    returned optimizer only; see the module docstring.
    """

    def __init__(
        self,
        *,
        accountant: Accountant,
        noise_multiplier: float,
        sample_rate: float,
        max_grad_norm: float,
        delta: float,
        max_epsilon: float | None,
        mode: ModeChoice,
        secure_mode: bool,
        max_physical_batch_size: int | None,
        planned_steps: int | None,
    ) -> None:
        """Set up the handle (called by :func:`make_private`, not by users).

        Args:
            accountant: the accountant to compose steps into.
            noise_multiplier: the noise multiplier (> 0).
            sample_rate: Poisson rate in (0, 1].
            max_grad_norm: clipping bound (> 0).
            delta: default delta.
            max_epsilon: budget at ``delta`` or None.
            mode: the chosen gradient mode.
            secure_mode: whether noise is cryptographic.
            max_physical_batch_size: physical batch bound or None.
            planned_steps: planned logical steps or None.
        """
        from privkit.dp.accounting import SampledGaussian

        self._accountant = accountant
        self._noise_multiplier = noise_multiplier
        self._sample_rate = sample_rate
        self._max_grad_norm = max_grad_norm
        self._delta = delta
        self._max_epsilon = max_epsilon
        self._mode = mode
        self._secure_mode = secure_mode
        self._max_physical_batch_size = max_physical_batch_size
        self._planned_steps = planned_steps
        self._event_type = SampledGaussian
        self._event: SampledGaussian = SampledGaussian(noise_multiplier, sample_rate)
        self._steps = 0
        # budget cache: the accountant's release count when ``_limit`` (the most steps
        # of this run the budget allows) was computed; recomputed if someone else
        # composed into the accountant meanwhile.
        self._limit: int | None = None
        self._limit_releases = -1

    # ------------------------------------------------------------------ read-outs

    @property
    def accountant(self) -> Accountant:
        """The privkit accountant this run composes into."""
        return self._accountant

    @property
    def steps(self) -> int:
        """Logical optimizer steps taken (each composed once into the accountant)."""
        return self._steps

    @property
    def sample_rate(self) -> float:
        """Poisson sampling rate per logical step."""
        return self._sample_rate

    @property
    def noise_multiplier(self) -> float:
        """Noise standard deviation divided by ``max_grad_norm``."""
        return self._noise_multiplier

    @property
    def max_grad_norm(self) -> float:
        """Per-sample clipping bound."""
        return self._max_grad_norm

    @property
    def delta(self) -> float:
        """The default delta (``target_delta``)."""
        return self._delta

    @property
    def max_epsilon(self) -> float | None:
        """The budget at :attr:`delta`, or ``None``."""
        return self._max_epsilon

    @property
    def mode(self) -> str:
        """The per-sample gradient mode (``"ghost"``, ``"hooks"``, ...)."""
        return self._mode.mode

    @property
    def mode_reason(self) -> str:
        """Why :attr:`mode` was chosen."""
        return self._mode.reason

    @property
    def secure_mode(self) -> bool:
        """Whether the noise and sampling use a cryptographic generator."""
        return self._secure_mode

    @property
    def max_physical_batch_size(self) -> int | None:
        """The physical batch bound, or ``None``."""
        return self._max_physical_batch_size

    @property
    def planned_steps(self) -> int | None:
        """``epochs * len(data_loader)`` when ``epochs`` was given, else ``None``."""
        return self._planned_steps

    def epsilon(self, delta: float | None = None) -> float:
        """Epsilon spent so far.

        Args:
            delta: the delta to report epsilon at (default :attr:`delta`).

        Returns:
            Epsilon of everything composed into :attr:`accountant` (0.0 before the
            first step).

        Raises:
            ParameterError: ``delta`` not in (0, 1).
        """
        if delta is None:
            delta = self._delta
        elif not _is_real(delta) or not 0.0 < float(delta) < 1.0:
            raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
        return float(self._accountant.get_epsilon(float(delta)))

    def remaining_steps(self) -> int:
        """How many more logical steps the budget allows.

        Returns:
            The number of further steps that keep epsilon at :attr:`delta` within
            :attr:`max_epsilon` (capped at 2**30).

        Raises:
            ParameterError: no budget (``max_epsilon``) was set.
        """
        if self._max_epsilon is None:
            raise ParameterError("remaining_steps() needs a budget: pass max_epsilon=")
        return self._budget_limit() - self._steps

    def __repr__(self) -> str:
        """Public parameters only (no data-dependent values)."""
        return (
            f"PrivacyHandle(accountant={self._accountant.method!r}, "
            f"noise_multiplier={self._noise_multiplier:.4g}, "
            f"sample_rate={self._sample_rate:.4g}, max_grad_norm={self._max_grad_norm:g}, "
            f"delta={self._delta:g}, max_epsilon={self._max_epsilon!r}, "
            f"mode={self._mode.mode!r}, steps={self._steps})"
        )

    # ------------------------------------------------------------------ budget

    def _budget_limit(self) -> int:
        """The most steps of this run (taken so far included) the budget allows."""
        releases = self._accountant.num_releases
        if self._limit is not None and releases == self._limit_releases:
            return self._limit
        assert self._max_epsilon is not None
        budget = self._max_epsilon

        def exceeds(count: int) -> bool:
            return bool(self._accountant.would_exceed(self._event, budget, count=count))

        # exponential then binary search for the largest count that stays within the
        # budget: O(log k) accountant evaluations, once, instead of one per step
        lo, hi = 0, 1
        while hi <= _MAX_SEARCH_STEPS and not exceeds(hi):
            lo, hi = hi, hi * 2
        if hi > _MAX_SEARCH_STEPS:
            lo = _MAX_SEARCH_STEPS
        else:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if exceeds(mid):
                    hi = mid
                else:
                    lo = mid
        self._limit = self._steps + lo
        self._limit_releases = releases
        return self._limit

    def _next_event(self, optimizer: Any) -> SampledGaussian:
        """The mechanism the optimizer's next real step releases."""
        noise = float(optimizer.noise_multiplier)
        if noise == self._noise_multiplier:
            return self._event
        # a noise scheduler changed the multiplier: account what is really used
        return self._event_type(noise, self._sample_rate)

    def _refuse_if_over_budget(self, event: SampledGaussian) -> None:
        """Raise if releasing ``event`` would exceed the budget (nothing changes then)."""
        if self._max_epsilon is None:
            return
        if event == self._event and self._steps < self._budget_limit():
            return
        # at the cached limit, or another mechanism: ask the accountant directly
        if not self._accountant.would_exceed(event, self._max_epsilon):
            self._limit = None  # the cached limit is stale: recompute on the next step
            return
        raise PrivacyBudgetExceededError(
            f"step {self._steps + 1} refused: it would raise epsilon above the budget "
            f"max_epsilon={self._max_epsilon:g} at delta={self._delta:g} "
            f"({self._steps} steps taken, epsilon now {self.epsilon():.4g}); "
            "no parameter was changed"
        )

    # ------------------------------------------------------------------ hooks

    def _on_step(self, optimizer: Any) -> None:
        """Opacus step hook: compose one logical step (after noise, before the update)."""
        iterations = int(getattr(optimizer, "accumulated_iterations", 1))
        event = self._next_event(optimizer)
        if iterations != 1:
            # mirror Opacus's accountant hook: accumulated iterations scale the rate
            event = self._event_type(
                event.noise_multiplier, min(1.0, self._sample_rate * iterations)
            )
        self._accountant.compose(event, 1)
        self._steps += 1
        if event != self._event:
            self._limit = None  # the cached limit assumed the planned mechanism
        elif self._limit is not None:
            self._limit_releases = self._accountant.num_releases

    def _guard(self, optimizer: Any) -> None:
        """Wrap ``optimizer.pre_step`` so an over-budget step is refused first."""
        original: Callable[..., Any] = optimizer.pre_step
        handle = self

        def pre_step(closure: Callable[[], float] | None = None) -> Any:
            # a physical batch that is not the last of its logical batch only
            # accumulates: no release, nothing to refuse
            if not optimizer._check_skip_next_step(pop_next=False):
                try:
                    handle._refuse_if_over_budget(handle._next_event(optimizer))
                except PrivacyBudgetExceededError:
                    # leave the optimizer clean: consume this step's signal, drop the
                    # per-sample and summed gradients; no noise was drawn
                    optimizer._check_skip_next_step(pop_next=True)
                    optimizer._is_last_step_skipped = False  # so zero_grad drops summed_grad
                    optimizer.zero_grad(set_to_none=True)
                    raise
            return original(closure)

        optimizer.pre_step = pre_step


def _has_reduction(criterion: Any) -> bool:
    """Whether ghost clipping can switch ``criterion`` to per-sample losses."""
    return getattr(criterion, "reduction", None) in ("mean", "sum")


def select_mode(model: Any, *, criterion: Any = None, clipping: str = "auto") -> ModeChoice:
    """Choose Opacus's per-sample gradient mode for ``model``.

    The rule for ``"auto"`` (measured on CPU, torch 2.13 / Opacus 1.6, batch 256; the
    numbers are in docs/dp-training.md):

    1. ``"single-pass"`` when a criterion (a loss module with ``reduction`` "mean" or
       "sum") is given and every trainable layer is ``nn.Linear``, ``nn.Conv1d`` or
       ``nn.Conv2d``: privkit's one-backward ghost clipping
       (:class:`privkit.dp.ghost.GhostClipper`), the fastest path for such models
       (1.36-1.38x faster than Opacus's best mode on the benchmark MLP and CNN);
    2. Opacus's ghost clipping when a criterion is given and every trainable layer has a
       fast norm path
       (:func:`privkit.dp.ghost.supports_ghost`: Linear, Embedding, Conv1d, Conv2d, ...):
       35-45x faster than the other modes on an MLP, within ~10% of them on a small
       CNN, and the least memory (no per-sample gradients);
    3. otherwise ``"hooks"``: no one of hooks, functorch and ew was consistently the
       fastest (hooks won or tied with two threads, ew by 10-14% with one), and hooks
       works for every layer (it falls back to functorch per layer), whereas ew fails
       on layers without an ExpandedWeights rule and on empty Poisson batches.

    Args:
        model: an ``nn.Module``.
        criterion: the loss module (ghost clipping needs it), or None.
        clipping: ``"auto"`` or an explicit mode, which is honoured.

    Returns:
        The :class:`ModeChoice`.

    Raises:
        ParameterError: unknown ``clipping``, or ``"ghost"`` without a criterion.
        BackendUnavailableError: torch or opacus is not installed.
    """
    if clipping not in CLIPPING_MODES:
        raise ParameterError(f"clipping must be one of {CLIPPING_MODES}, got {clipping!r}")
    if clipping in ("ghost", "single-pass"):
        if criterion is None:
            raise ParameterError(
                f"clipping={clipping!r} needs criterion= (ghost clipping computes the "
                "per-sample norms inside the wrapped loss's backward); pass your loss module"
            )
        if not _has_reduction(criterion):
            raise ParameterError(
                f"clipping={clipping!r} needs a loss module with a reduction attribute "
                "('mean' or 'sum'), such as nn.CrossEntropyLoss(); it is switched to "
                "per-sample losses"
            )
        if clipping == "single-pass":
            from privkit.dp.ghost import supports_single_pass

            if not supports_single_pass(model):
                raise ParameterError(
                    "clipping='single-pass' supports models whose trainable layers are all "
                    "nn.Linear, nn.Conv1d or nn.Conv2d; use clipping='ghost' or 'auto'"
                )
        return ModeChoice(clipping, "requested explicitly")
    if clipping != "auto":
        return ModeChoice(clipping, "requested explicitly")
    from privkit.dp.ghost import unsupported_layers

    slow = unsupported_layers(model)
    if criterion is None:
        return ModeChoice(
            "hooks",
            "no criterion given, so ghost clipping (which wraps the loss) is not possible; "
            "hooks is the fastest of hooks/functorch/ew (pass criterion= for ghost)",
        )
    if not _has_reduction(criterion):
        return ModeChoice(
            "hooks",
            "the criterion has no reduction attribute, which ghost clipping needs (use a "
            "loss module such as nn.CrossEntropyLoss()); hooks is the fastest of "
            "hooks/functorch/ew",
        )
    if slow:
        return ModeChoice(
            "hooks",
            "ghost clipping would materialise per-sample gradients for "
            + ", ".join(slow)
            + "; hooks is the fastest of hooks/functorch/ew",
        )
    from privkit.dp.ghost import supports_single_pass

    if supports_single_pass(model):
        return ModeChoice(
            "single-pass",
            "criterion given and every trainable layer is Linear/Conv1d/Conv2d: "
            "one-backward ghost clipping (privkit.dp.ghost.GhostClipper)",
        )
    return ModeChoice("ghost", "criterion given and every trainable layer has a ghost norm path")


def _inplace_layers(model: Any) -> list[str]:
    """Names of submodules that declare ``inplace=True`` (e.g. ``nn.ReLU(inplace=True)``)."""
    return [
        f"{name or '<model>'} ({type(m).__name__})"
        for name, m in model.named_modules()
        if getattr(m, "inplace", False) is True
    ]


def _check_inplace(model: Any, *, mode: str, fix_model: bool) -> None:
    """Refuse (or with ``fix_model`` switch off) in-place activations.

    Every per-sample gradient mode but ``ew`` reads layer outputs through backward hooks
    that an in-place activation overwrites: Opacus fails with an autograd error deep in
    the first backward, and single-pass clipping would refuse there.  Saying so before
    training starts is kinder; ``inplace=False`` computes the same function.
    """
    if mode == "ew":
        return
    layers = _inplace_layers(model)
    if not layers:
        return
    if not fix_model:
        raise ParameterError(
            "in-place operations break per-sample gradient hooks: "
            + ", ".join(layers)
            + "; use inplace=False (fix_model=True does it) or clipping='ew'"
        )
    for m in model.modules():
        if getattr(m, "inplace", False) is True:
            m.inplace = False


def _offending_layers(model: Any, validator: Any) -> list[str]:
    """``"name (Type): reason"`` for each layer Opacus's validators reject."""
    out: list[str] = []
    if not model.training:
        out.append("<model>: must be in training mode (call model.train())")
    for name, sub in model.named_modules():
        check = validator.VALIDATORS.get(type(sub))
        if check is None or not any(p.requires_grad for p in sub.parameters(recurse=False)):
            continue
        for err in check(sub):
            out.append(f"{name or '<root>'} ({type(sub).__name__}): {err}")
    return out


def _rebuild_optimizer(optimizer: Any, old: Any, new: Any) -> Any:
    """The same optimizer class and param-group settings over ``new``'s parameters.

    Parameters are matched by name (Opacus's fixers keep them: BatchNorm's
    ``weight``/``bias`` become GroupNorm's ``weight``/``bias`` of the same shape).
    """
    if any(len(s) for s in optimizer.state.values()):
        raise ParameterError(
            "fix_model=True cannot carry over the optimizer's state (it has already "
            "stepped); build a fresh optimizer, or apply opacus.validators.ModuleValidator"
            ".fix(model) yourself and build the optimizer over the fixed model"
        )
    names = {id(p): n for n, p in old.named_parameters()}
    new_params = dict(new.named_parameters())
    groups: list[dict[str, Any]] = []
    for group in optimizer.param_groups:
        params = []
        for p in group["params"]:
            name = names.get(id(p))
            q = new_params.get(name) if name is not None else None
            if q is None or q.shape != p.shape:
                raise ParameterError(
                    "fix_model=True: an optimizer parameter has no counterpart of the same "
                    "shape in the fixed model; apply ModuleValidator.fix(model) yourself "
                    "and build the optimizer over the fixed model"
                )
            params.append(q)
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": params})
    try:
        return type(optimizer)(groups, **optimizer.defaults)
    except TypeError as exc:
        raise ParameterError(
            f"fix_model=True could not rebuild {type(optimizer).__name__} from its "
            "defaults; apply ModuleValidator.fix(model) yourself and build the optimizer "
            "over the fixed model"
        ) from exc


def _validate_model(model: Any, optimizer: Any, *, fix_model: bool) -> tuple[Any, Any]:
    """Validate (and with ``fix_model`` fix) ``model``; return (model, optimizer)."""
    validator = require("opacus.validators.module_validator", feature=_FEATURE).ModuleValidator
    bad = _offending_layers(model, validator)
    if not bad:
        return model, optimizer
    if not fix_model or not model.training:
        hint = (
            "pass fix_model=True to replace BatchNorm with GroupNorm (ModuleValidator.fix)"
            if model.training
            else "call model.train() first"
        )
        raise ParameterError(
            "the model has layers DP-SGD cannot train: " + "; ".join(bad) + f"; {hint}"
        )
    fixed = validator.fix(model)
    still = _offending_layers(fixed, validator)
    if still:
        raise ParameterError(
            "ModuleValidator.fix could not make the model trainable with DP-SGD: "
            + "; ".join(still)
        )
    return fixed, _rebuild_optimizer(optimizer, model, fixed)


def _loss_reduction(criterion: Any) -> str:
    reduction = getattr(criterion, "reduction", "mean") if criterion is not None else "mean"
    if reduction not in ("mean", "sum"):
        raise ParameterError(
            f"the criterion's reduction must be 'mean' or 'sum', got {reduction!r}"
        )
    return str(reduction)


def _secure_generator_check(secure_mode: bool) -> None:
    if secure_mode:
        if optional_import("torchcsprng") is None:
            raise BackendUnavailableError(
                "secure_mode=True needs torchcsprng (cryptographic noise and sampling for "
                "Opacus), which is not installed; install it (pip install torchcsprng, a "
                "build matching your torch) or train with secure_mode=False for research"
            )
        return
    warnings.warn(
        "secure_mode=False: DP noise and Poisson sampling use torch's non-cryptographic "
        "PRNG; fine for research, not for deployment (train with secure_mode=True, "
        "which needs torchcsprng)",
        InsecureNoiseWarning,
        stacklevel=3,
    )


def _physical_loader(loader: Any, max_batch: int, optimizer: Any) -> Any:
    """``loader`` split into physical batches of at most ``max_batch`` (Opacus sampler)."""
    bmm = require("opacus.utils.batch_memory_manager", feature=_FEATURE)
    # BatchMemoryManager.__enter__ is exactly this call and its __exit__ does nothing,
    # so the split loader can be handed out directly
    return bmm.wrap_data_loader(data_loader=loader, max_batch_size=max_batch, optimizer=optimizer)


def make_private(
    model: Any,
    optimizer: Any,
    data_loader: Any,
    *,
    criterion: Any = None,
    target_epsilon: float | None = None,
    noise_multiplier: float | None = None,
    target_delta: float = 1e-5,
    epochs: int | None = None,
    max_grad_norm: float = 1.0,
    accountant: str = "prv",
    clipping: str = "auto",
    poisson_sampling: bool = True,
    max_physical_batch_size: int | None = None,
    secure_mode: bool = False,
    fix_model: bool = False,
    max_epsilon: float | None = None,
) -> PrivateTraining:
    """Make a model, optimizer and loader differentially private (DP-SGD over Opacus).

    Args:
        model: the ``torch.nn.Module`` to train, in training mode.
        optimizer: a ``torch.optim.Optimizer`` over (a subset of) ``model``'s parameters.
        data_loader: a ``torch.utils.data.DataLoader`` with a fixed ``batch_size``; its
            number of batches ``N`` gives the sampling rate ``1 / N`` and, with Poisson
            sampling, the expected logical batch size.
        criterion: the loss module (``reduction`` "mean" or "sum"). Needed for ghost
            clipping, which ``clipping="auto"`` prefers when it can.
        target_epsilon: calibrate the noise so that ``epochs`` epochs spend this epsilon
            at ``target_delta`` (exclusive with ``noise_multiplier``).
        noise_multiplier: noise standard deviation / ``max_grad_norm`` (> 0).
        target_delta: delta of the guarantee, in (0, 1); default 1e-5 (choose it below
            1 / dataset size).
        epochs: planned epochs; required with ``target_epsilon``.
        max_grad_norm: per-sample L2 clipping bound (> 0).
        accountant: ``"prv"`` (tight, default), ``"rdp"`` (classic upper bound) or
            ``"gdp"`` (CLT approximation, not a bound); privkit's accountant of that kind.
        clipping: ``"auto"`` (see :func:`select_mode`) or an Opacus mode: ``"hooks"``,
            ``"functorch"``, ``"ew"``, ``"ghost"`` (needs ``criterion``).
        poisson_sampling: Poisson-sample batches (Opacus ``DPDataLoader``), which the
            accounting assumes; False keeps the loader's own batches (approximation).
        max_physical_batch_size: split each logical batch into physical batches of at
            most this many examples (memory bound); steps and accounting stay logical.
        secure_mode: cryptographic noise and sampling (needs ``torchcsprng``); when
            False one :class:`InsecureNoiseWarning` is emitted.
        fix_model: replace unsupported layers with Opacus's fixes (BatchNorm ->
            GroupNorm) on a copy of the model, and rebuild the optimizer (same class
            and param-group hyper-parameters) over the copy's parameters; refused when
            the optimizer already has state.
        max_epsilon: budget at ``target_delta``: the optimizer step that would exceed
            it raises :class:`~privkit.errors.PrivacyBudgetExceededError` and changes
            nothing.

    Returns:
        :class:`PrivateTraining` ``(model, optimizer, data_loader, criterion, privacy)``.

    Raises:
        ParameterError: bad or inconsistent arguments (both or neither of
            ``target_epsilon`` / ``noise_multiplier``, ``epochs`` missing, unknown
            ``accountant`` or ``clipping``, ghost without a criterion, unsupported
            layers without ``fix_model``, optimizer parameters not in the model, an
            unreachable ``target_epsilon``...).
        BackendUnavailableError: torch / opacus (``privkit[torch]``) or, with
            ``secure_mode=True``, torchcsprng is not installed.

    Security assumption: see the module docstring; the guarantee holds for training
    through the returned objects only, one example = one record of the dataset.
    """
    torch = require("torch", feature=_FEATURE)
    opacus = require("opacus", feature=_FEATURE)
    from privkit.dp.accounting import calibrate_noise, make_accountant

    # ------------------------------------------------------------ argument checks
    if not isinstance(model, torch.nn.Module):
        raise ParameterError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, opacus.grad_sample.AbstractGradSampleModule):
        raise ParameterError("model is already wrapped by Opacus; pass the plain nn.Module")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ParameterError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if isinstance(optimizer, opacus.optimizers.DPOptimizer):
        raise ParameterError("optimizer is already a DPOptimizer; pass the plain optimizer")
    if not isinstance(data_loader, torch.utils.data.DataLoader):
        raise ParameterError(
            f"data_loader must be a torch.utils.data.DataLoader, got {type(data_loader).__name__}"
        )
    if (target_epsilon is None) == (noise_multiplier is None):
        raise ParameterError(
            "give exactly one of target_epsilon= (noise calibrated to it, needs epochs=) "
            "or noise_multiplier="
        )
    if not _is_real(target_delta) or not 0.0 < float(target_delta) < 1.0:
        raise ParameterError(f"target_delta must be in (0, 1), got {target_delta!r}")
    delta = float(target_delta)
    grad_norm = _positive_finite("max_grad_norm", max_grad_norm)
    if accountant not in ACCOUNTANTS:
        raise ParameterError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if clipping not in CLIPPING_MODES:
        raise ParameterError(f"clipping must be one of {CLIPPING_MODES}, got {clipping!r}")
    n_epochs = None if epochs is None else _positive_int("epochs", epochs)
    physical = (
        None
        if max_physical_batch_size is None
        else _positive_int("max_physical_batch_size", max_physical_batch_size)
    )
    budget = None if max_epsilon is None else _positive_finite("max_epsilon", max_epsilon)
    for flag, value in (
        ("poisson_sampling", poisson_sampling),
        ("secure_mode", secure_mode),
        ("fix_model", fix_model),
    ):
        if not isinstance(value, bool):
            raise ParameterError(f"{flag} must be True or False, got {value!r}")
    if criterion is not None and not callable(criterion):
        raise ParameterError("criterion must be a callable loss module (or None)")
    reduction = _loss_reduction(criterion)
    try:
        n_batches = len(data_loader)
    except TypeError as exc:
        raise ParameterError("data_loader must have a length (a map-style dataset)") from exc
    if n_batches < 1:
        raise ParameterError("data_loader yields no batch (empty dataset?)")
    sample_rate = 1.0 / n_batches
    planned = 0 if n_epochs is None else n_epochs * n_batches
    eps, sigma = 0.0, 0.0
    if target_epsilon is not None:
        eps = _positive_finite("target_epsilon", target_epsilon)
        if n_epochs is None:
            raise ParameterError(
                "target_epsilon needs epochs= (the number of epochs the noise is calibrated for)"
            )
    else:
        sigma = _positive_finite("noise_multiplier", noise_multiplier)
    owned = {id(p) for p in model.parameters()}
    if any(id(p) not in owned for g in optimizer.param_groups for p in g["params"]):
        raise ParameterError("the optimizer has parameters that are not the model's")

    # ------------------------------------------------------------ model, mode, noise
    model, optimizer = _validate_model(model, optimizer, fix_model=fix_model)
    choice = select_mode(model, criterion=criterion, clipping=clipping)
    _check_inplace(model, mode=choice.mode, fix_model=fix_model)
    _secure_generator_check(secure_mode)
    if target_epsilon is not None:
        # epsilon spent by the planned run: the calibration keeps it <= target_epsilon
        sigma = float(
            calibrate_noise(
                target_epsilon=eps,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=planned,
                accountant=accountant,
            )
        )

    with warnings.catch_warnings():
        # Opacus warns about secure_mode=False itself; privkit's one warning is above
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        engine = opacus.PrivacyEngine(accountant=accountant, secure_mode=secure_mode)
    kwargs: dict[str, Any] = {}
    if choice.opacus_mode == "ghost":
        kwargs["criterion"] = criterion
    try:
        wrapped = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=data_loader,
            noise_multiplier=sigma,
            max_grad_norm=grad_norm,
            poisson_sampling=poisson_sampling,
            loss_reduction=reduction,
            grad_sample_mode=choice.opacus_mode,
            **kwargs,
        )
    except (NotImplementedError, ValueError) as exc:  # e.g. a mode that cannot run
        raise ParameterError(
            f"Opacus cannot set up grad_sample_mode={choice.mode!r} for this model/loader: {exc}"
        ) from exc
    if choice.mode == "single-pass":
        private_model, private_opt, private_criterion, loader = wrapped
        from privkit.dp import ghost

        # Opacus's loader and DP optimizer (noise, scaling, step hooks) stay; the two
        # backward passes of its ghost mode become one (GhostClipper)
        private_model, private_criterion, _ = ghost.single_pass_from_opacus(
            private_model, private_opt, private_criterion
        )
    elif choice.mode == "ghost":
        private_model, private_opt, private_criterion, loader = wrapped
        from privkit.dp import ghost

        ghost.attach_conv_norm_samplers(private_model)
    else:
        private_model, private_opt, loader = wrapped
        private_criterion = criterion

    handle = PrivacyHandle(
        accountant=make_accountant(accountant, target_delta=delta, max_epsilon=budget),
        noise_multiplier=sigma,
        sample_rate=sample_rate,
        max_grad_norm=grad_norm,
        delta=delta,
        max_epsilon=budget,
        mode=choice,
        secure_mode=secure_mode,
        max_physical_batch_size=physical,
        planned_steps=planned or None,
    )
    # privkit's accountant replaces Opacus's (attach_step_hook keeps one hook)
    private_opt.attach_step_hook(handle._on_step)
    if budget is not None:
        handle._guard(private_opt)
    if physical is not None:
        loader = _physical_loader(loader, physical, private_opt)
    return PrivateTraining(private_model, private_opt, loader, private_criterion, handle)
