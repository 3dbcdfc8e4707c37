"""privkit.dp.make_private: DP-SGD over Opacus, mode choice, budget, physical batches.

The accuracy test trains on scikit-learn's digits (bundled, offline): a 64-32-10 MLP,
20 epochs of Poisson batches of expected size 256, epsilon = 3 at delta = 1e-5 (PRV),
lr 2.0.  Measured test accuracy over torch seeds 0-7: 0.917-0.937; the test asserts >= 0.85.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="make_private needs privkit[torch]")
opacus = pytest.importorskip("opacus", reason="make_private needs privkit[torch]")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from opacus.accountants import create_accountant  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from privkit.dp.training import (  # noqa: E402
    InsecureNoiseWarning,
    PrivateTraining,
    make_private,
    select_mode,
)
from privkit.errors import (  # noqa: E402
    BackendUnavailableError,
    ParameterError,
    PrivacyBudgetExceededError,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::privkit.dp.training.InsecureNoiseWarning",
    "ignore:Full backward hook is firing:UserWarning",
    "ignore:Optimal order is the largest alpha:UserWarning",
    "ignore:GDP accounting is experimental:UserWarning",
)

#: The accuracy the digits MLP must reach at epsilon <= 3 (measured 0.917-0.937, seeds 0-7).
DIGITS_ACCURACY = 0.85
#: Relative agreement of privkit's epsilon with Opacus's accountant of the same kind.
EPS_RTOL = {"rdp": 1e-3, "prv": 1e-2, "gdp": 1e-3}


def mlp(d_in: int = 64, hidden: int = 32, d_out: int = 10) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 10),
    )


def bn_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def loader(n: int = 64, d: int = 8, classes: int = 3, batch: int = 16, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch)


def opacus_epsilon(method: str, sigma: float, q: float, steps: int, delta: float) -> float:
    acc = create_accountant(method)
    acc.history = [(sigma, q, steps)]
    return float(acc.get_epsilon(delta))


def train_epoch(pt: PrivateTraining, criterion: Any = None) -> list[int]:
    """One pass over the private loader; returns the size of every batch it yielded."""
    crit = pt.criterion if pt.criterion is not None else criterion
    sizes = []
    for x, y in pt.data_loader:
        sizes.append(len(x))
        pt.optimizer.zero_grad()
        crit(pt.model(x), y).backward()
        pt.optimizer.step()
    return sizes


# --------------------------------------------------------------------------- accuracy


def digits_split() -> tuple[Any, Any, Any, Any]:
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    return x[train], y[train], x[test], y[test]


def test_digits_reaches_accuracy_at_epsilon_3_and_matches_opacus() -> None:
    x_tr, y_tr, x_te, y_te = digits_split()
    torch.manual_seed(0)
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=2.0)
    epochs = 20
    pt = make_private(
        model,
        optimizer,
        DataLoader(TensorDataset(x_tr, y_tr), batch_size=256),
        criterion=nn.CrossEntropyLoss(),
        target_epsilon=3.0,
        target_delta=1e-5,
        epochs=epochs,
    )
    assert pt.privacy.mode == "single-pass"
    for _ in range(epochs):
        train_epoch(pt)
    with torch.no_grad():
        accuracy = (pt.model(x_te).argmax(1) == y_te).float().mean().item()
    eps = pt.privacy.epsilon()
    assert pt.privacy.steps == epochs * 6
    assert eps <= 3.0
    assert eps > 2.9  # the calibration is tight, not just safe
    assert accuracy >= DIGITS_ACCURACY
    reference = opacus_epsilon(
        "prv", pt.privacy.noise_multiplier, pt.privacy.sample_rate, pt.privacy.steps, 1e-5
    )
    assert eps == pytest.approx(reference, rel=EPS_RTOL["prv"])


@pytest.mark.parametrize("method", ["rdp", "prv", "gdp"])
def test_epsilon_matches_opacus_accountant(method: str) -> None:
    torch.manual_seed(1)
    model = mlp(8, 6, 3)
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader(),
        noise_multiplier=0.9,
        accountant=method,
    )
    assert pt.privacy.epsilon() == 0.0
    for _ in range(3):
        train_epoch(pt, nn.CrossEntropyLoss())
    assert pt.privacy.steps == 12
    assert pt.privacy.accountant.method == method
    reference = opacus_epsilon(method, 0.9, 0.25, 12, 1e-5)
    assert pt.privacy.epsilon() == pytest.approx(reference, rel=EPS_RTOL[method])
    assert pt.privacy.epsilon(1e-3) < pt.privacy.epsilon()


# --------------------------------------------------------------------------- modes


def test_auto_mode_mlp_with_and_without_criterion() -> None:
    assert select_mode(mlp(), criterion=nn.CrossEntropyLoss()).mode == "single-pass"
    choice = select_mode(mlp())
    assert choice.mode == "hooks"
    assert "criterion" in choice.reason


@pytest.mark.parametrize("inplace", [False, True])
def test_auto_mode_cnn_uses_ghost_conv_norms(inplace: bool) -> None:
    torch.manual_seed(0)
    model = cnn()
    for i, layer in enumerate(model):
        if isinstance(layer, nn.ReLU):
            model[i] = nn.ReLU(inplace=inplace)
    data = DataLoader(
        TensorDataset(torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))), batch_size=8
    )
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        data,
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=1.0,
        fix_model=inplace,  # switches the in-place ReLU off
    )
    assert pt.privacy.mode == "single-pass"
    train_epoch(pt)
    assert pt.privacy.steps == 4


@pytest.mark.parametrize("mode", ["auto", "hooks", "ghost", "single-pass"])
def test_inplace_activations_are_refused_up_front(mode: str) -> None:
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(inplace=True), nn.Linear(6, 3))
    with pytest.raises(ParameterError, match=r"in-place.*ReLU.*fix_model=True"):
        make_private(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            loader(),
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=1.0,
            clipping=mode,
        )


def test_auto_mode_falls_back_to_hooks_for_layers_without_norm_path() -> None:
    model = nn.Sequential(nn.Linear(8, 6), nn.LayerNorm(6), nn.Linear(6, 3))
    choice = select_mode(model, criterion=nn.CrossEntropyLoss())
    assert choice.mode == "hooks"
    assert "LayerNorm" in choice.reason


@pytest.mark.parametrize("mode", ["hooks", "functorch", "ew", "ghost", "single-pass"])
def test_explicit_mode_is_honoured_and_trains(mode: str) -> None:
    torch.manual_seed(0)
    model = mlp(8, 6, 3)
    before = [p.detach().clone() for p in model.parameters()]
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader(),
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=1.0,
        clipping=mode,
    )
    assert pt.privacy.mode == mode
    assert pt.privacy.mode_reason == "requested explicitly"
    train_epoch(pt)
    assert pt.privacy.steps == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_ghost_without_criterion_is_refused() -> None:
    model = mlp(8, 6, 3)
    with pytest.raises(ParameterError, match="criterion"):
        make_private(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            loader(),
            noise_multiplier=1.0,
            clipping="ghost",
        )


def test_a_plain_function_criterion_cannot_use_ghost() -> None:
    def loss(out: Any, target: Any) -> Any:
        return nn.functional.cross_entropy(out, target)

    choice = select_mode(mlp(), criterion=loss)
    assert choice.mode == "hooks"
    assert "reduction" in choice.reason
    with pytest.raises(ParameterError, match="reduction"):
        select_mode(mlp(), criterion=loss, clipping="ghost")


def test_batchnorm_is_refused_with_the_fix_named() -> None:
    model = bn_model()
    with pytest.raises(ParameterError, match=r"fix_model=True") as info:
        make_private(
            model, torch.optim.SGD(model.parameters(), lr=0.1), loader(), noise_multiplier=1.0
        )
    assert "1 (BatchNorm1d)" in str(info.value)


def test_fix_model_rebuilds_the_optimizer() -> None:
    torch.manual_seed(0)
    model = bn_model()
    optimizer = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.05},
            {"params": [*model[1].parameters(), *model[3].parameters()]},
        ],
        lr=0.1,
        momentum=0.9,
    )
    pt = make_private(
        model,
        optimizer,
        loader(),
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=1.0,
        fix_model=True,
    )
    inner = pt.model._module
    assert isinstance(inner[1], nn.GroupNorm)
    assert isinstance(model[1], nn.BatchNorm1d)  # the caller's model is untouched
    assert pt.privacy.mode == "hooks"  # GroupNorm has no ghost norm path
    new = pt.optimizer.original_optimizer
    assert type(new) is torch.optim.SGD
    assert [g["lr"] for g in new.param_groups] == [0.05, 0.1]
    assert all(g["momentum"] == 0.9 for g in new.param_groups)
    ids = {id(p) for g in new.param_groups for p in g["params"]}
    assert ids == {id(p) for p in inner.parameters()}
    before = [p.detach().clone() for p in inner.parameters()]
    train_epoch(pt)
    assert any(not torch.equal(a, b) for a, b in zip(before, inner.parameters(), strict=True))


def test_fix_model_refuses_an_optimizer_with_state() -> None:
    model = bn_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()
    with pytest.raises(ParameterError, match="state"):
        make_private(model, optimizer, loader(), noise_multiplier=1.0, fix_model=True)


# --------------------------------------------------------------------------- arguments


def _args() -> tuple[nn.Module, torch.optim.Optimizer, DataLoader]:
    model = mlp(8, 6, 3)
    return model, torch.optim.SGD(model.parameters(), lr=0.1), loader()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one"),
        ({"target_epsilon": 1.0, "noise_multiplier": 1.0, "epochs": 1}, "exactly one"),
        ({"target_epsilon": 1.0}, "epochs"),
        ({"target_epsilon": -1.0, "epochs": 1}, "target_epsilon"),
        ({"noise_multiplier": 0.0}, "noise_multiplier"),
        ({"noise_multiplier": math.inf}, "noise_multiplier"),
        ({"noise_multiplier": 1.0, "accountant": "moments"}, "accountant"),
        ({"noise_multiplier": 1.0, "clipping": "fast"}, "clipping"),
        ({"noise_multiplier": 1.0, "max_grad_norm": -1.0}, "max_grad_norm"),
        ({"noise_multiplier": 1.0, "target_delta": 1.0}, "target_delta"),
        ({"noise_multiplier": 1.0, "epochs": 0}, "epochs"),
        ({"noise_multiplier": 1.0, "max_physical_batch_size": 0}, "max_physical_batch_size"),
        ({"noise_multiplier": 1.0, "max_epsilon": 0.0}, "max_epsilon"),
        ({"noise_multiplier": 1.0, "secure_mode": 1}, "secure_mode"),
        (
            {"noise_multiplier": 1.0, "criterion": nn.CrossEntropyLoss(reduction="none")},
            "reduction",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    model, optimizer, data = _args()
    with pytest.raises(ParameterError, match=match):
        make_private(model, optimizer, data, **kwargs)


def test_bad_objects() -> None:
    model, optimizer, data = _args()
    with pytest.raises(ParameterError, match=r"nn\.Module"):
        make_private(object(), optimizer, data, noise_multiplier=1.0)
    with pytest.raises(ParameterError, match="Optimizer"):
        make_private(model, object(), data, noise_multiplier=1.0)
    with pytest.raises(ParameterError, match="DataLoader"):
        make_private(model, optimizer, [1, 2], noise_multiplier=1.0)
    other = torch.optim.SGD(mlp(8, 6, 3).parameters(), lr=0.1)
    with pytest.raises(ParameterError, match="not the model"):
        make_private(model, other, data, noise_multiplier=1.0)
    model.eval()
    with pytest.raises(ParameterError, match="training mode"):
        make_private(model, optimizer, data, noise_multiplier=1.0)
    model.train()
    handle = make_private(model, optimizer, data, noise_multiplier=1.0).privacy
    with pytest.raises(ParameterError, match="remaining_steps"):
        handle.remaining_steps()


@pytest.mark.parametrize("mode", ["hooks", "ghost", "single-pass"])
def test_empty_poisson_batches_are_steps_too(mode: str) -> None:
    """Rate 1/20: many logical batches are empty; each still releases noise and counts."""
    torch.manual_seed(0)
    model = mlp(8, 6, 3)
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader(n=20, batch=1),
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=1.0,
        clipping=mode,
    )
    sizes = train_epoch(pt)
    assert 0 in sizes
    assert pt.privacy.steps == 20
    assert pt.privacy.epsilon() == pytest.approx(
        opacus_epsilon("prv", 1.0, 0.05, 20, 1e-5), rel=EPS_RTOL["prv"]
    )


# --------------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    ("mode", "physical"),
    [
        ("hooks", None),
        ("ghost", None),
        ("single-pass", None),
        ("hooks", 5),
        ("single-pass", 5),
    ],
)
def test_budget_refuses_exactly_the_step_that_would_exceed_it(
    mode: str, physical: int | None
) -> None:
    k, sigma, q, delta = 5, 1.0, 0.25, 1e-5
    eps_k = opacus_epsilon("rdp", sigma, q, k, delta)
    eps_next = opacus_epsilon("rdp", sigma, q, k + 1, delta)
    torch.manual_seed(0)
    model = mlp(8, 6, 3)
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.5),
        loader(),
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=sigma,
        accountant="rdp",
        clipping=mode,
        poisson_sampling=False,
        max_physical_batch_size=physical,
        max_epsilon=(eps_k + eps_next) / 2,
    )
    assert pt.privacy.remaining_steps() == k
    batches = iter(pt.data_loader)

    def step() -> None:
        """One logical step: with physical batches its 16 examples come as 4+4+4+4."""
        nonlocal batches
        for _ in range(1 if physical is None else 4):
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(pt.data_loader)
                x, y = next(batches)
            pt.optimizer.zero_grad()
            pt.criterion(pt.model(x), y).backward()
            pt.optimizer.step()

    for i in range(k):
        step()
        assert pt.privacy.steps == i + 1
    assert pt.privacy.remaining_steps() == 0
    after_k = [p.detach().clone() for p in model.parameters()]
    eps_after_k = pt.privacy.epsilon()
    with pytest.raises(PrivacyBudgetExceededError, match="refused"):
        step()
    assert all(torch.equal(a, b) for a, b in zip(after_k, model.parameters(), strict=True))
    assert pt.privacy.steps == k
    assert pt.privacy.epsilon() == eps_after_k
    assert eps_after_k <= pt.privacy.max_epsilon
    with pytest.raises(PrivacyBudgetExceededError):  # and it stays refused
        step()


def test_a_changed_noise_multiplier_is_accounted_and_budgeted() -> None:
    """A noise scheduler lowering sigma mid-run: epsilon and the budget follow it."""
    torch.manual_seed(0)
    model = mlp(8, 6, 3)
    budget = opacus_epsilon("rdp", 1.0, 0.25, 2, 1e-5) * 1.5
    pt = make_private(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader(),
        criterion=nn.CrossEntropyLoss(),
        noise_multiplier=1.0,
        accountant="rdp",
        poisson_sampling=False,
        max_epsilon=budget,
    )
    batches = iter([b for _ in range(3) for b in pt.data_loader])

    def step() -> None:
        x, y = next(batches)
        pt.optimizer.zero_grad()
        pt.criterion(pt.model(x), y).backward()
        pt.optimizer.step()

    step()
    step()
    assert pt.privacy.remaining_steps() > 1  # at sigma = 1.0
    pt.optimizer.noise_multiplier = 0.3

    def steps_until_refused() -> int:
        for taken in range(20):
            try:
                step()
            except PrivacyBudgetExceededError:
                return taken
        raise AssertionError("the budget never refused a step")

    steps = 2 + steps_until_refused()
    assert pt.privacy.steps == steps
    acc = create_accountant("rdp")
    acc.history = [(1.0, 0.25, 2), (0.3, 0.25, steps - 2)]
    assert pt.privacy.epsilon() == pytest.approx(acc.get_epsilon(1e-5), rel=EPS_RTOL["rdp"])
    assert pt.privacy.epsilon() <= budget
    acc.history.append((0.3, 0.25, 1))
    assert acc.get_epsilon(1e-5) > budget  # the refused step really would have exceeded it


def test_resume_with_a_saved_accountant_state() -> None:
    """A second run that loads the first run's accountant state accounts both runs."""
    states = []
    for run in range(2):
        torch.manual_seed(run)
        model = mlp(8, 6, 3)
        pt = make_private(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            loader(),
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=1.0,
            accountant="rdp",
        )
        if states:
            pt.privacy.accountant.load_state_dict(states[-1])
        train_epoch(pt)
        states.append(pt.privacy.accountant.state_dict())
    assert pt.privacy.steps == 4  # this run's steps
    assert pt.privacy.epsilon() == pytest.approx(
        opacus_epsilon("rdp", 1.0, 0.25, 8, 1e-5), rel=EPS_RTOL["rdp"]
    )


# --------------------------------------------------------------------------- secure_mode


def test_insecure_mode_warns_once() -> None:
    model, optimizer, data = _args()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_private(model, optimizer, data, noise_multiplier=1.0)
    ours = [w for w in caught if issubclass(w.category, InsecureNoiseWarning)]
    assert len(ours) == 1
    assert "not for deployment" in str(ours[0].message)
    assert not any("Secure RNG" in str(w.message) for w in caught)  # Opacus's is replaced


def test_secure_mode_needs_torchcsprng() -> None:
    try:
        import torchcsprng  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchcsprng is installed")
    model, optimizer, data = _args()
    with pytest.raises(BackendUnavailableError, match="torchcsprng"):
        make_private(model, optimizer, data, noise_multiplier=1.0, secure_mode=True)


# --------------------------------------------------------------------------- physical batches


@pytest.mark.parametrize("mode", ["hooks", "ghost", "single-pass"])
def test_physical_batches_keep_logical_steps_and_epsilon(mode: str) -> None:
    results = []
    for physical in (None, 5):
        torch.manual_seed(3)
        model = mlp(8, 6, 3)
        pt = make_private(
            model,
            torch.optim.SGD(model.parameters(), lr=0.5),
            loader(n=96, batch=24),
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=1.0,
            clipping=mode,
            max_physical_batch_size=physical,
        )
        sizes = train_epoch(pt) + train_epoch(pt)
        if physical is not None:
            assert max(sizes) <= physical
            assert len(sizes) > 8  # logical batches were really split
        results.append(
            (pt.privacy.steps, pt.privacy.epsilon(), [p.detach() for p in model.parameters()])
        )
    (steps_a, eps_a, params_a), (steps_b, eps_b, params_b) = results
    assert steps_a == steps_b == 8  # 2 epochs x 4 logical batches
    assert eps_a == eps_b
    # same Poisson draws and noise draws: the same model, up to float summation order
    for a, b in zip(params_a, params_b, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- clipping


def _reference_clipped_sum(model: nn.Module, x: Any, y: Any, bound: float) -> Any:
    """Per-sample gradients one by one, clipped as Opacus does, summed (flattened)."""
    total = None
    for i in range(len(x)):
        model.zero_grad()
        nn.CrossEntropyLoss()(model(x[i : i + 1]), y[i : i + 1]).backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        g = g * min(1.0, bound / (float(g.norm()) + 1e-6))
        total = g if total is None else total + g
    model.zero_grad()
    return total


@settings(max_examples=100 if __import__("os").environ.get("CI") else 25, deadline=None)
@given(
    n=st.integers(1, 6),
    scale=st.floats(1e-3, 1e3),
    bound=st.floats(0.01, 10.0),
    mode=st.sampled_from(["hooks", "ghost", "single-pass"]),
    seed=st.integers(0, 2**16),
)
def test_clipping_never_exceeds_the_bound(
    n: int, scale: float, bound: float, mode: str, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g) * scale
    y = torch.randint(0, 3, (n,), generator=g)
    torch.manual_seed(seed)
    model = mlp(5, 4, 3)
    reference = _reference_clipped_sum(model, x, y, bound)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt = make_private(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            DataLoader(TensorDataset(x, y), batch_size=n),
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=1.0,
            max_grad_norm=bound,
            clipping=mode,
            poisson_sampling=False,
        )
        captured: list[Any] = []
        add_noise = pt.optimizer.add_noise

        def spy() -> None:  # the clipped sum, before any noise is added
            captured.append(torch.cat([p.summed_grad.reshape(-1) for p in pt.optimizer.params]))
            add_noise()

        pt.optimizer.add_noise = spy
        pt.optimizer.zero_grad()
        pt.criterion(pt.model(x), y).backward()
        pt.optimizer.step()
    (clipped_sum,) = captured
    assert float(clipped_sum.norm()) <= n * bound * (1 + 1e-5)
    torch.testing.assert_close(clipped_sum, reference, rtol=1e-3, atol=1e-5 * bound * n)
