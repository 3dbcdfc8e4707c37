"""Per-sample gradient norms of ``nn.Conv1d`` / ``nn.Conv2d`` without per-sample gradients.

Private helper of :mod:`privkit.dp.ghost`; it imports torch at module level, so only
import it after ``privkit._backends.require("torch", ...)`` succeeded.

For sample ``i`` let ``A_i`` (``D x T``) be the unfolded input of the convolution
(``D = C_in/groups * prod(kernel)`` rows, one column per output position ``t``) and
``G_i`` (``C_out x T``) the gradient of the loss with respect to the output.  The
per-sample weight gradient is ``G_i A_i^T`` and its squared Frobenius norm can be had in
two ways (mixed ghost clipping, Bu et al. 2022, "Scalable and efficient training of large
convolutional neural networks with differential privacy"):

* *direct*: form ``G_i A_i^T`` (``C_out x D``) for the whole batch with one batched
  matrix product, take the sum of squares and drop it at once (cost ``n C_out D T``,
  memory ``n C_out D``);
* *ghost*: ``||G_i A_i^T||_F^2 = <A_i^T A_i, G_i^T G_i>_F`` with two ``T x T`` Gram
  matrices (cost ``n T^2 (D + C_out)``, memory ``n T^2``).

Each layer picks the cheaper one from those flop counts, per call (the spatial size
``T`` is only known at run time).  The bias gradient of sample ``i`` is ``G_i 1`` (the sum
over positions), whose norm is cheap either way.

Grouped convolutions split ``A_i`` and ``G_i`` into ``groups`` diagonal blocks, and the
squared norm is the sum of the blocks' squared norms.

How each is computed on CPU (choices made by profiling the MNIST CNN of the ``dp``
benchmark, batch 256, one thread):

* direct: the convolution's weight-gradient kernel with the batch folded into groups
  (:func:`conv_per_sample_weight_grads`) or, when each group has one input channel (a
  first layer on grey images, depthwise layers), a forward convolution with the roles
  of input and output gradient swapped, 1.3-1.7x faster;
* ghost: when the kernel is a whole number of strides (and ``groups == 1``, no
  dilation), the Gram matrix ``A_i^T A_i`` is assembled from shifted windows of a
  smaller Gram matrix of the "space-to-depth" rearranged input
  (:func:`conv_ghost_sq_norms`), about half the flops and a third of the copying of the
  unfolded form; otherwise from :func:`patch_rows` / :func:`unfold_input`.

Security assumption: none of its own.  The norms are computed from the batch and are
as sensitive as the per-sample gradients; they only ever feed the clipping factors and
must not be logged or released.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "conv_ghost_sq_norms",
    "conv_norm_sample",
    "conv_per_sample_weight_grads",
    "conv_weight_norm_terms",
    "conv_weight_sq_norms",
    "layer_norm_terms",
    "patch_rows",
    "unfold_input",
    "use_ghost_identity",
    "weighted_grads",
]


def _pads(
    padding: str | tuple[int, ...], kernel: tuple[int, ...], dilation: tuple[int, ...]
) -> list[tuple[int, int]]:
    """(left, right) padding of each spatial dimension, as torch's convolution applies it."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0) for _ in kernel]
        # "same": torch puts the odd pixel on the right (see torch.nn.modules.conv._ConvNd)
        out = []
        for k, d in zip(kernel, dilation, strict=True):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return out
    return [(p, p) for p in padding]


def _pad_input(
    layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, *, allow_symmetric: bool
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad ``x`` as ``layer`` does; return it with the zero padding still to apply.

    With ``allow_symmetric`` a symmetric zero padding is left to the caller (returned as
    the second item) instead of being materialised; otherwise the second item is all 0.
    """
    kernel = tuple(layer.kernel_size)
    dilation = tuple(layer.dilation)
    padding: str | tuple[int, ...] = (
        layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    )
    pads = _pads(padding, kernel, dilation)
    if not any(lo or hi for lo, hi in pads):
        return x, (0,) * len(kernel)
    if allow_symmetric and layer.padding_mode == "zeros" and all(lo == hi for lo, hi in pads):
        return x, tuple(lo for lo, _ in pads)
    # F.pad takes the last dimension first
    flat_pads: list[int] = []
    for lo, hi in reversed(pads):
        flat_pads += [lo, hi]
    mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
    return F.pad(x, flat_pads, mode=mode), (0,) * len(kernel)


def unfold_input(layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """Unfold the input of ``layer`` into patches.

    Args:
        layer: the convolution (``nn.Conv1d`` or ``nn.Conv2d``).
        x: its input, ``(n, C_in, L)`` or ``(n, C_in, H, W)``.

    Returns:
        ``(n, C_in * prod(kernel), T)``: column ``t`` holds the receptive field of output
        position ``t``, channel-major like ``layer.weight.reshape(C_out, -1)``.
    """
    kernel = tuple(layer.kernel_size)
    stride = tuple(layer.stride)
    dilation = tuple(layer.dilation)
    x, _ = _pad_input(layer, x, allow_symmetric=False)
    # Windows as strided views, then one copy by the final reshape: several times faster
    # on CPU than F.unfold (im2col), which dominated the norm computation when profiled.
    patches = x
    for dim, (k, s, d) in enumerate(zip(kernel, stride, dilation, strict=True)):
        # appends a window axis of length d*(k-1)+1 at the end; keep every d-th (dilation)
        patches = patches.unfold(2 + dim, d * (k - 1) + 1, s)
        if d > 1:
            patches = patches[..., ::d]
    # (n, C, *out_spatial, *kernel) -> (n, C, *kernel, *out_spatial) -> (n, C*K, T)
    m = len(kernel)
    order = (0, 1, *range(2 + m, 2 + 2 * m), *range(2, 2 + m))
    n, c = x.shape[0], x.shape[1]
    return patches.permute(order).reshape(n, c * math.prod(kernel), -1)


def patch_rows(layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """Unfold the input of a ``groups=1`` convolution into one row per output position.

    Args:
        layer: the convolution (``nn.Conv1d`` or ``nn.Conv2d``); its ``groups`` must be 1.
        x: its input, ``(n, C_in, L)`` or ``(n, C_in, H, W)``.

    Returns:
        ``(n, T, prod(kernel) * C_in)``: row ``t`` holds the receptive field of output
        position ``t``, kernel-offset-major and channel-minor (not the weight's order).
        Good enough for Gram matrices, whose entries do not depend on the order of a
        row's elements.

    Raises:
        ValueError: ``layer.groups != 1`` (the channel-minor order mixes the groups).
    """
    if layer.groups != 1:
        raise ValueError("patch_rows needs groups == 1")
    kernel = tuple(layer.kernel_size)
    stride = tuple(layer.stride)
    dilation = tuple(layer.dilation)
    x, _ = _pad_input(layer, x, allow_symmetric=False)
    patches = x
    for dim, (k, s, d) in enumerate(zip(kernel, stride, dilation, strict=True)):
        patches = patches.unfold(2 + dim, d * (k - 1) + 1, s)
        if d > 1:
            patches = patches[..., ::d]
    # (n, C, *out_spatial, *kernel) -> (n, *out_spatial, *kernel, C): the one copy below
    # then writes whole rows in one go (faster than the channel-major order of
    # unfold_input: 2-3x in isolation, ~10% inside a training step, profiled)
    m = len(kernel)
    order = (0, *range(2, 2 + 2 * m), 1)
    n = x.shape[0]
    positions = math.prod(patches.shape[2 : 2 + m])
    return patches.permute(order).reshape(n, positions, -1)


def use_ghost_identity(positions: int, patch: int, out_channels: int) -> bool:
    """Whether the Gram-matrix identity is cheaper than forming the per-sample gradient.

    Args:
        positions: ``T``, output positions per sample (per group).
        patch: ``D``, rows of the unfolded input per group.
        out_channels: ``C_out`` per group.

    Returns:
        ``True`` when ``T^2 (D + C_out) < T D C_out`` (flop counts of the two methods).
    """
    return positions * (patch + out_channels) < patch * out_channels


def conv_weight_sq_norms(
    a: torch.Tensor, g: torch.Tensor, groups: int, method: str | None = None
) -> torch.Tensor:
    """Squared Frobenius norms of the per-sample weight gradients ``G_i A_i^T``.

    Args:
        a: unfolded inputs ``(n, groups * D, T)``.
        g: output gradients ``(n, groups * C_out, T)``.
        groups: the convolution's ``groups``.
        method: ``"ghost"`` (Gram matrices), ``"direct"`` (batched per-sample product)
            or ``None`` to pick the cheaper by :func:`use_ghost_identity`; tests force
            each method.

    Returns:
        ``(n,)`` tensor of squared norms (non-negative).

    Raises:
        ValueError: unknown ``method``.
    """
    if method not in (None, "ghost", "direct"):
        raise ValueError(f"unknown method {method!r}")
    n, _, t = a.shape
    # (n * groups, D, T) and (n * groups, C_out, T): the blocks of each sample are
    # consecutive, so a sum over the trailing axis of a (n, groups) view adds them up
    a = a.reshape(n * groups, -1, t)
    g = g.reshape(n * groups, -1, t)
    d, c = a.shape[1], g.shape[1]
    ghost = use_ghost_identity(t, d, c) if method is None else method == "ghost"
    if ghost:
        gram_a = torch.bmm(a.transpose(1, 2), a)  # (n*groups, T, T)
        gram_g = torch.bmm(g.transpose(1, 2), g)
        sq = (gram_a * gram_g).sum(dim=(1, 2)).clamp(min=0)
    else:
        per_sample = torch.bmm(g, a.transpose(1, 2))  # (n*groups, C_out, D), freed below
        sq = per_sample.square().sum(dim=(1, 2))
        del per_sample
    return sq.reshape(n, groups).sum(dim=1)


def conv_per_sample_weight_grads(
    layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, g: torch.Tensor
) -> torch.Tensor:
    """Per-sample weight gradients ``(n, *layer.weight.shape)`` of a convolution.

    The batch is folded into the channels and made into groups, so that one call of the
    convolution's own weight-gradient kernel computes all ``n`` gradients (faster on CPU
    than unfolding the input and a batched matrix product, which it replaced after
    profiling).  With one input channel per group (``in_channels == groups``) a forward
    convolution with swapped roles does it faster still.  Used transiently: the caller
    reduces it to norms (or to the clipped sum).

    Args:
        layer: the convolution.
        x: its input ``(n, C_in, *spatial)``.
        g: gradient w.r.t. its output ``(n, C_out, *out_spatial)``.

    Returns:
        The per-sample gradients of ``layer.weight``.
    """
    if layer.in_channels == layer.groups:
        return _per_sample_grads_one_channel_per_group(layer, x, g)
    n = x.shape[0]
    weight = layer.weight
    xp, padding = _pad_input(layer, x, allow_symmetric=True)
    xs = xp.reshape(1, -1, *xp.shape[2:])
    gs = g.reshape(1, -1, *g.shape[2:])
    # only the shape of the weight matters to the weight-gradient kernel
    stacked = weight.new_empty((n * weight.shape[0], *weight.shape[1:]), dtype=g.dtype)
    _, grads, _ = torch.ops.aten.convolution_backward(
        gs,
        xs,
        stacked,
        None,
        list(layer.stride),
        list(padding),
        list(layer.dilation),
        False,
        [0] * len(layer.kernel_size),
        n * layer.groups,
        [False, True, False],
    )
    result: torch.Tensor = grads.reshape(n, *weight.shape)
    return result


def _per_sample_grads_one_channel_per_group(
    layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, g: torch.Tensor
) -> torch.Tensor:
    """:func:`conv_per_sample_weight_grads` for ``in_channels == groups`` (e.g. ``C_in=1``).

    With one input channel per group, sample ``i``'s gradient for output channel ``o``
    (group ``j``) is the correlation of input plane ``x[i, j]`` with the output gradient
    ``g[i, o]`` used as a filter: ``dW_i[o, 0, k] = sum_t g[i, o, t] xp[i, j, s t + d k]``.
    That is a *forward* convolution with the roles swapped (stride ``d``, dilation ``s``)
    and one group per (sample, input channel): profiled 1.3-1.7x faster on CPU than the
    batch-as-groups weight-gradient kernel for the first layer of the MNIST CNN.
    """
    n = x.shape[0]
    kernel = tuple(layer.kernel_size)
    stride = tuple(layer.stride)
    dilation = tuple(layer.dilation)
    xp, _ = _pad_input(layer, x, allow_symmetric=False)
    out_spatial = tuple(g.shape[2:])
    # the padded input beyond s*(o-1) + d*(k-1) + 1 is never read by any kernel position
    reach = [
        s * (o - 1) + d * (k - 1) + 1
        for s, o, d, k in zip(stride, out_spatial, dilation, kernel, strict=True)
    ]
    for dim, r in enumerate(reach):
        xp = xp.narrow(2 + dim, 0, r)
    planes = xp.reshape(1, n * layer.in_channels, *reach)
    filters = g.reshape(n * layer.out_channels, 1, *out_spatial)
    conv = F.conv1d if len(kernel) == 1 else F.conv2d
    grads = conv(planes, filters, stride=dilation, dilation=stride, groups=n * layer.groups)
    return grads.reshape(n, *layer.weight.shape)


def _phase_blocks(layer: nn.Conv1d | nn.Conv2d) -> tuple[int, ...] | None:
    """Kernel size in stride units, ``k // s`` per dimension, when the phase form applies.

    The phase form of :func:`conv_ghost_sq_norms` needs ``groups == 1``, no dilation and
    kernels that are whole multiples of the stride; ``None`` otherwise.
    """
    kernel = tuple(layer.kernel_size)
    stride = tuple(layer.stride)
    if layer.groups != 1 or any(d != 1 for d in layer.dilation):
        return None
    if any(k % s for k, s in zip(kernel, stride, strict=True)):
        return None
    return tuple(k // s for k, s in zip(kernel, stride, strict=True))


def conv_ghost_sq_norms(
    layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, g: torch.Tensor
) -> torch.Tensor:
    """Squared per-sample weight-gradient norms of a convolution by the Gram identity.

    Args:
        layer: the convolution.
        x: its input ``(n, C_in, *spatial)``, ``n >= 1``.
        g: gradient w.r.t. its output ``(n, C_out, *out_spatial)``.

    Returns:
        ``(n,)`` squared norms ``<A_i^T A_i, G_i^T G_i>_F`` (non-negative).

    When the kernel is a whole number ``b`` of strides in each dimension (and
    ``groups == 1``, no dilation), the input is first rearranged "space to depth": the
    ``s x s`` pixel blocks become channels, turning the layer into a stride-1
    convolution with kernel ``b`` on ``C_in s^2`` channels over ``P`` block positions.
    Then ``A_i^T A_i[t, t'] = sum_a Q_i[t + a, t' + a]`` (``a`` over the ``b``-kernel
    offsets) with the *block* Gram matrix ``Q_i`` (``P x P``): the Gram product costs
    ``P^2 C_in s^2`` instead of ``T^2 C_in k^2`` (about half for the MNIST CNN's second
    conv, whose patches overlap by half) and the rearranged input is ``(k/s)^2`` times
    smaller than the unfolded one.  Otherwise the rows of :func:`patch_rows` (or, for
    grouped layers, :func:`unfold_input`) feed :func:`conv_weight_sq_norms`.
    """
    n = x.shape[0]
    blocks = _phase_blocks(layer)
    if blocks is None:
        a = (
            patch_rows(layer, x).transpose(1, 2)  # (n, D, T) view of contiguous (n, T, D)
            if layer.groups == 1
            else unfold_input(layer, x)
        )
        return conv_weight_sq_norms(a, g.flatten(2), layer.groups, "ghost")
    stride = tuple(layer.stride)
    out_spatial = tuple(g.shape[2:])
    m = len(stride)
    grid = tuple(o - 1 + b for o, b in zip(out_spatial, blocks, strict=True))
    xp, _ = _pad_input(layer, x, allow_symmetric=False)
    # crop to the pixels some kernel position reads (a whole number of blocks), then
    # (n, C, P1, s1, P2, s2) -> (n, C, s1, s2, P1, P2) -> (n, C s1 s2, P): this order
    # copies in runs along P, a profiled 5x faster than a block-position-major one
    for dim, (p, s) in enumerate(zip(grid, stride, strict=True)):
        xp = xp.narrow(2 + dim, 0, p * s)
    split = [v for p, s in zip(grid, stride, strict=True) for v in (p, s)]
    xs = xp.reshape(n, xp.shape[1], *split)
    order = (0, 1, *range(3, 3 + 2 * m, 2), *range(2, 2 + 2 * m, 2))
    cols = xs.permute(order).reshape(n, -1, math.prod(grid))
    q = torch.bmm(cols.transpose(1, 2), cols)  # (n, P, P) block Gram matrices
    # the shifted windows are added with the batch axis innermost, so that each window
    # is read in runs of n * out_width elements (short inner runs made the adds 3x slower)
    qt = q.reshape(n, -1).t().contiguous().reshape(*grid, *grid, n)
    gram_a: torch.Tensor | None = None
    for offset in itertools.product(*(range(b) for b in blocks)):
        part = qt
        for dim, (start, o) in enumerate(zip(offset, out_spatial, strict=True)):
            part = part.narrow(dim, start, o).narrow(m + dim, start, o)
        if gram_a is None:
            gram_a = part.clone(memory_format=torch.contiguous_format)
        else:
            gram_a.add_(part)
    assert gram_a is not None  # blocks has at least one offset
    gf = g.flatten(2)
    t = gf.shape[2]
    gram_g = torch.bmm(gf.transpose(1, 2), gf).reshape(n, t * t).t()
    sq = (gram_a.reshape(t * t, n) * gram_g).sum(dim=0).clamp(min=0)
    return sq


def conv_weight_norm_terms(
    layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, g: torch.Tensor, method: str | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Squared per-sample norms of a convolution's weight gradient, by the cheaper method.

    Args:
        layer: the convolution.
        x: its input ``(n, C_in, *spatial)``, ``n >= 1``.
        g: gradient w.r.t. its output ``(n, C_out, *out_spatial)``.
        method: ``"ghost"``, ``"direct"`` or ``None`` (pick by :func:`use_ghost_identity`).

    Returns:
        ``(squared norms (n,), per-sample gradients or None)``: the direct method hands
        back the per-sample gradients it formed so the caller may reuse or drop them; the
        ghost method never forms them.

    Raises:
        ValueError: unknown ``method``.
    """
    if method not in (None, "ghost", "direct"):
        raise ValueError(f"unknown method {method!r}")
    n = x.shape[0]
    positions = math.prod(g.shape[2:])
    patch = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
    channels = layer.out_channels // layer.groups
    ghost = use_ghost_identity(positions, patch, channels) if method is None else method == "ghost"
    if ghost:
        return conv_ghost_sq_norms(layer, x, g), None
    per_sample = conv_per_sample_weight_grads(layer, x, g)
    return per_sample.reshape(n, -1).square().sum(dim=1), per_sample


def conv_norm_sample(
    layer: nn.Module, activations: Sequence[torch.Tensor], backprops: torch.Tensor
) -> dict[torch.Tensor, torch.Tensor]:
    """Opacus norm sampler for ``nn.Conv1d`` / ``nn.Conv2d`` (any stride, padding, groups).

    Args:
        layer: the convolution.
        activations: ``[input]`` as captured by Opacus's forward hook.
        backprops: gradient of the loss w.r.t. the layer output, already rescaled by
            Opacus for the loss reduction (``(n, C_out, *spatial)``).

    Returns:
        ``{parameter: (n,) per-sample gradient norms}`` for each trainable parameter.

    Raises:
        TypeError: ``layer`` is not a ``nn.Conv1d`` / ``nn.Conv2d`` (a registry bug).
    """
    if not isinstance(layer, nn.Conv1d | nn.Conv2d):
        raise TypeError(f"conv_norm_sample got a {type(layer).__name__}")
    x = activations[0].to(backprops.dtype)
    n = x.shape[0]
    ret: dict[torch.Tensor, torch.Tensor] = {}
    if layer.weight.requires_grad:
        if n == 0:
            ret[layer.weight] = torch.zeros(0, dtype=backprops.dtype, device=backprops.device)
        else:
            sq, per_sample = conv_weight_norm_terms(layer, x, backprops)
            del per_sample  # norms only: never kept
            ret[layer.weight] = sq.sqrt()
    bias = layer.bias
    if bias is not None and bias.requires_grad:
        ret[bias] = backprops.flatten(2).sum(dim=2).norm(dim=1)
    return ret


def _linear_operands(x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.Linear`` input/output-gradient as ``(n, D, T)`` and ``(n, C_out, T)``."""
    n = x.shape[0]
    return (
        x.reshape(n, -1, x.shape[-1]).transpose(1, 2),
        g.reshape(n, -1, g.shape[-1]).transpose(1, 2),
    )


def layer_norm_terms(
    layer: nn.Module, x: torch.Tensor, g: torch.Tensor, *, keep_limit: int = 0
) -> tuple[torch.Tensor, dict[torch.Tensor, torch.Tensor] | None]:
    """Squared per-sample gradient norm of a layer (all its trainable parameters).

    Args:
        layer: an ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``.
        x: its input ``(n, ...)``.
        g: gradient of the summed per-sample losses w.r.t. its output ``(n, ...)``.
        keep_limit: when the direct method formed the per-sample gradients anyway and
            they hold at most this many elements, return them for reuse (the clipped
            sum is then a cheap weighted reduction); 0 never keeps them.

    Returns:
        ``(squared norms (n,), {parameter: per-sample gradients} or None)``.

    Raises:
        TypeError: another layer type.
    """
    n = x.shape[0]
    total = torch.zeros(n, dtype=g.dtype, device=g.device)
    if n == 0:
        return total, None
    x = x.to(g.dtype)
    kept: dict[torch.Tensor, torch.Tensor] | None = None
    bias = layer.bias
    want_b = isinstance(bias, torch.Tensor) and bias.requires_grad
    if isinstance(layer, nn.Conv1d | nn.Conv2d):
        bias_g = g.flatten(2).sum(dim=2)
        if layer.weight.requires_grad:
            sq, per_sample = conv_weight_norm_terms(layer, x, g)
            total = total + sq
            if per_sample is not None and per_sample.numel() <= keep_limit:
                kept = {layer.weight: per_sample}
                if want_b:
                    assert isinstance(bias, torch.Tensor)  # for mypy; want_b implies it
                    kept[bias] = bias_g
            del per_sample
    elif isinstance(layer, nn.Linear):
        if x.dim() == 2:
            # one position per sample: ||g a^T||^2 = ||g||^2 ||a||^2, no product needed
            if layer.weight.requires_grad:
                total = total + g.square().sum(dim=1) * x.square().sum(dim=1)
            bias_g = g
        else:
            a, gg = _linear_operands(x, g)
            if layer.weight.requires_grad:
                total = total + conv_weight_sq_norms(a, gg, 1)
            bias_g = gg.sum(dim=2)
    else:
        raise TypeError(f"no per-sample norm for {type(layer).__name__}")
    if want_b:
        total = total + bias_g.square().sum(dim=1)
    return total, kept


def weighted_grads(
    layer: nn.Module, x: torch.Tensor, g: torch.Tensor
) -> dict[torch.Tensor, torch.Tensor]:
    """Gradients of ``layer``'s trainable parameters for the output gradient ``g``.

    With ``g`` already scaled per sample by the clipping factors, this is the clipped
    sum ``sum_i c_i grad_i`` in one ordinary weight-gradient computation.

    Args:
        layer: an ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d``.
        x: its input ``(n, ...)``.
        g: (weighted) gradient w.r.t. its output.

    Returns:
        ``{parameter: gradient}`` for each trainable parameter.

    Raises:
        TypeError: another layer type.
    """
    out: dict[torch.Tensor, torch.Tensor] = {}
    weight = layer.weight
    bias = layer.bias
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"no weighted gradient for {type(layer).__name__}")
    want_w = weight.requires_grad
    want_b = isinstance(bias, torch.Tensor) and bias.requires_grad
    x = x.to(g.dtype)
    if isinstance(layer, nn.Conv1d | nn.Conv2d):
        xp, padding = _pad_input(layer, x, allow_symmetric=True)
        m = len(layer.kernel_size)
        # the same kernel autograd runs for the weight gradient of a convolution
        _, gw, gb = torch.ops.aten.convolution_backward(
            g,
            xp,
            weight,
            [weight.shape[0]] if want_b else None,
            list(layer.stride),
            list(padding),
            list(layer.dilation),
            False,
            [0] * m,
            layer.groups,
            [False, want_w, want_b],
        )
    elif isinstance(layer, nn.Linear):
        g2 = g.reshape(-1, g.shape[-1])
        gw = g2.t().mm(x.reshape(-1, x.shape[-1])) if want_w else None
        gb = g2.sum(dim=0) if want_b else None
    else:
        raise TypeError(f"no weighted gradient for {type(layer).__name__}")
    if want_w:
        out[weight] = gw
    if want_b:
        assert isinstance(bias, torch.Tensor)  # for mypy; want_b implies it
        out[bias] = gb
    return out
