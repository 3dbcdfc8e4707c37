"""privkit.dp.client.ClientDP: client-level DP around any aggregation scheme.

Statistical tests fix the noise seeds (privkit.prg.random_seed is replaced by a counter
for the test) and use a two-sided significance ALPHA = 1e-6.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from privkit import prg, wire
from privkit.aggregation import Plain, run_local
from privkit.aggregation.api import ClientId
from privkit.dp.accounting import (
    DistributedDiscreteGaussian,
    SampledGaussian,
    make_accountant,
)
from privkit.dp.client import ClientDP, ClientDPClientSession
from privkit.dp.clipping import AdaptiveClip
from privkit.dp.noise import discrete_gaussian_variance
from privkit.errors import (
    DecodeError,
    ParameterError,
    PrivacyBudgetExceededError,
    ProtocolError,
)
from privkit.secagg import SecAgg
from privkit.testing import check_scheme
from privkit.wire import MessageType

ALPHA = 1e-6


@pytest.fixture
def fixed_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every fresh noise key deterministic (tests only)."""
    counter = itertools.count(1)
    monkeypatch.setattr(prg, "random_seed", lambda: next(counter).to_bytes(32, "little"))


def updates(n: int, length: int, scale: float = 0.01, seed: int = 0) -> dict[ClientId, np.ndarray]:
    rng = np.random.default_rng(seed)  # test data only
    return {i: rng.normal(0.0, scale, length) for i in range(n)}


def drive(
    scheme: ClientDP, ups: dict[ClientId, np.ndarray], silent: frozenset[ClientId] = frozenset()
) -> Any:
    """Run one round by hand (run_local keeps its server session); ``silent`` never reply."""
    server = scheme.server(client_ids=list(ups), length=len(next(iter(ups.values()))))
    clients = {c: scheme.client(client_id=c, update=ups[c]) for c in ups}
    out = server.start()
    while not server.done:
        replies = {c: clients[c].handle(m) for c, m in out.items() if c not in silent}
        out = server.step({c: r for c, r in replies.items() if r is not None})
    return server


# ------------------------------------------------------------------ conformance


# Updates with |x| <= 0.08 and at most 32 coordinates have L2 norm <= 0.46 < clip: ClientDP
# with noise_multiplier=0 must then behave exactly like its inner scheme (plus rounding).
BOUND = 0.08


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClientDP(Plain(), clip=0.5, noise_multiplier=0.0),
        lambda: ClientDP(Plain(mean=True), clip=0.5, noise_multiplier=0.0),
        lambda: ClientDP(
            Plain(),
            clip=0.5,
            noise_multiplier=0.0,
            mode="distributed",
            noise_shares=2,
            granularity=2.0**-20,
        ),
    ],
    ids=["plain-central", "plain-mean-central", "plain-distributed"],
)
def test_check_scheme_plain(make: Any) -> None:
    check_scheme(make, n_clients=(2, 6), length=(1, 32), bound=BOUND, max_examples=25)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClientDP(SecAgg(threshold=0.6), clip=0.5, noise_multiplier=0.0),
        lambda: ClientDP(
            SecAgg(threshold=0.6),
            clip=0.5,
            noise_multiplier=0.0,
            mode="distributed",
            noise_shares=2,
        ),
    ],
    ids=["secagg-central", "secagg-distributed"],
)
def test_check_scheme_secagg(make: Any) -> None:
    check_scheme(make, n_clients=(3, 5), length=(1, 16), bound=BOUND, max_examples=12)


# -------------------------------------------------------------- rounds, dropouts


def test_run_local_with_dropouts_secagg_both_modes() -> None:
    ups = updates(6, 20)
    configs: list[tuple[str, dict[str, Any]]] = [
        ("central", {}),
        ("distributed", {"noise_shares": 3}),
    ]
    for mode, extra in configs:
        scheme = ClientDP(SecAgg(threshold=0.5), clip=1.0, noise_multiplier=0.0, mode=mode, **extra)
        out = run_local(scheme, ups, dropouts={1: [2], 3: [4]})
        assert 2 not in out.survivors
        assert 4 in out.survivors
        exact = sum(ups[c] for c in out.survivors)
        tol = scheme.tolerance(n_summands=len(out.survivors), bound=1.0)
        assert np.max(np.abs(out.aggregate - exact)) <= tol


def test_clipping_is_enforced_end_to_end() -> None:
    big = np.zeros(10)
    big[3] = 60.0
    big[7] = -80.0  # norm 100
    small = np.full(10, 0.01)
    for inner in (Plain(), SecAgg(threshold=2)):
        scheme = ClientDP(inner, clip=1.0, noise_multiplier=0.0)
        out = run_local(scheme, {0: big, 1: small})
        want = big / 100.0 + small
        assert np.max(np.abs(out.aggregate - want)) <= 1e-5
        contribution = out.aggregate - small
        assert np.linalg.norm(contribution) <= 1.0 + 1e-5


def test_central_noise_has_the_stated_variance(fixed_seeds: None) -> None:
    z, clip, length, rounds = 1.5, 2.0, 5000, 4
    ups = updates(3, length, scale=0.1)
    scheme = ClientDP(Plain(), clip=clip, noise_multiplier=z)
    exact = sum(ups.values())
    noise = np.concatenate([run_local(scheme, ups).aggregate - exact for _ in range(rounds)])
    sigma = z * clip
    statistic = float(np.sum((noise / sigma) ** 2))
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], noise.size)
    assert lo <= statistic <= hi
    assert stats.kstest(noise / sigma, "norm").pvalue > ALPHA


def test_central_noise_on_a_mean_is_scaled_by_the_survivors(fixed_seeds: None) -> None:
    z, clip, length = 1.0, 1.0, 20_000
    ups = updates(4, length)
    scheme = ClientDP(Plain(mean=True), clip=clip, noise_multiplier=z)
    out = run_local(scheme, ups, dropouts={0: [3]})
    noise = out.aggregate - sum(ups[c] for c in out.survivors) / 3
    sigma = z * clip / 3  # noise on the sum, divided by the public survivor count
    statistic = float(np.sum((noise / sigma) ** 2))
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], length)
    assert lo <= statistic <= hi


def test_distributed_noise_sums_to_the_target_variance(fixed_seeds: None) -> None:
    gamma, clip, z, shares, length = 2.0**-8, 1.0, 1.0, 4, 20_000
    scheme = ClientDP(
        Plain(),
        clip=clip,
        noise_multiplier=z,
        mode="distributed",
        noise_shares=shares,
        granularity=gamma,
    )
    zero: dict[ClientId, np.ndarray] = {
        i: np.zeros(length) for i in range(shares)
    }  # zeros round to zeros exactly
    server = scheme.server(client_ids=list(zero), length=length)
    plan = server.plan
    out = run_local(scheme, zero)
    units = out.aggregate / gamma
    assert np.array_equal(units, np.round(units))  # the sum stays on the integer grid
    target = shares * discrete_gaussian_variance(plan.local_sigma)
    assert target == pytest.approx((z * plan.delta2) ** 2, rel=1e-9)
    statistic = float(np.sum(units**2) / target)
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], length)
    assert lo <= statistic <= hi


def test_distributed_secagg_round_is_noised_and_close(fixed_seeds: None) -> None:
    ups = updates(5, 50)
    scheme = ClientDP(
        SecAgg(threshold=0.6, clip=8.0),
        clip=1.0,
        noise_multiplier=0.5,
        mode="distributed",
        noise_shares=4,
    )
    out = run_local(scheme, ups)
    err = out.aggregate - sum(ups.values())
    assert 0.1 < float(np.std(err)) < 1.0  # noise of scale z * clip = 0.5, not zero


# -------------------------------------------------------------- hostile DP_ROUND


def _genuine(
    scheme: ClientDP, ids: list[ClientId], length: int
) -> tuple[Any, dict[ClientId, bytes]]:
    server = scheme.server(client_ids=ids, length=length)
    return server, server.start()


def _dp_round(scheme: ClientDP, body: Any, fp: bytes | None = None) -> bytes:
    return wire.encode(
        MessageType.DP_ROUND, body, fingerprint=scheme.fingerprint if fp is None else fp
    )


def test_bad_dp_round_messages_are_refused_and_change_nothing() -> None:
    scheme = ClientDP(Plain(), clip=1.0, noise_multiplier=0.0)
    ups = updates(2, 4)
    server, out = _genuine(scheme, [0, 1], 4)
    client = scheme.client(client_id=0, update=ups[0])
    inner = wire.decode(out[0], expect_type=MessageType.DP_ROUND).body
    assert isinstance(inner, dict)
    raw_inner = inner["inner"]
    bad: list[tuple[bytes, type[Exception]]] = [
        (_dp_round(scheme, {"clip": math.nan, "inner": raw_inner}), ProtocolError),
        (_dp_round(scheme, {"clip": -1.0, "inner": raw_inner}), ProtocolError),
        (_dp_round(scheme, {"clip": math.inf, "inner": raw_inner}), ProtocolError),
        (_dp_round(scheme, {"clip": 2.0, "inner": raw_inner}), ProtocolError),  # not the fixed clip
        (_dp_round(scheme, {"clip": 1, "inner": raw_inner}), DecodeError),  # an int
        (_dp_round(scheme, {"clip": 1.0}), DecodeError),
        (_dp_round(scheme, {"clip": 1.0, "inner": raw_inner, "x": 1}), DecodeError),
        (_dp_round(scheme, [1.0, raw_inner]), DecodeError),
        (_dp_round(scheme, {"clip": 1.0, "inner": raw_inner}, fp=bytes(16)), DecodeError),
        (out[0][:-3], DecodeError),  # truncated
        (out[0][:10], DecodeError),
        (out[1], ProtocolError),  # addressed to client 1 (the inner session refuses)
        (_dp_round(scheme, {"clip": 1.0, "inner": b"junk"}), DecodeError),
        (wire.encode(MessageType.PLAIN_REQUEST, {}, fingerprint=scheme.fingerprint), ProtocolError),
    ]
    for raw, error in bad:
        with pytest.raises(error):
            client.handle(raw)
        assert not client.done
    reply = client.handle(out[0])  # the session is unchanged: the genuine message works
    assert reply is not None
    assert client.done
    with pytest.raises(ProtocolError):
        client.handle(out[0])  # replay
    other = scheme.client(client_id=1, update=ups[1])
    result = server.step({0: reply, 1: other.handle(out[1])})
    assert result == {}
    np.testing.assert_allclose(server.result(), ups[0] + ups[1], rtol=0, atol=1e-15)


def test_parties_with_other_dp_settings_refuse_each_other() -> None:
    a = ClientDP(Plain(), clip=1.0, noise_multiplier=1.0)
    b = ClientDP(Plain(), clip=1.0, noise_multiplier=2.0)
    c = ClientDP(
        Plain(), clip=1.0, noise_multiplier=1.0, mode="distributed", noise_shares=1, granularity=0.5
    )
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3
    _, out = _genuine(a, [0, 1], 3)
    with pytest.raises(DecodeError):
        b.client(client_id=0, update=np.zeros(3)).handle(out[0])
    # every message of a ClientDP round carries ClientDP's fingerprint
    assert wire.decode(out[0]).fingerprint == a.fingerprint


def test_server_refuses_bad_replies_with_client_id() -> None:
    scheme = ClientDP(Plain(), clip=1.0, noise_multiplier=0.0)
    server, out = _genuine(scheme, [0, 1], 2)
    c0 = scheme.client(client_id=0, update=np.ones(2) * 0.1)
    reply = c0.handle(out[0])
    assert reply is not None
    with pytest.raises(DecodeError) as info:
        server.step({0: reply[:-1]})
    assert info.value.client_id == 0
    with pytest.raises(DecodeError):
        server.step({0: "text"})  # type: ignore[dict-item,unused-ignore]
    plain = Plain()
    foreign = wire.encode(MessageType.PLAIN_UPDATE, {"x": 1}, fingerprint=plain.fingerprint)
    with pytest.raises(DecodeError):
        server.step({0: foreign})
    server.step({0: reply})  # still usable; client 1 dropped out
    assert server.survivors == (0,)


# ----------------------------------------------------------------- accounting


def test_accountant_composes_each_finished_round() -> None:
    acc = make_accountant("rdp", target_delta=1e-5)
    scheme = ClientDP(Plain(), clip=1.0, noise_multiplier=1.1, accountant=acc, sample_rate=0.1)
    ups = updates(3, 5)
    for i in range(3):
        run_local(scheme, ups)
        assert acc.num_releases == i + 1
    assert acc.history == ((SampledGaussian(noise_multiplier=1.1, sample_rate=0.1), 3),)
    assert scheme.mechanism(length=5) == SampledGaussian(1.1, 0.1)
    eps = acc.get_epsilon()
    # a failed round releases nothing and records nothing
    with pytest.raises(ProtocolError):
        run_local(
            ClientDP(
                Plain(min_clients=3),
                clip=1.0,
                noise_multiplier=1.1,
                accountant=acc,
                sample_rate=0.1,
            ),
            ups,
            dropouts={0: [0]},
        )
    assert acc.get_epsilon() == eps


def test_distributed_round_composes_ddg_with_survivor_shares() -> None:
    acc = make_accountant("rdp", target_delta=1e-5)
    scheme = ClientDP(
        SecAgg(threshold=0.5, clip=8.0),
        clip=1.0,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=3,
        accountant=acc,
    )
    server = drive(scheme, updates(5, 8), silent=frozenset({4}))
    event = server.privacy_event
    assert isinstance(event, DistributedDiscreteGaussian)
    assert event.n_shares == 4  # the survivors' shares
    assert event.dimension == 8
    assert event.local_sigma == pytest.approx(server.plan.delta2 / math.sqrt(3))
    assert event.failure_probability <= 1e-10
    assert acc.history == ((event, 1),)
    assert math.isfinite(acc.get_epsilon())


def test_budget_is_refused_exactly_at_the_boundary() -> None:
    k = 4
    mech = SampledGaussian(noise_multiplier=1.0, sample_rate=0.2)
    budget = make_accountant("rdp", target_delta=1e-5).epsilon_if(mech, count=k)
    acc = make_accountant("rdp", target_delta=1e-5, max_epsilon=budget)
    scheme = ClientDP(Plain(), clip=1.0, noise_multiplier=1.0, accountant=acc, sample_rate=0.2)
    ups = updates(2, 3)
    for _ in range(k):
        run_local(scheme, ups)
    assert acc.num_releases == k
    assert acc.get_epsilon() <= budget
    with pytest.raises(PrivacyBudgetExceededError):
        scheme.server(client_ids=[0, 1], length=3)
    assert acc.num_releases == k  # the refused round was never started


# -------------------------------------------------------------- distributed checks


def test_distributed_clamp_refusal_names_the_needed_bound() -> None:
    scheme = ClientDP(
        SecAgg(threshold=0.6, clip=1.0),
        clip=1.0,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=3,
    )
    with pytest.raises(ParameterError, match="at least") as info:
        scheme.server(client_ids=[0, 1, 2], length=100)
    need = float(str(info.value).split("at least ")[1].split(",")[0])
    roomy = ClientDP(
        SecAgg(threshold=0.6, clip=need * 1.01),
        clip=1.0,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=3,
    )
    roomy.server(client_ids=[0, 1, 2], length=100)  # accepted with that bound
    # the client refuses the same round too, before handing anything on
    server = roomy.server(client_ids=[0, 1, 2], length=100)
    msg = server.start()[0]
    client = scheme.client(client_id=0, update=np.zeros(100))
    with pytest.raises(DecodeError):  # other parameters: other fingerprint
        client.handle(msg)


def test_noise_shares_survivor_check() -> None:
    scheme = ClientDP(
        Plain(),
        clip=1.0,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=4,
        granularity=2.0**-10,
    )
    assert scheme.min_survivors(6) == 4
    with pytest.raises(ParameterError):
        scheme.server(client_ids=[0, 1, 2], length=3)
    ups = updates(5, 3)
    with pytest.raises(ProtocolError, match="noise_shares"):
        run_local(scheme, ups, dropouts={0: [0, 1]})
    out = run_local(scheme, ups, dropouts={0: [0]})
    assert len(out.survivors) == 4


def test_granularity_rules() -> None:
    with pytest.raises(ParameterError, match="granularity"):
        ClientDP(Plain(), clip=1.0, noise_multiplier=1.0, mode="distributed", noise_shares=2)
    secagg = SecAgg(threshold=0.6)
    ok = ClientDP(secagg, clip=1.0, noise_multiplier=1.0, mode="distributed", noise_shares=2)
    assert ok.granularity == secagg.encoding.resolution
    coarse = ClientDP(
        secagg,
        clip=1.0,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=2,
        granularity=secagg.encoding.resolution * 8,
    )
    assert coarse.granularity == secagg.encoding.resolution * 8
    with pytest.raises(ParameterError, match="multiple"):
        ClientDP(
            secagg,
            clip=1.0,
            noise_multiplier=1.0,
            mode="distributed",
            noise_shares=2,
            granularity=secagg.encoding.resolution * 1.5,
        )


@pytest.mark.parametrize(
    ("inner", "kwargs"),
    [
        (SecAgg(threshold=0.6, weighted=True), {}),
        (Plain(), {"noise_multiplier": -1.0}),
        (Plain(), {"noise_multiplier": math.nan}),
        (Plain(), {"clip": 0.0}),
        (Plain(), {"clip": math.nan}),
        (Plain(), {"mode": "local"}),
        (Plain(), {"mode": "distributed", "granularity": 0.1}),  # no noise_shares
        (Plain(), {"mode": "distributed", "noise_shares": 0, "granularity": 0.1}),
        (Plain(), {"noise_shares": 3}),  # central
        (Plain(), {"sample_rate": 0.0}),
        (Plain(), {"max_clamp_probability": 1.0}),
        (Plain(), {"noise_multiplier": 0.0, "accountant": make_accountant("rdp")}),
        (Plain(), {"clip": AdaptiveClip(1.0, count_noise=0.1)}),  # 2 * 0.1 <= z = 1
        (
            Plain(),
            {
                "clip": AdaptiveClip(1.0),
                "mode": "distributed",
                "noise_shares": 2,
                "granularity": 0.1,
            },
        ),
    ],
)
def test_refuses_bad_configurations(inner: Any, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"clip": 1.0, "noise_multiplier": 1.0, **kwargs}
    with pytest.raises(ParameterError):
        ClientDP(inner, **args)


def test_client_checks_inner_keywords_and_updates() -> None:
    scheme = ClientDP(Plain(), clip=1.0, noise_multiplier=0.0)
    with pytest.raises(TypeError):
        scheme.client(client_id=0, update=np.zeros(2), weight=1.0)
    with pytest.raises(ParameterError):
        scheme.client(client_id=0, update=np.array([1.0, math.nan]))
    assert isinstance(scheme.client(client_id=0, update=np.zeros(2)), ClientDPClientSession)
    assert scheme.tolerance(n_summands=3, bound=1.0) == Plain().tolerance(n_summands=3, bound=1.0)
    assert (
        ClientDP(Plain(), clip=1.0, noise_multiplier=1.0).tolerance(n_summands=3, bound=1.0)
        == math.inf
    )


# ---------------------------------------------------------------- adaptive clipping


def test_adaptive_clip_moves_toward_the_target_quantile() -> None:
    norms = np.arange(1, 21, dtype=float)  # the median norm is about 10
    ups: dict[ClientId, np.ndarray] = {i: np.array([n, 0.0, 0.0]) for i, n in enumerate(norms)}
    clip = AdaptiveClip(1.0, target_quantile=0.5, learning_rate=0.5, count_noise=0.0)
    scheme = ClientDP(Plain(), clip=clip, noise_multiplier=0.0)
    seen = [clip.value]
    for _ in range(25):
        server = scheme.server(client_ids=list(ups), length=3)
        clients = {c: scheme.client(client_id=c, update=ups[c]) for c in ups}
        out = server.start()
        replies = {c: clients[c].handle(m) for c, m in out.items()}
        server.step({c: r for c, r in replies.items() if r is not None})
        expected = float(np.mean(norms <= seen[-1]))
        assert server.fraction_below == pytest.approx(expected)
        seen.append(clip.value)
    assert seen[5] > seen[0]  # it grows while too many updates are clipped
    assert 7.0 <= seen[-1] <= 14.0


def test_adaptive_clip_with_noise_in_both_modes(fixed_seeds: None) -> None:
    norms = np.linspace(0.1, 4.0, 12)
    ups: dict[ClientId, np.ndarray] = {i: np.array([n, 0.0]) for i, n in enumerate(norms)}
    configs: list[tuple[str, dict[str, Any]]] = [
        ("central", {}),
        ("distributed", {"noise_shares": 6, "granularity": 2.0**-12}),
    ]
    for mode, extra in configs:
        clip = AdaptiveClip(0.2, target_quantile=0.5, learning_rate=0.3, count_noise=2.0)
        scheme = ClientDP(Plain(), clip=clip, noise_multiplier=0.8, mode=mode, **extra)
        server = scheme.server(client_ids=list(ups), length=2)
        assert server.plan.update_multiplier > 0.8  # part of the budget goes to the count
        for _ in range(30):
            run_local(scheme, ups)
        assert clip.value > 0.5  # moved up from 0.2 toward the median (about 2)


def test_round_with_too_little_local_noise_for_the_accounting_is_refused() -> None:
    scheme = ClientDP(
        Plain(),
        clip=1.0,
        noise_multiplier=0.1,
        mode="distributed",
        noise_shares=4,
        granularity=0.5,
    )
    with pytest.raises(ParameterError, match="local_sigma"):
        scheme.server(client_ids=[1, 2, 3, 4], length=3)


def test_adaptive_distributed_round_is_accounted_as_one_ddg() -> None:
    acc = make_accountant("rdp", target_delta=1e-5)
    clip = AdaptiveClip(1.0, count_noise=3.0)
    scheme = ClientDP(
        SecAgg(threshold=0.5, clip=8.0),
        clip=clip,
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=3,
        accountant=acc,
    )
    ups = updates(4, 6)
    server = drive(scheme, ups)
    event = server.privacy_event
    plan = server.plan
    assert isinstance(event, DistributedDiscreteGaussian)
    assert event.dimension == 7  # the update and the indicator
    assert event.l2_sensitivity == pytest.approx(math.hypot(plan.delta2, plan.indicator))
    # overall multiplier (noise over L2 sensitivity, 3 shares) is at least z = 1
    assert event.local_sigma * math.sqrt(3) / event.l2_sensitivity >= 1.0
    assert server.result().shape == (6,)
    assert server.fraction_below is not None
    assert clip.value != 1.0
    assert acc.num_releases == 1


def test_client_refuses_an_announced_clip_that_would_be_clamped() -> None:
    # Adaptive mode: the clip comes from the server.  A (malicious) huge clip would make
    # the inner scheme clamp noisy coordinates: the client refuses before sending anything.
    scheme = ClientDP(
        SecAgg(threshold=0.5, clip=8.0),
        clip=AdaptiveClip(1.0, count_noise=3.0),
        noise_multiplier=1.0,
        mode="distributed",
        noise_shares=3,
    )
    _, out = _genuine(scheme, [0, 1, 2], 5)
    body = wire.decode(out[0]).body
    assert isinstance(body, dict)
    client = scheme.client(client_id=0, update=np.full(5, 0.1))
    with pytest.raises(ParameterError, match="clamp"):
        client.handle(_dp_round(scheme, {"clip": 100.0, "inner": body["inner"]}))
    assert client.handle(out[0]) is not None  # unchanged: the genuine round goes on


def test_robust_inner_schemes_refuse_what_dp_cannot_account() -> None:
    from privkit.aggregation.robust import Krum, Median, NormBound, RobustAggregation
    from privkit.dp.accounting import make_accountant
    from privkit.dp.clipping import AdaptiveClip

    median = RobustAggregation(Median())
    with pytest.raises(ParameterError, match="distributed"):
        ClientDP(
            median,
            clip=1.0,
            noise_multiplier=1.0,
            mode="distributed",
            noise_shares=3,
            granularity=2.0**-10,
        )
    with pytest.raises(ParameterError, match="adaptive"):
        ClientDP(median, clip=AdaptiveClip(initial=1.0), noise_multiplier=1.0)
    with pytest.raises(ParameterError, match="sensitivity of a sum"):
        ClientDP(
            RobustAggregation(Krum(f=1)),
            clip=1.0,
            noise_multiplier=1.0,
            accountant=make_accountant("rdp", target_delta=1e-5),
        )
    # central noise without ClientDP's accounting is allowed, and norm bounding sums
    ClientDP(median, clip=1.0, noise_multiplier=1.0)
    ClientDP(
        RobustAggregation(NormBound(bound=1.0)),
        clip=1.0,
        noise_multiplier=1.0,
        accountant=make_accountant("rdp", target_delta=1e-5),
    )
