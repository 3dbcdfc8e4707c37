"""Robust aggregation: pure rules, the RobustAggregation scheme, poisoning, DP composition."""

from __future__ import annotations

import math
import pathlib
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from privkit.aggregation import ClientId, Plain, run_local
from privkit.aggregation.robust import (
    Krum,
    Median,
    NormBound,
    RobustAggregation,
    Rule,
    TrimmedMean,
    krum,
    krum_scores,
    krum_select,
    median,
    norm_bound,
    trimmed_mean,
)
from privkit.dp import ClientDP
from privkit.errors import ParameterError, ProtocolError
from privkit.testing import check_scheme

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"

RULES: list[Rule] = [
    Median(),
    TrimmedMean(fraction=0.2),
    TrimmedMean(count=1),
    Krum(f=1),
    Krum(f=1, m=3),
    NormBound(bound=1.5),
    NormBound(bound=1.5, mean=False),
]


def reference(rule: Rule, x: np.ndarray) -> np.ndarray:
    """Slow, obviously-correct versions of each rule, written independently."""
    n, d = x.shape
    if isinstance(rule, Median):
        out = []
        for j in range(d):
            col = sorted(x[:, j])
            out.append(col[n // 2] if n % 2 else (col[n // 2 - 1] + col[n // 2]) / 2)
        return np.array(out)
    if isinstance(rule, TrimmedMean):
        b = rule.trim(n)
        return np.array([np.mean(sorted(x[:, j])[b : n - b]) for j in range(d)])
    if isinstance(rule, Krum):
        k = n - rule.f - 2
        scores = []
        for i in range(n):
            dists = sorted(float(np.sum((x[i] - x[j]) ** 2)) for j in range(n) if j != i)
            scores.append(sum(dists[:k]))
        order = sorted(range(n), key=lambda i: (scores[i], i))[: rule.m]
        return np.asarray(np.mean(x[sorted(order)], axis=0))
    assert isinstance(rule, NormBound)
    rows = []
    for row in x:
        norm = math.sqrt(float(np.sum(row**2)))
        rows.append(row * (rule.bound / norm) if norm > rule.bound else row)
    total = np.asarray(np.sum(rows, axis=0))
    return total / n if rule.mean else total


def updates_of(x: np.ndarray) -> dict[ClientId, object]:
    return {i + 1: row for i, row in enumerate(x)}


# ---------------------------------------------------------------- scheme vs reference


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_scheme_matches_reference(rule: Rule) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(9, 6))
    res = run_local(RobustAggregation(rule), updates_of(x))
    assert res.aggregate.dtype == np.float64
    np.testing.assert_allclose(res.aggregate, reference(rule, x), rtol=1e-12, atol=1e-12)
    assert res.survivors == tuple(range(1, 10))


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_check_scheme_conformance(rule: Rule) -> None:
    check_scheme(lambda: RobustAggregation(rule), n_clients=(5, 7), length=(1, 8), max_examples=8)


@settings(max_examples=40)
@given(
    x=st.integers(3, 8).flatmap(
        lambda n: hnp.arrays(
            np.float64, (n, 4), elements=st.floats(-1e3, 1e3, allow_subnormal=False)
        )
    ),
    which=st.sampled_from(range(len(RULES))),
)
def test_session_equals_reference_property(x: np.ndarray, which: int) -> None:
    rule = RULES[which]
    if x.shape[0] < rule.min_updates():
        return
    res = run_local(RobustAggregation(rule), updates_of(x))
    if isinstance(rule, Krum):
        # Near-ties may select differently from the slow reference (Gram-matrix
        # rounding); the scores themselves are checked in test_krum_scores_match_definition.
        np.testing.assert_array_equal(res.aggregate, krum(x, f=rule.f, m=rule.m))
        return
    np.testing.assert_allclose(res.aggregate, reference(rule, x), rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------- hypothesis properties

matrices = st.tuples(st.integers(1, 9), st.integers(1, 6)).flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=st.floats(-1e6, 1e6, allow_subnormal=False))
)


@given(x=matrices)
def test_median_within_min_max(x: np.ndarray) -> None:
    m = median(x)
    assert m.shape == (x.shape[1],)
    assert np.all(m >= x.min(axis=0))
    assert np.all(m <= x.max(axis=0))


@given(x=matrices)
def test_trimmed_mean_without_trim_is_mean(x: np.ndarray) -> None:
    np.testing.assert_array_equal(trimmed_mean(x, count=0), x.mean(axis=0))
    np.testing.assert_array_equal(trimmed_mean(x, fraction=0.0), x.mean(axis=0))
    b = (x.shape[0] - 1) // 2
    t = trimmed_mean(x, count=b)
    assert np.all(t >= x.min(axis=0) - 1e-9)
    assert np.all(t <= x.max(axis=0) + 1e-9)


def test_trimmed_mean_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(3).normal(size=(11, 5))
    for frac in (0.0, 0.1, 0.2, 0.3, 0.45):
        np.testing.assert_allclose(
            trimmed_mean(x, fraction=frac), scipy_stats.trim_mean(x, frac, axis=0), rtol=1e-12
        )


@given(
    seed=st.integers(0, 2**32 - 1),
    f=st.integers(0, 3),
    extra=st.integers(0, 4),
    spread=st.floats(1e-3, 1.0),
)
def test_krum_selects_honest_when_clustered(seed: int, f: int, extra: int, spread: float) -> None:
    rng = np.random.default_rng(seed)
    n = 2 * f + 3 + extra
    d = 5
    honest = rng.normal(size=d) + spread * rng.uniform(-1, 1, size=(n - f, d))
    # Byzantine vectors far from the cluster (at least 100x its diameter away).
    bad = 100.0 * (1.0 + 2 * spread) * (1.0 + rng.uniform(size=(f, d))) * rng.choice(
        [-1.0, 1.0], size=(f, d)
    ) + honest.mean(axis=0)
    x = np.concatenate([honest, bad])
    perm = rng.permutation(n)
    x = x[perm]
    honest_rows = {int(i) for i in np.flatnonzero(perm < n - f)}
    chosen = krum_select(x, f=f, m=n - f)
    assert set(chosen) == honest_rows
    assert krum_select(x, f=f)[0] in honest_rows


@given(x=matrices, bound=st.floats(1e-3, 1e3))
def test_norm_bound_clips(x: np.ndarray, bound: float) -> None:
    n = x.shape[0]
    total = norm_bound(x, bound=bound, mean=False)
    assert np.linalg.norm(total) <= n * bound * (1 + 1e-9)
    np.testing.assert_allclose(norm_bound(x, bound=bound), total / n, rtol=1e-12, atol=1e-300)


@given(
    x=st.integers(3, 8).flatmap(
        lambda n: hnp.arrays(np.float64, (n, 3), elements=st.floats(-100, 100, width=16))
    ),
    f=st.integers(0, 2),
)
def test_krum_scores_match_definition(x: np.ndarray, f: int) -> None:
    n = x.shape[0]
    if n <= 2 * f + 2:
        return
    want = []
    for i in range(n):
        dists = sorted(float(np.sum((x[i] - x[j]) ** 2)) for j in range(n) if j != i)
        want.append(sum(dists[: n - f - 2]))
    np.testing.assert_allclose(krum_scores(x, f=f), want, rtol=1e-9, atol=1e-6)


def test_krum_known_answer() -> None:
    # Points on a line at 0, 1, 3, 7, 20; f = 1: each score sums the 2 nearest squared
    # distances: 0 -> 1 + 9, 1 -> 1 + 4, 3 -> 4 + 9, 7 -> 16 + 36, 20 -> 169 + 289.
    x = np.array([[0.0], [1.0], [3.0], [7.0], [20.0]])
    np.testing.assert_array_equal(krum_scores(x, f=1), [10.0, 5.0, 13.0, 52.0, 458.0])
    assert krum_select(x, f=1, m=3) == (1, 0, 2)
    assert krum(x, f=1).tolist() == [1.0]
    assert krum(x, f=1, m=3).tolist() == [4.0 / 3.0]


def test_pure_functions_accept_sequences() -> None:
    rows = [np.array([1.0, 5.0]), np.array([2.0, 6.0]), np.array([3, 70])]
    assert median(rows).tolist() == [2.0, 6.0]
    assert trimmed_mean(rows, count=1).tolist() == [2.0, 6.0]
    assert krum_scores(np.eye(5), f=1).shape == (5,)


# ---------------------------------------------------------------- poisoning

ATTACKS = ("scaled", "sign_flip", "random_large")


def poisoned(attack: str, n_bad: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """10 clients, d = 50: honest updates around a common direction, n_bad poisoned."""
    rng = np.random.default_rng(seed)
    d = 50
    truth = rng.normal(size=d)
    truth /= np.linalg.norm(truth)
    honest = truth + 0.3 * rng.normal(size=(10, d)) / math.sqrt(d)
    x = honest.copy()
    if attack == "scaled":
        x[:n_bad] = 100.0 * honest[:n_bad]
    elif attack == "sign_flip":
        x[:n_bad] = -100.0 * honest[:n_bad]
    else:
        x[:n_bad] = rng.normal(scale=100.0, size=(n_bad, d))
    return x, honest[n_bad:].mean(axis=0)


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("n_bad", [2, 3])
@pytest.mark.parametrize(
    "rule",
    [Median(), TrimmedMean(count=3), Krum(f=3), Krum(f=3, m=4), NormBound(bound=1.5)],
    ids=repr,
)
def test_poisoned_minority_moves_robust_aggregate_far_less(
    attack: str, n_bad: int, rule: Rule
) -> None:
    for seed in (0, 1, 2):
        x, clean = poisoned(attack, n_bad, seed)
        plain = run_local(Plain(mean=True), updates_of(x)).aggregate
        robust = run_local(RobustAggregation(rule), updates_of(x)).aggregate
        plain_err = float(np.linalg.norm(plain - clean))
        robust_err = float(np.linalg.norm(robust - clean))
        assert plain_err > 15.0  # the attack does move the mean far
        # Stated factor: each robust rule moves at least 20x less than the mean does.
        assert robust_err * 20.0 < plain_err, (attack, n_bad, rule, robust_err, plain_err)
        # And stays within the honest spread (honest vectors have norm ~ 1).
        assert robust_err < 1.0


# ---------------------------------------------------------------- dropouts and refusals


def test_dropouts_aggregate_survivors_only() -> None:
    x = np.random.default_rng(5).normal(size=(8, 4))
    for rule in (Median(), TrimmedMean(fraction=0.25), Krum(f=1, m=2), NormBound(bound=1.0)):
        res = run_local(RobustAggregation(rule), updates_of(x), dropouts={0: [2, 5]})
        assert res.survivors == (1, 3, 4, 6, 7, 8)
        keep = x[[0, 2, 3, 5, 6, 7]]
        np.testing.assert_allclose(res.aggregate, reference(rule, keep), rtol=1e-12, atol=1e-12)


def test_krum_refuses_too_few_clients_and_survivors() -> None:
    scheme = RobustAggregation(Krum(f=2))
    assert scheme.min_survivors(10) == 7
    with pytest.raises(ParameterError):
        scheme.server(client_ids=range(1, 7), length=3)  # n = 6 = 2f + 2
    x = np.random.default_rng(0).normal(size=(7, 3))
    with pytest.raises(ProtocolError, match="too few"):
        run_local(scheme, updates_of(x), dropouts={0: [1]})
    with pytest.raises(ParameterError):
        krum(x[:6], f=2)
    with pytest.raises(ParameterError):
        krum_select(x, f=2, m=6)  # m > n - f


def test_trimmed_count_refuses_too_few_survivors() -> None:
    scheme = RobustAggregation(TrimmedMean(count=2))
    x = np.random.default_rng(1).normal(size=(5, 3))
    assert run_local(scheme, updates_of(x)).aggregate.shape == (3,)
    with pytest.raises(ProtocolError):
        run_local(scheme, updates_of(x), dropouts={0: [3]})
    with pytest.raises(ParameterError):
        trimmed_mean(x[:4], count=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrimmedMean(),
        lambda: TrimmedMean(fraction=0.1, count=1),
        lambda: TrimmedMean(fraction=0.5),
        lambda: TrimmedMean(fraction=-0.1),
        lambda: TrimmedMean(count=-1),
        lambda: TrimmedMean(count=True),
        lambda: Krum(f=-1),
        lambda: Krum(f=1, m=0),
        lambda: Krum(f=1.5),  # type: ignore[arg-type]
        lambda: NormBound(bound=0.0),
        lambda: NormBound(bound=math.inf),
        lambda: NormBound(bound=1.0, mean=1),  # type: ignore[arg-type]
        lambda: RobustAggregation(Median(), min_clients=0),
        lambda: RobustAggregation("median"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters(make: Any) -> None:
    with pytest.raises(ParameterError):
        make()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 3)), np.zeros(3), [], np.array([[np.nan]]), np.array([["a"]]), "xy"],
)
def test_pure_functions_refuse_bad_input(bad: Any) -> None:
    with pytest.raises(ParameterError):
        median(bad)


def test_fingerprint_covers_rule() -> None:
    fps = {RobustAggregation(r).fingerprint for r in RULES}
    assert len(fps) == len(RULES)
    assert RobustAggregation(Median()).fingerprint != Plain(mean=True).fingerprint
    x = np.ones((5, 2))
    server = RobustAggregation(Median()).server(client_ids=range(1, 6), length=2)
    client = RobustAggregation(TrimmedMean(count=1)).client(client_id=1, update=x[0])
    msg = server.start()[1]
    with pytest.raises(Exception, match="fingerprint"):
        client.handle(msg)


def test_krum_selected_property() -> None:
    x = np.zeros((6, 2))
    x[5] = 1000.0
    scheme = RobustAggregation(Krum(f=1, m=4))
    server = scheme.server(client_ids=range(1, 7), length=2)
    with pytest.raises(ProtocolError):
        _ = server.selected
    out = server.start()
    clients = {c: scheme.client(client_id=c, update=x[int(c) - 1]) for c in out}
    server.step({c: clients[c].handle(m) for c, m in out.items()})
    assert len(server.selected) == 4
    assert 6 not in server.selected
    assert server.survivors == (1, 2, 3, 4, 5, 6)


# ---------------------------------------------------------------- DP composition


@pytest.mark.parametrize("rule", [Median(), Krum(f=1), NormBound(bound=0.5, mean=False)], ids=repr)
def test_client_dp_wraps_robust(rule: Rule) -> None:
    x = np.random.default_rng(9).normal(size=(6, 4))
    inner = RobustAggregation(rule)
    quiet = run_local(ClientDP(inner, clip=1.0, noise_multiplier=0.0), updates_of(x))
    clipped = np.array([r * min(1.0, 1.0 / np.linalg.norm(r)) for r in x])
    np.testing.assert_allclose(quiet.aggregate, reference(rule, clipped), rtol=1e-9, atol=1e-12)
    noisy = run_local(ClientDP(inner, clip=1.0, noise_multiplier=1.0), updates_of(x))
    assert noisy.aggregate.shape == (4,)
    assert not np.allclose(noisy.aggregate, quiet.aggregate)


def test_sensitivity_bounds_hold_empirically() -> None:
    rng = np.random.default_rng(11)
    rules: list[Rule] = [
        Median(),
        TrimmedMean(count=1),
        TrimmedMean(fraction=0.3),
        Krum(f=1),
        NormBound(bound=0.7, mean=False),
    ]

    def ball(shape: tuple[int, ...]) -> np.ndarray:
        v = rng.normal(size=shape) * rng.uniform(0.1, 3.0)
        return np.asarray(v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1.0))

    for rule in rules:
        bound = rule.sensitivity(clip=1.0, n=7)
        for _ in range(200):
            x = ball((7, 3))
            replaced = x.copy()
            replaced[rng.integers(7)] = ball((3,))
            removed = np.delete(x, rng.integers(7), axis=0)
            base = rule.aggregate(x)
            for other in (replaced, removed):
                if isinstance(rule, NormBound) and other is replaced:
                    continue  # a sum's replace-one change is 2x its add/remove bound
                assert np.linalg.norm(base - rule.aggregate(other)) <= bound * (1 + 1e-9), rule


def test_dp_noise_multiplier_calibrates_to_rule_sensitivity() -> None:
    scheme = RobustAggregation(Median())
    z = scheme.dp_noise_multiplier(1.0, clip=2.0, n_clients=10)
    # ClientDP's noise std on a mean is z' C / k; it must be >= 1.0 * 2 sqrt(2) C for k <= 10.
    assert z * 2.0 / 10 >= 2.0 * math.sqrt(2.0) * 2.0 * (1 - 1e-12)
    norm = RobustAggregation(NormBound(bound=0.5, mean=False))
    assert norm.dp_noise_multiplier(1.0, clip=1.0, n_clients=10) <= 1.0
    with pytest.raises(ParameterError):
        scheme.dp_noise_multiplier(-1.0, clip=1.0, n_clients=10)


# ---------------------------------------------------------------- docs


def test_docs_examples_run() -> None:
    text = (DOCS / "robust.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert blocks
    for i, code in enumerate(blocks):
        exec(compile(code, f"robust.md#{i}", "exec"), {"__name__": f"docs_robust_{i}"})
