"""Tests of privkit.dp.ghost: Conv norm samplers against an explicit per-sample reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from opacus.grad_sample import (  # noqa: E402
    GradSampleHooksFastGradientClipping,
    GradSampleModule,
    GradSampleModuleFastGradientClipping,
)
from opacus.optimizers import DPOptimizerFastGradientClipping  # noqa: E402
from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping  # noqa: E402
from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402

from privkit.dp import ghost  # noqa: E402
from privkit.dp._conv_norms import (  # noqa: E402
    conv_ghost_sq_norms,
    conv_norm_sample,
    conv_per_sample_weight_grads,
    conv_weight_norm_terms,
    conv_weight_sq_norms,
    patch_rows,
    unfold_input,
    use_ghost_identity,
)
from privkit.errors import ParameterError, ProtocolError  # noqa: E402

RTOL = 1e-5


def _reference_norms(layer: nn.Module, x: Any, g: Any) -> dict[str, Any]:
    """Per-sample gradient norms of <layer(x_i), g_i> from torch.func per-sample grads."""
    params = {k: v.detach() for k, v in layer.named_parameters()}

    def inner(p: dict[str, Any], xi: Any, gi: Any) -> Any:
        return (functional_call(layer, p, (xi.unsqueeze(0),)) * gi.unsqueeze(0)).sum()

    per_sample = vmap(grad(inner), in_dims=(None, 0, 0))(params, x, g)
    return {k: v.reshape(v.shape[0], -1).norm(dim=1) for k, v in per_sample.items()}


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple[nn.Module, Any, Any]:
    dims = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    padding_kind = draw(st.sampled_from(["int", "int", "same", "valid"]))
    stride = (
        (1,) * dims
        if padding_kind == "same"
        else tuple(draw(st.integers(1, 3)) for _ in range(dims))
    )
    padding: Any = (
        tuple(draw(st.integers(0, 2)) for _ in range(dims))
        if padding_kind == "int"
        else padding_kind
    )
    padding_mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    bias = draw(st.booleans())
    n = draw(st.integers(1, 4))
    size = tuple(draw(st.integers(1, 7)) for _ in range(dims))
    cls: Any = nn.Conv1d if dims == 1 else nn.Conv2d
    torch.manual_seed(draw(st.integers(0, 2**16)))
    layer = cls(
        c_in,
        c_out,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
    ).double()
    x = torch.randn(n, c_in, *size, dtype=torch.float64)
    try:
        out = layer(x)
    except RuntimeError:  # e.g. reflect padding wider than the input, or empty output
        assume(False)
    assume(out.numel() > 0)
    g = torch.randn_like(out)
    return layer, x, g


@given(conv_cases(), st.sampled_from([None, "ghost", "direct"]))
def test_conv_norms_match_per_sample_reference(case: Any, method: str | None) -> None:
    layer, x, g = case
    ref = _reference_norms(layer, x, g)
    norms = conv_norm_sample(layer, [x], g)
    assert set(norms) == {p for p in layer.parameters()}
    torch.testing.assert_close(norms[layer.weight], ref["weight"], rtol=RTOL, atol=1e-12)
    if layer.bias is not None:
        torch.testing.assert_close(norms[layer.bias], ref["bias"], rtol=RTOL, atol=1e-12)
    # each method: on the layer (direct = batch-as-groups kernel) and on unfolded operands
    sq, per_sample = conv_weight_norm_terms(layer, x, g, method)
    torch.testing.assert_close(sq.sqrt(), ref["weight"], rtol=RTOL, atol=1e-12)
    if per_sample is not None:
        assert per_sample.shape == (x.shape[0], *layer.weight.shape)
    sq = conv_weight_sq_norms(
        unfold_input(layer, x), g.reshape(g.shape[0], g.shape[1], -1), layer.groups, method
    )
    torch.testing.assert_close(sq.sqrt(), ref["weight"], rtol=RTOL, atol=1e-12)


def _reference_weight_grads(layer: nn.Module, x: Any, g: Any) -> Any:
    """Per-sample gradients of the weight of <layer(x_i), g_i> (torch.func)."""
    params = {k: v.detach() for k, v in layer.named_parameters()}

    def inner(p: dict[str, Any], xi: Any, gi: Any) -> Any:
        return (functional_call(layer, p, (xi.unsqueeze(0),)) * gi.unsqueeze(0)).sum()

    return vmap(grad(inner), in_dims=(None, 0, 0))(params, x, g)["weight"]


@given(conv_cases())
def test_ghost_forms_and_per_sample_grads_match_reference(case: Any) -> None:
    """Every code path: phase-form / patch-row / unfolded Gram norms, per-sample grads."""
    layer, x, g = case
    ref = _reference_weight_grads(layer, x, g)
    ref_sq = ref.reshape(ref.shape[0], -1).square().sum(dim=1)
    # the phase form applies iff groups == 1, no dilation and stride | kernel
    torch.testing.assert_close(conv_ghost_sq_norms(layer, x, g), ref_sq, rtol=RTOL, atol=1e-12)
    # values, not only norms (in_channels == groups takes the swapped-roles convolution)
    torch.testing.assert_close(
        conv_per_sample_weight_grads(layer, x, g), ref, rtol=RTOL, atol=1e-12
    )
    if layer.groups == 1:
        rows = patch_rows(layer, x)
        cols = unfold_input(layer, x)
        assert rows.shape == cols.transpose(1, 2).shape
        # same rows up to the order of each row's elements: identical Gram matrices
        torch.testing.assert_close(
            rows @ rows.transpose(1, 2), cols.transpose(1, 2) @ cols, rtol=RTOL, atol=1e-12
        )
    else:
        with pytest.raises(ValueError, match="groups"):
            patch_rows(layer, x)


@pytest.mark.parametrize(
    ("layer", "size"),
    [
        (nn.Conv2d(16, 32, 4, stride=2), (13, 13)),  # MNIST CNN conv 2: phase form
        (nn.Conv2d(1, 16, 8, stride=2, padding=3), (28, 28)),  # conv 1: swapped roles
        (nn.Conv2d(3, 4, 3, stride=2, padding=1), (9, 9)),  # stride does not divide kernel
        (nn.Conv2d(2, 5, (4, 2), stride=(2, 1), padding=(1, 0)), (9, 7)),
        (nn.Conv2d(4, 4, 3, padding=2, groups=4, padding_mode="reflect"), (6, 6)),  # depthwise
        (nn.Conv1d(3, 4, 6, stride=3, padding=2, padding_mode="circular"), (17,)),
        (nn.Conv1d(1, 3, 5, stride=2, dilation=2), (19,)),
    ],
)
def test_fast_paths_on_fixed_layers(layer: Any, size: tuple[int, ...]) -> None:
    torch.manual_seed(5)
    layer = layer.double()
    x = torch.randn(6, layer.in_channels, *size, dtype=torch.float64)
    g = torch.randn_like(layer(x))
    ref = _reference_weight_grads(layer, x, g)
    ref_sq = ref.reshape(6, -1).square().sum(dim=1)
    torch.testing.assert_close(conv_ghost_sq_norms(layer, x, g), ref_sq, rtol=RTOL, atol=0)
    torch.testing.assert_close(conv_per_sample_weight_grads(layer, x, g), ref, rtol=RTOL, atol=0)
    for method in ("ghost", "direct"):
        sq, _ = conv_weight_norm_terms(layer, x, g, method)
        torch.testing.assert_close(sq, ref_sq, rtol=RTOL, atol=0)


def test_phase_form_applies_where_stride_divides_kernel() -> None:
    from privkit.dp._conv_norms import _phase_blocks

    assert _phase_blocks(nn.Conv2d(16, 32, 4, stride=2)) == (2, 2)  # MNIST CNN conv 2
    assert _phase_blocks(nn.Conv2d(1, 16, 8, stride=2, padding=3)) == (4, 4)
    assert _phase_blocks(nn.Conv1d(2, 2, 3)) == (3,)  # stride 1: plain pixel Gram
    assert _phase_blocks(nn.Conv2d(2, 2, (4, 3), stride=(2, 3))) == (2, 1)
    assert _phase_blocks(nn.Conv2d(2, 2, 3, stride=2)) is None
    assert _phase_blocks(nn.Conv2d(2, 2, 2, dilation=2)) is None
    assert _phase_blocks(nn.Conv2d(2, 2, 2, groups=2)) is None


def test_wide_layer_selects_ghost_identity_and_is_exact() -> None:
    torch.manual_seed(0)
    layer = nn.Conv2d(32, 48, 3, padding=1).double()
    x = torch.randn(3, 32, 4, 4, dtype=torch.float64)
    g = torch.randn(3, 48, 4, 4, dtype=torch.float64)
    assert use_ghost_identity(16, 32 * 9, 48)  # T=16 positions, D=288, C_out=48
    assert not use_ghost_identity(676, 9, 16)  # first layer of the MNIST CNN
    ref = _reference_norms(layer, x, g)
    norms = conv_norm_sample(layer, [x], g)
    assert layer.bias is not None
    torch.testing.assert_close(norms[layer.weight], ref["weight"], rtol=RTOL, atol=0)
    torch.testing.assert_close(norms[layer.bias], ref["bias"], rtol=RTOL, atol=0)


def test_frozen_weight_and_empty_batch() -> None:
    layer = nn.Conv2d(2, 3, 2)
    layer.weight.requires_grad_(False)
    g = torch.randn(2, 3, 3, 3)
    norms = conv_norm_sample(layer, [torch.randn(2, 2, 4, 4)], g)
    assert set(norms) == {layer.bias}
    layer.weight.requires_grad_(True)
    empty = conv_norm_sample(layer, [torch.zeros(0, 2, 4, 4)], torch.zeros(0, 3, 3, 3))
    assert all(v.shape == (0,) for v in empty.values())
    with pytest.raises(ValueError, match="method"):
        conv_weight_sq_norms(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), 1, "fast")
    with pytest.raises(ValueError, match="method"):
        conv_weight_norm_terms(layer, torch.zeros(2, 2, 4, 4), g, "fast")
    with pytest.raises(TypeError):
        conv_norm_sample(nn.Linear(2, 2), [torch.zeros(1, 2)], torch.zeros(1, 2))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, stride=1)
        self.c2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.c3 = nn.Conv1d(6, 8, 2, dilation=2)
        self.fc = nn.Linear(8 * 2, 3)

    def forward(self, x: Any) -> Any:
        h = torch.relu(self.c1(x))  # 8x8 -> 6x6
        h = torch.relu(self.c2(h))  # -> 3x3
        h = torch.relu(self.c3(h.flatten(2)))  # length 9 -> 7
        return self.fc(torch.nn.functional.max_pool1d(h, 3).flatten(1))  # 8 * 2


def _reference_clipped_sum(model: nn.Module, x: Any, y: Any, clip: float) -> dict[str, Any]:
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p: dict[str, Any], xi: Any, yi: Any) -> Any:
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(out, yi.unsqueeze(0))

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    flat = torch.cat([v.reshape(x.shape[0], -1) for v in per_sample.values()], dim=1)
    # the same clipping factor as Opacus: min(1, C / (||g_i|| + 1e-6))
    coef = (clip / (flat.norm(dim=1) + 1e-6)).clamp(max=1.0)
    return {k: torch.einsum("n,n...->...", coef, v) for k, v in per_sample.items()}


@pytest.mark.parametrize("scope", ["attach", "install"])
def test_ghost_step_equals_clipped_per_sample_sum(scope: str) -> None:
    torch.manual_seed(1)
    model = _Net().double()
    x = torch.randn(10, 1, 8, 8, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    unclipped = _reference_clipped_sum(model, x, y, clip=1e9)
    norms = []
    for i in range(10):
        one = _reference_clipped_sum(model, x[i : i + 1], y[i : i + 1], clip=1e9)
        norms.append(torch.cat([v.flatten() for v in one.values()]).norm())
    clip = float(torch.stack(norms).median())  # about half the samples get clipped
    expected = _reference_clipped_sum(model, x, y, clip)
    assert not torch.allclose(expected["fc.weight"], unclipped["fc.weight"])

    registry = GradSampleHooksFastGradientClipping.NORM_SAMPLERS
    saved = dict(registry)
    calls = []

    def counting(layer: nn.Module, acts: Any, backprops: Any) -> Any:
        calls.append(type(layer))
        return conv_norm_sample(layer, acts, backprops)

    try:
        if scope == "install":
            ghost.install_conv_norm_samplers()
            ghost.install_conv_norm_samplers()  # idempotent
            assert registry[nn.Conv2d] is conv_norm_sample
            registry[nn.Conv2d] = registry[nn.Conv1d] = counting
        gsm = GradSampleModuleFastGradientClipping(model, max_grad_norm=clip, loss_reduction="mean")
        if scope == "attach":
            assert ghost.attach_conv_norm_samplers(gsm) is gsm
            assert nn.Conv2d not in registry  # nothing global changed
            gsm.NORM_SAMPLERS[nn.Conv2d] = gsm.NORM_SAMPLERS[nn.Conv1d] = counting
        opt = DPOptimizerFastGradientClipping(
            torch.optim.SGD(gsm.parameters(), lr=0.1),
            noise_multiplier=0.0,
            max_grad_norm=clip,
            expected_batch_size=10,
            loss_reduction="mean",
        )
        criterion = DPLossFastGradientClipping(gsm, opt, nn.CrossEntropyLoss(), "mean")
        criterion(gsm(x), y).backward()
    finally:
        registry.clear()
        registry.update(saved)
    assert sorted(c.__name__ for c in calls) == ["Conv1d", "Conv2d", "Conv2d"]
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=RTOL, atol=1e-10)


def test_supports_ghost() -> None:
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2, 2))
    assert ghost.supports_ghost(cnn)
    assert ghost.unsupported_layers(cnn) == []
    assert ghost.supports_ghost(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Embedding(3, 2)))
    norm = nn.Sequential(nn.Conv2d(1, 2, 3), nn.GroupNorm(1, 2))
    assert not ghost.supports_ghost(norm)
    assert ghost.unsupported_layers(norm) == ["1 (GroupNorm)"]
    norm[1].requires_grad_(False)  # a frozen layer needs no norm
    assert ghost.supports_ghost(norm)
    assert not ghost.supports_ghost(nn.Conv3d(1, 1, 1))

    class MyConv(nn.Conv2d):  # Opacus matches exact types only
        pass

    assert ghost.unsupported_layers(MyConv(1, 1, 1)) == ["<root> (MyConv)"]
    assert ghost.supports_ghost(nn.ReLU())  # nothing trainable
    with pytest.raises(ParameterError):
        ghost.supports_ghost("model")  # type: ignore[arg-type]


def test_attach_rejects_other_modules() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ParameterError):
        ghost.attach_conv_norm_samplers(model)
    with pytest.raises(ParameterError):
        ghost.attach_conv_norm_samplers(GradSampleModule(nn.Linear(2, 2)))
    fgc = GradSampleModuleFastGradientClipping(nn.Linear(2, 2), use_ghost_clipping=False)
    with pytest.raises(ParameterError, match="without ghost"):
        ghost.attach_conv_norm_samplers(fgc)
    samplers = ghost.norm_samplers()
    assert samplers[nn.Conv2d] is conv_norm_sample
    assert nn.Linear in samplers


class _SeqNet(nn.Module):
    """Linear on 3-D activations, a grouped conv with reflect padding, a Conv1d."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect", groups=2)
        self.c2 = nn.Conv2d(4, 6, 2, stride=2, bias=False)
        self.seq = nn.Linear(3, 5)  # applied per position: (n, 6, 3) -> (n, 6, 5)
        self.c3 = nn.Conv1d(6, 2, 3, padding="same")
        self.head = nn.Linear(10, 3)

    def forward(self, x: Any) -> Any:
        h = torch.tanh(self.c1(x))  # (n, 4, 6, 6)
        h = torch.tanh(self.c2(h))  # (n, 6, 3, 3)
        h = torch.tanh(self.seq(h.mean(dim=3)))  # (n, 6, 5)
        return self.head(self.c3(h).flatten(1))  # (n, 10) -> 3


def _mnist_cnn() -> nn.Module:
    """Opacus's MNIST example CNN (the ``dp`` benchmark's model), 28x28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, 2, padding=3),
        nn.ReLU(),
        nn.MaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, 2),
        nn.ReLU(),
        nn.MaxPool2d(2, 1),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 32),
        nn.ReLU(),
        nn.Linear(32, 3),
    )


_INPUTS: dict[Any, tuple[int, int]] = {_Net: (1, 8), _SeqNet: (2, 6), _mnist_cnn: (1, 28)}


@pytest.mark.parametrize("net", [_Net, _SeqNet, _mnist_cnn])
@pytest.mark.parametrize("kept", [0, 1 << 22])
def test_single_pass_clipper_equals_clipped_per_sample_sum(net: Any, kept: int) -> None:
    torch.manual_seed(2)
    model = net().double()
    channels, side = _INPUTS[net]
    x = torch.randn(9, channels, side, side, dtype=torch.float64)
    y = torch.randint(0, 3, (9,))
    clip = 0.3
    expected = _reference_clipped_sum(model, x, y, clip)
    clipper = ghost.GhostClipper(model, max_grad_norm=clip, max_kept_elements=kept)
    criterion = clipper.wrap_criterion(nn.CrossEntropyLoss())
    for p in model.parameters():
        p.grad = torch.ones_like(p)  # overwritten, not accumulated
    loss = criterion(model(x), y)
    assert loss.item() == pytest.approx(
        float(nn.functional.cross_entropy(model(x), y).detach()), rel=1e-12
    )
    loss = criterion(model(x), y)  # only the last forward counts
    loss.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=RTOL, atol=1e-10)
    assert clipper.per_sample_norms.shape == (9,)
    assert "GhostClipper(" in repr(clipper)
    assert repr(loss) == "ClippedLoss(n=9)"


def test_single_pass_clipper_trains_with_opacus_optimizer() -> None:
    torch.manual_seed(3)
    model = _Net()
    clipper = ghost.GhostClipper(model, max_grad_norm=1.0, loss_reduction="sum")
    opt = DPOptimizerFastGradientClipping(
        torch.optim.SGD(model.parameters(), lr=0.05),
        noise_multiplier=0.0,
        max_grad_norm=1.0,
        expected_batch_size=16,
        loss_reduction="sum",
    )
    criterion = clipper.wrap_criterion(nn.CrossEntropyLoss(reduction="sum"))
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # memorises 16 samples
    # empty batch (Poisson sampling can draw one): zero gradients, no error
    opt.zero_grad()
    criterion(model(torch.zeros(0, 1, 8, 8)), torch.zeros(0, dtype=torch.long)).backward()
    assert all(torch.count_nonzero(p.grad) == 0 for p in model.parameters())
    clipper.remove()
    model(x).sum().backward()  # a plain model again


def test_single_pass_clipper_errors() -> None:
    with pytest.raises(ParameterError, match="GroupNorm"):
        ghost.GhostClipper(nn.Sequential(nn.Linear(2, 2), nn.GroupNorm(1, 2)), max_grad_norm=1)
    assert not ghost.supports_single_pass(nn.Embedding(3, 2))
    assert ghost.supports_single_pass(nn.Sequential(nn.Conv1d(1, 1, 1), nn.ReLU()))
    with pytest.raises(ParameterError):
        ghost.supports_single_pass(3)  # type: ignore[arg-type]
    for bad in (0, -1.0, float("inf"), float("nan"), True, "1"):
        with pytest.raises(ParameterError):
            ghost.GhostClipper(nn.Linear(2, 2), max_grad_norm=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        ghost.GhostClipper(nn.Linear(2, 2), max_grad_norm=1, loss_reduction="none")
    with pytest.raises(ParameterError):
        ghost.GhostClipper(nn.Linear(2, 2), max_grad_norm=1, max_kept_elements=-1)
    lin = nn.Linear(2, 2)
    clipper = ghost.GhostClipper(lin, max_grad_norm=1)
    with pytest.raises(ProtocolError):
        _ = clipper.per_sample_norms
    with pytest.raises(ProtocolError, match="forward"):
        clipper.backward(torch.ones(3, requires_grad=True))
    out = lin(torch.randn(3, 2)).sum(dim=1)
    with pytest.raises(ParameterError, match="batch size"):
        clipper.backward(out[:2])
    lin(torch.randn(3, 2))
    with pytest.raises(ParameterError, match="1-D"):
        clipper.backward(torch.ones(3, 1))
    tied = nn.Sequential(lin, nn.ReLU(), lin)
    tied_clipper = ghost.GhostClipper(tied, max_grad_norm=1)
    with pytest.raises(ProtocolError, match="tying"):
        tied_clipper.backward(tied(torch.randn(3, 2)).sum(dim=1))
    with pytest.raises(ParameterError, match="reduction"):
        clipper.wrap_criterion(lambda a, b: a)
    inplace = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True), nn.Linear(2, 1))
    inplace_clipper = ghost.GhostClipper(inplace, max_grad_norm=1)
    with pytest.raises(ProtocolError, match="in place"):
        inplace_clipper.backward(inplace(torch.randn(3, 2)).sum(dim=1))


def test_single_pass_clipper_physical_batches_equal_one_logical_batch() -> None:
    """Opacus's skip-step accumulation (what BatchMemoryManager drives) sums p.grad."""

    def make() -> tuple[nn.Module, Any, Any]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(108, 4))
        opt = DPOptimizerFastGradientClipping(
            torch.optim.SGD(model.parameters(), lr=0.1),
            noise_multiplier=0.0,
            max_grad_norm=0.5,
            expected_batch_size=12,
            loss_reduction="mean",
        )
        clipper = ghost.GhostClipper(model, max_grad_norm=0.5)
        return model, opt, clipper.wrap_criterion(nn.CrossEntropyLoss())

    x, y = torch.randn(12, 1, 8, 8), torch.randint(0, 4, (12,))
    initial = [p.detach().clone() for p in make()[0].parameters()]
    whole, opt, criterion = make()
    opt.zero_grad()
    criterion(whole(x), y).backward()
    opt.step()
    split, opt, criterion = make()
    for i, part in enumerate([slice(0, 5), slice(5, 12)]):
        opt.signal_skip_step(do_skip=i == 0)
        criterion(split(x[part]), y[part]).backward()
        opt.step()
        opt.zero_grad()
    for a, b, p0 in zip(whole.parameters(), split.parameters(), initial, strict=True):
        assert not torch.equal(a, p0)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_single_pass_from_opacus_privacy_engine() -> None:
    from opacus import PrivacyEngine

    torch.manual_seed(4)
    model = _Net().double()
    x = torch.randn(10, 1, 8, 8, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    expected = _reference_clipped_sum(model, x, y, 0.2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=10)
    module, opt, criterion, loader = PrivacyEngine().make_private(
        module=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        data_loader=loader,
        noise_multiplier=0.0,
        max_grad_norm=0.2,
        poisson_sampling=False,
        grad_sample_mode="ghost",
        criterion=nn.CrossEntropyLoss(),
    )
    with pytest.raises(ParameterError):
        ghost.single_pass_from_opacus(model, opt, criterion)
    with pytest.raises(ParameterError):
        ghost.single_pass_from_opacus(module, torch.optim.SGD(model.parameters()), criterion)
    plain, criterion, clipper = ghost.single_pass_from_opacus(module, opt, criterion)
    assert plain is model
    assert clipper.max_grad_norm == 0.2
    assert not hasattr(model.c1.weight, "_forward_counter")  # Opacus's hooks are gone
    (bx, by), *_ = list(loader)
    opt.zero_grad()
    criterion(plain(bx), by).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=RTOL, atol=1e-10)
    opt.step()  # Opacus adds (zero) noise and divides by the batch size
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name] / 10, rtol=RTOL, atol=1e-10)
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.GroupNorm(1, 2), nn.Flatten(), nn.Linear(72, 2))
    gsm = GradSampleModuleFastGradientClipping(bn)
    with pytest.raises(ParameterError, match="single-pass"):
        ghost.single_pass_from_opacus(gsm, opt, nn.CrossEntropyLoss())
