"""Ghost norms for convolutions: per-sample gradient norms of Conv layers, no per-sample grads.

Opacus's ghost-clipping mode (``grad_sample_mode="ghost"``) runs two backward passes: the
first only to get each sample's gradient norm, the second on the loss reweighted by the
clipping factors, which yields the clipped, summed gradient directly.  Its first pass
needs a *norm sampler* per layer type; Opacus 1.6 ships them for ``nn.Linear`` and
``nn.Embedding`` only and, for every other layer, computes and stores the full per-sample
gradient (``n`` copies of the weights) just to take its norm.  For a CNN this fallback
costs as much as the non-ghost modes.  This module adds norm samplers for ``nn.Conv1d``
and ``nn.Conv2d`` (any stride, padding, padding mode, dilation, groups, bias) that pick,
per layer and call, the cheaper of the direct method and the Gram-matrix "ghost" identity
(mixed ghost clipping, Bu et al. 2022); see :mod:`privkit.dp._conv_norms` for the maths.

How to use it (the scoped way, preferred)::

    module, optimizer, criterion, loader = PrivacyEngine().make_private(
        ..., grad_sample_mode="ghost", criterion=criterion)
    attach_conv_norm_samplers(module)   # before the first backward

:func:`attach_conv_norm_samplers` sets the registry on that one Opacus object (a
``GradSampleModuleFastGradientClipping`` or, with ``wrap_model=False``, a
``GradSampleHooksFastGradientClipping``) as an instance attribute that shadows Opacus's
class-level ``NORM_SAMPLERS``; nothing global changes.  A subclass of Opacus's module is
not used because ``PrivacyEngine.make_private`` rejects pre-wrapped modules whose type is
not exactly Opacus's class.

:func:`install_conv_norm_samplers` is the global alternative: it adds the same samplers to
Opacus's process-wide registry (``GradSampleHooksFastGradientClipping.NORM_SAMPLERS``, the
dict that ``opacus.grad_sample.register_norm_sampler`` writes), so every ghost-mode module
of the process uses them from its next backward on (Opacus looks the registry up at each
backward).  It is idempotent.

:class:`GhostClipper` is the fastest path, independent of Opacus's grad-sample modules: the
same per-sample norms, but ghost clipping in **one** backward pass instead of Opacus's two
(the clipped sum is each layer's weight gradient for the output gradient rescaled by the
clipping factors).  It supports models whose trainable layers are all ``nn.Linear``,
``nn.Conv1d`` or ``nn.Conv2d`` (:func:`supports_single_pass`) and pairs with Opacus's
``DPOptimizerFastGradientClipping`` for the noise; see its docstring for the usage.
:func:`single_pass_from_opacus` converts what ``PrivacyEngine.make_private(...,
grad_sample_mode="ghost")`` returned (keeping its Poisson loader, optimizer and
accounting hooks) to this single-pass path.

:func:`supports_ghost` says whether ghost mode would handle every trainable layer of a
model without per-sample gradients; :func:`unsupported_layers` names the ones it would not.

Security assumption: the norms computed here equal the norms of the true per-sample
gradients (tests compare them with an explicit per-sample reference); the clipping, and
so the DP guarantee, relies on that.  Norms are data-dependent and are never logged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from privkit._backends import require
from privkit.errors import ParameterError, ProtocolError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "ClippedLoss",
    "GhostClipper",
    "NormSampler",
    "attach_conv_norm_samplers",
    "install_conv_norm_samplers",
    "norm_samplers",
    "single_pass_from_opacus",
    "supports_ghost",
    "supports_single_pass",
    "unsupported_layers",
]

NormSampler = Callable[..., "dict[torch.Tensor, torch.Tensor]"]
"""Opacus's norm-sampler signature: ``(layer, activations, backprops) -> {param: norms}``."""

_FEATURE = "ghost clipping for convolutions"


def _privkit_samplers() -> dict[type, NormSampler]:
    """The samplers privkit adds (imports torch; raises BackendUnavailableError without it)."""
    require("torch", feature=_FEATURE)
    nn_mod = require("torch.nn", feature=_FEATURE)
    from privkit.dp._conv_norms import conv_norm_sample

    return {nn_mod.Conv1d: conv_norm_sample, nn_mod.Conv2d: conv_norm_sample}


def _opacus_registry() -> dict[type, NormSampler]:
    """Opacus's class-level norm-sampler registry (importing opacus fills it)."""
    gs = require("opacus.grad_sample", feature=_FEATURE)
    registry: dict[type, NormSampler] = gs.GradSampleHooksFastGradientClipping.NORM_SAMPLERS
    return registry


def norm_samplers() -> dict[type, NormSampler]:
    """All norm samplers ghost mode can use with privkit: Opacus's plus privkit's.

    Returns:
        A fresh dict ``{layer type: norm sampler}``; privkit's entries (``nn.Conv1d``,
        ``nn.Conv2d``) take precedence.  Mutating it changes nothing elsewhere.

    Raises:
        BackendUnavailableError: torch or opacus is not installed.
    """
    return {**_opacus_registry(), **_privkit_samplers()}


def install_conv_norm_samplers() -> None:
    """Register privkit's Conv1d/Conv2d norm samplers in Opacus's *global* registry.

    Process-wide and idempotent: afterwards every Opacus ghost-clipping module (created
    before or after the call, since Opacus looks the registry up at each backward) uses
    privkit's samplers for ``nn.Conv1d`` and ``nn.Conv2d``.  Prefer the scoped
    :func:`attach_conv_norm_samplers` when other code in the process uses Opacus.

    Raises:
        BackendUnavailableError: torch or opacus is not installed.
    """
    _opacus_registry().update(_privkit_samplers())


def attach_conv_norm_samplers(module: Any) -> Any:
    """Make one Opacus ghost-clipping object use privkit's Conv norm samplers.

    Args:
        module: a ``GradSampleModuleFastGradientClipping`` (what
            ``PrivacyEngine.make_private(grad_sample_mode="ghost")`` returns) or a
            ``GradSampleHooksFastGradientClipping`` (``wrap_model=False``).  Call it before
            the first backward pass.

    Returns:
        ``module`` itself, for chaining.

    Raises:
        ParameterError: ``module`` is not an Opacus fast-gradient-clipping object, or it
            runs in fast-gradient (non-ghost) mode, where norm samplers are not used.
        BackendUnavailableError: torch or opacus is not installed.
    """
    gs = require("opacus.grad_sample", feature=_FEATURE)
    if not isinstance(module, gs.GradSampleHooksFastGradientClipping):
        raise ParameterError(
            "attach_conv_norm_samplers needs an Opacus ghost-clipping module "
            f"(GradSampleModuleFastGradientClipping), got {type(module).__name__}"
        )
    if not module.use_ghost_clipping:
        raise ParameterError("the module runs fast gradient clipping without ghost clipping")
    # an instance attribute shadows the class-level registry that Opacus reads through
    # ``self.NORM_SAMPLERS``; object.__setattr__ bypasses nn.Module's attribute routing
    object.__setattr__(module, "NORM_SAMPLERS", norm_samplers())
    return module


def _trainable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that own a trainable parameter directly (what Opacus hooks)."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if any(p.requires_grad for p in m.parameters(recurse=False))
    ]


def unsupported_layers(model: nn.Module) -> list[str]:
    """Names (``"name (Type)"``) of trainable layers ghost mode would not norm directly.

    Args:
        model: an ``nn.Module`` (or an Opacus wrapper around one).

    Returns:
        The layers with trainable parameters whose exact type (Opacus matches types
        exactly, not subclasses) has no norm sampler in Opacus or privkit; for them
        ghost mode falls back to materialising per-sample gradients.  Empty when
        :func:`supports_ghost` is true.

    Raises:
        ParameterError: ``model`` is not an ``nn.Module``.
        BackendUnavailableError: torch or opacus is not installed.
    """
    nn_mod = require("torch.nn", feature=_FEATURE)
    if not isinstance(model, nn_mod.Module):
        raise ParameterError(f"expected a torch.nn.Module, got {type(model).__name__}")
    samplers = norm_samplers()
    return [
        f"{name or '<root>'} ({type(m).__name__})"
        for name, m in _trainable_layers(model)
        if type(m) not in samplers
    ]


def supports_ghost(module: nn.Module) -> bool:
    """Whether every trainable layer has a fast norm path (no per-sample gradients).

    Args:
        module: an ``nn.Module``.

    Returns:
        ``True`` iff each module owning a trainable parameter is exactly one of the types
        with a norm sampler (Opacus's ``nn.Linear``/``nn.Embedding`` and other registered
        ones, plus privkit's ``nn.Conv1d``/``nn.Conv2d``).  Vacuously ``True`` for a model
        with no trainable parameter.

    Raises:
        ParameterError: ``module`` is not an ``nn.Module``.
        BackendUnavailableError: torch or opacus is not installed.
    """
    return not unsupported_layers(module)


# ---------------------------------------------------------------------------------------
# Ghost clipping in a single backward pass ("book-keeping", Bu et al. 2023)


def _single_pass_types() -> tuple[type, ...]:
    nn_mod = require("torch.nn", feature=_FEATURE)
    return (nn_mod.Linear, nn_mod.Conv1d, nn_mod.Conv2d)


def supports_single_pass(module: nn.Module) -> bool:
    """Whether :class:`GhostClipper` can train ``module``.

    Args:
        module: an ``nn.Module``.

    Returns:
        ``True`` iff every module owning a trainable parameter is exactly an
        ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d`` (no subclasses: their forward may
        differ).

    Raises:
        ParameterError: ``module`` is not an ``nn.Module``.
        BackendUnavailableError: torch is not installed.
    """
    nn_mod = require("torch.nn", feature=_FEATURE)
    if not isinstance(module, nn_mod.Module):
        raise ParameterError(f"expected a torch.nn.Module, got {type(module).__name__}")
    types = _single_pass_types()
    return all(type(m) in types for _, m in _trainable_layers(module))


class GhostClipper:
    """Per-sample clipping with ghost norms and **one** backward pass, no per-sample grads.

    Opacus's ghost mode backpropagates twice: once for the norms, once more for the
    clipped sum.  The second pass is not needed (the "book-keeping" trick of Bu et al.
    2023, "Differentially private optimization on large model at small cost"): the
    forward hooks keep each layer's input ``x`` and output, a single
    ``torch.autograd.grad`` call gives the gradient ``g`` w.r.t. every layer output
    (autograd skips the weight gradients nobody asked for), the per-sample norms come
    from ``(x, g)`` as in :mod:`privkit.dp._conv_norms`, and the clipped sum of layer
    ``l`` is its ordinary weight gradient for the rescaled output gradient
    ``c_i g_i``: ``sum_i c_i grad_i``, with ``c_i = min(1, C / (||grad_i|| + 1e-6))``
    exactly as Opacus computes it.

    Usage (it replaces Opacus's ``GradSampleModuleFastGradientClipping`` and
    ``DPLossFastGradientClipping``; the optimizer stays Opacus's
    ``DPOptimizerFastGradientClipping``, which adds the noise and scales)::

        clipper = GhostClipper(model, max_grad_norm=1.0)          # the plain model
        optimizer = DPOptimizerFastGradientClipping(opt, noise_multiplier=...,
            max_grad_norm=1.0, expected_batch_size=..., loss_reduction="mean")
        criterion = clipper.wrap_criterion(nn.CrossEntropyLoss())
        loss = criterion(model(x), y)   # one forward per backward
        loss.backward()                 # sets p.grad = sum_i c_i grad_i
        optimizer.step()

    Every trainable layer must be exactly ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``
    (:func:`supports_single_pass`); layers without parameters (activations, pooling,
    dropout, reshapes) are free.  Each layer may run once per forward (no parameter
    tying), layer outputs must not be modified in place (``ReLU(inplace=True)`` is
    refused at backward), and each forward is followed by at most one backward: the
    records of a forward are dropped when the next one starts.

    After :meth:`backward`, ``p.grad`` of every trainable parameter is *set* (not
    accumulated) to the clipped sum, as after Opacus's ghost backward.

    Security assumption: the privacy guarantee rests on the clipped sum having
    L2-sensitivity ``max_grad_norm`` per sample; the tests compare it with an explicit
    per-sample reference.  :attr:`per_sample_norms` is raw, data-dependent, for
    debugging only, never to be released.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        max_grad_norm: float,
        loss_reduction: str = "mean",
        max_kept_elements: int = 1 << 22,
    ) -> None:
        """Attach forward hooks to the trainable layers of ``model``.

        Args:
            model: the plain ``nn.Module`` (not an Opacus wrapper).
            max_grad_norm: clipping bound ``C`` > 0, finite.
            loss_reduction: ``"mean"`` or ``"sum"``: only how :class:`ClippedLoss`
                reports the loss; the gradient is always the clipped *sum* (the Opacus
                optimizer divides by the expected batch size for ``"mean"``).
            max_kept_elements: per backward, how many per-sample gradient elements (over
                all layers) may be kept between the norm and the sum phase when a layer's
                norms were cheapest to compute directly; beyond it they are dropped at
                once and the clipped sum is recomputed with one weight-gradient kernel.
                Default 2**22 (16 MiB of float32); 0 never keeps any.

        Raises:
            ParameterError: bad ``max_grad_norm``, ``loss_reduction`` or
                ``max_kept_elements``; ``model`` is not a module or has a trainable layer
                :func:`supports_single_pass` rejects.
            BackendUnavailableError: torch is not installed.
        """
        self._torch = require("torch", feature=_FEATURE)
        if isinstance(max_grad_norm, bool) or not isinstance(max_grad_norm, int | float):
            raise ParameterError("max_grad_norm must be a number")
        if not (math.isfinite(max_grad_norm) and max_grad_norm > 0):
            raise ParameterError("max_grad_norm must be finite and > 0")
        if loss_reduction not in ("mean", "sum"):
            raise ParameterError('loss_reduction must be "mean" or "sum"')
        if isinstance(max_kept_elements, bool) or not isinstance(max_kept_elements, int):
            raise ParameterError("max_kept_elements must be an int")
        if max_kept_elements < 0:
            raise ParameterError("max_kept_elements must be >= 0")
        self.max_kept_elements = max_kept_elements
        if not supports_single_pass(model):
            bad = [
                f"{name or '<root>'} ({type(m).__name__})"
                for name, m in _trainable_layers(model)
                if type(m) not in _single_pass_types()
            ]
            raise ParameterError(
                "single-pass ghost clipping supports trainable nn.Linear, nn.Conv1d and "
                f"nn.Conv2d layers only; unsupported: {', '.join(bad)}"
            )
        self.max_grad_norm = float(max_grad_norm)
        self.loss_reduction = loss_reduction
        self._model = model
        self._layers = [m for _, m in _trainable_layers(model)]
        self._records: list[tuple[nn.Module, torch.Tensor, torch.Tensor, int]] = []
        self._per_sample_norms: torch.Tensor | None = None
        self._handles = [model.register_forward_pre_hook(self._start)]
        self._handles += [m.register_forward_hook(self._record) for m in self._layers]

    def _start(self, module: nn.Module, inputs: Any) -> None:
        # a new forward of the whole model: the previous one's records are stale
        del module, inputs
        self._records = []

    def _record(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if not (self._torch.is_grad_enabled() and module.training):
            return
        # the version counter tells if an in-place op (ReLU(inplace=True)) later rewrote
        # the output, which would silently make autograd return the wrong gradient
        self._records.append((module, inputs[0].detach(), output, output._version))

    @property
    def per_sample_norms(self) -> torch.Tensor:
        """Per-sample gradient norms of the last backward (raw: debugging only).

        Raises:
            ProtocolError: no backward has run yet.
        """
        if self._per_sample_norms is None:
            raise ProtocolError("no backward pass has run yet")
        return self._per_sample_norms

    def backward(self, loss_per_sample: torch.Tensor) -> None:
        """Set ``p.grad`` to the clipped sum of per-sample gradients of the last forward.

        Args:
            loss_per_sample: ``(n,)`` unreduced losses of the last forward's batch.

        Raises:
            ParameterError: ``loss_per_sample`` is not 1-D or its length is not the batch
                size seen by the layers.
            ProtocolError: no forward (in training mode, with grad enabled) preceded it,
                a layer ran twice in that forward (parameter tying), or a layer output
                was modified in place afterwards.
        """
        torch = self._torch
        records, self._records = self._records, []
        if loss_per_sample.dim() != 1:
            raise ParameterError("loss_per_sample must be a 1-D tensor (one loss per sample)")
        n = loss_per_sample.shape[0]
        if len({id(r[0]) for r in records}) != len(records):
            raise ProtocolError("a layer ran twice in one forward (parameter tying)")
        if any(r[2]._version != r[3] for r in records):
            raise ProtocolError(
                "a layer's output was modified in place (e.g. ReLU(inplace=True)); "
                "use out-of-place operations after Linear/Conv layers"
            )
        if any(r[1].shape[0] != n for r in records):
            raise ParameterError("loss_per_sample length differs from the batch size")
        if not records and n > 0:
            raise ProtocolError("backward without a preceding training forward")
        outputs = [r[2] for r in records]
        grads = (
            torch.autograd.grad(loss_per_sample.sum(), outputs, allow_unused=True)
            if n > 0
            else [None] * len(outputs)
        )
        from privkit.dp._conv_norms import layer_norm_terms, weighted_grads

        dtype = loss_per_sample.dtype
        sq = torch.zeros(n, dtype=dtype, device=loss_per_sample.device)
        budget = self.max_kept_elements
        pending = []
        for (module, x, out, _), g in zip(records, grads, strict=True):
            g = torch.zeros_like(out) if g is None else g.detach()
            layer_sq, kept = layer_norm_terms(module, x, g, keep_limit=budget)
            if kept is not None:
                budget -= sum(t.numel() for t in kept.values())
            pending.append((module, x, g, kept))
            sq = sq + layer_sq.to(dtype)
        norms = sq.sqrt()
        self._per_sample_norms = norms
        # Opacus's factor, bit for bit: min(1, C / (norm + 1e-6))
        coef = (self.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        seen: set[int] = set()
        for module, x, g, kept in pending:
            if kept is not None:
                # per-sample gradients formed for the norms: the clipped sum is a weighted
                # reduction of them, cheaper than another weight-gradient kernel
                summed = {p: torch.tensordot(coef.to(t.dtype), t, dims=1) for p, t in kept.items()}
            else:
                scaled = g * coef.to(g.dtype).reshape(n, *([1] * (g.dim() - 1)))
                summed = weighted_grads(module, x, scaled)
            for param, grad in summed.items():
                param.grad = grad.reshape(param.shape).to(param.dtype)
                seen.add(id(param))
        del pending
        for module in self._layers:
            for param in module.parameters(recurse=False):
                if param.requires_grad and id(param) not in seen:
                    # a layer the forward skipped (or an empty batch) contributes zero
                    param.grad = torch.zeros_like(param)

    def wrap_criterion(self, criterion: Callable[..., Any]) -> Callable[..., ClippedLoss]:
        """Wrap a loss module so that ``criterion(out, y).backward()`` clips.

        Args:
            criterion: a torch loss with a ``reduction`` attribute (``nn.CrossEntropyLoss``
                and the like); it is called with ``reduction="none"``.

        Returns:
            A callable with the criterion's arguments returning a :class:`ClippedLoss`.

        Raises:
            ParameterError: ``criterion`` has no ``reduction`` attribute.
        """
        if not hasattr(criterion, "reduction"):
            raise ParameterError("criterion needs a 'reduction' attribute (a torch loss)")

        def call(*args: Any, **kwargs: Any) -> ClippedLoss:
            old = criterion.reduction
            criterion.reduction = "none"
            try:
                per_sample = criterion(*args, **kwargs)
            finally:
                criterion.reduction = old
            return ClippedLoss(self, per_sample)

        return call

    def remove(self) -> None:
        """Detach the hooks; the model trains normally again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._records = []

    def __repr__(self) -> str:
        return (
            f"GhostClipper(layers={len(self._layers)}, max_grad_norm={self.max_grad_norm}, "
            f"loss_reduction={self.loss_reduction!r})"
        )


class ClippedLoss:
    """Per-sample losses whose :meth:`backward` runs :meth:`GhostClipper.backward`.

    ``item()`` / ``detach()`` report the reduced loss (mean or sum, as the clipper says).
    """

    def __init__(self, clipper: GhostClipper, loss_per_sample: torch.Tensor) -> None:
        """Args: clipper: the owner; loss_per_sample: ``(n,)`` losses."""
        self.clipper = clipper
        self.loss_per_sample = loss_per_sample

    def detach(self) -> torch.Tensor:
        """The reduced loss, detached."""
        per = self.loss_per_sample.detach()
        return per.mean() if self.clipper.loss_reduction == "mean" else per.sum()

    def item(self) -> float:
        """The reduced loss as a float."""
        return float(self.detach().item())

    def backward(self) -> None:
        """Clip and sum the per-sample gradients into ``p.grad`` (see GhostClipper)."""
        self.clipper.backward(self.loss_per_sample)

    def __repr__(self) -> str:
        return f"ClippedLoss(n={self.loss_per_sample.shape[0]})"


def single_pass_from_opacus(
    module: Any, optimizer: Any, criterion: Any
) -> tuple[nn.Module, Callable[..., ClippedLoss], GhostClipper]:
    """Switch an Opacus ghost-mode setup to single-pass :class:`GhostClipper`.

    Typical use, right after ``PrivacyEngine.make_private(..., grad_sample_mode="ghost",
    criterion=loss)`` returned ``(module, optimizer, criterion, loader)``::

        model, criterion, clipper = single_pass_from_opacus(module, optimizer, criterion)

    The loader, the optimizer (``DPOptimizerFastGradientClipping``: noise, scaling,
    step hooks, accounting) stay as Opacus made them; Opacus's hooks are removed from
    the model (``to_standard_module``) and the criterion is re-wrapped so that
    ``criterion(model(x), y).backward()`` runs one backward pass.

    Args:
        module: the ``GradSampleModuleFastGradientClipping`` Opacus returned.
        optimizer: the ``DPOptimizerFastGradientClipping`` Opacus returned (its
            ``max_grad_norm`` and ``loss_reduction`` are used).
        criterion: the loss Opacus returned (``DPLossFastGradientClipping``) or the
            original loss module.

    Returns:
        ``(plain model, wrapped criterion, clipper)``; train the plain model.

    Raises:
        ParameterError: wrong Opacus objects, or a model :func:`supports_single_pass`
            rejects (then the Opacus setup is left intact).
        BackendUnavailableError: torch or opacus is not installed.
    """
    gs = require("opacus.grad_sample", feature=_FEATURE)
    optimizers = require("opacus.optimizers", feature=_FEATURE)
    fgc = require("opacus.utils.fast_gradient_clipping_utils", feature=_FEATURE)
    if not isinstance(module, gs.GradSampleModuleFastGradientClipping):
        raise ParameterError(
            "expected the GradSampleModuleFastGradientClipping of Opacus's ghost mode, got "
            f"{type(module).__name__}"
        )
    if not isinstance(optimizer, optimizers.DPOptimizerFastGradientClipping):
        raise ParameterError(
            f"expected Opacus's DPOptimizerFastGradientClipping, got {type(optimizer).__name__}"
        )
    loss = (
        criterion.criterion if isinstance(criterion, fgc.DPLossFastGradientClipping) else criterion
    )
    plain = module._module
    if not supports_single_pass(plain):
        raise ParameterError(
            "single-pass ghost clipping supports trainable nn.Linear, nn.Conv1d and "
            "nn.Conv2d layers only"
        )
    reduction = optimizer.loss_reduction
    clipper = GhostClipper(
        plain, max_grad_norm=float(optimizer.max_grad_norm), loss_reduction=reduction
    )
    model: nn.Module = module.to_standard_module()
    return model, clipper.wrap_criterion(loss), clipper
