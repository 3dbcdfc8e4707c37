"""SecAgg / SecAgg+: conformance, dropouts at every exchange, privacy invariants, authentication."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privkit import wire
from privkit.aggregation import run_local
from privkit.encoding import FixedPoint
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.identity import NodeIdentity, Roster
from privkit.secagg import SecAgg, guarantees
from privkit.secagg.graph import degree_for, neighbourhoods, resolve_threshold
from privkit.testing import check_scheme

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exact_sum(updates: Mapping[int, np.ndarray], ids: Any, clip: float) -> np.ndarray:
    return np.sum([np.clip(updates[c], -clip, clip) for c in ids], axis=0)


def drive(
    scheme: SecAgg,
    updates: Mapping[Any, np.ndarray],
    *,
    dropouts: Mapping[int, set[Any]] | None = None,
    client_kwargs: Mapping[Any, Mapping[str, object]] | None = None,
    tap: list[tuple[int, Any, bytes]] | None = None,
) -> tuple[Any, Any]:
    """Run a round by hand; record every client reply in ``tap`` as (exchange, id, bytes)."""
    ids = list(updates)
    length = next(iter(updates.values())).size
    server = scheme.server(client_ids=ids, length=length)
    clients = {
        c: scheme.client(client_id=c, update=updates[c], **dict((client_kwargs or {}).get(c, {})))
        for c in ids
    }
    gone: set[Any] = set()
    out = server.start()
    while not server.done:
        k = server.exchange
        gone |= set((dropouts or {}).get(k, set()))
        replies = {}
        for c, msg in out.items():
            if c in gone:
                continue
            reply = clients[c].handle(msg)
            if reply is not None:
                replies[c] = reply
                if tap is not None:
                    tap.append((k, c, reply))
        out = server.step(replies)
    return server.result(), server.survivors


# ---------------------------------------------------------------- conformance harness


@pytest.mark.parametrize(
    "make",
    [
        lambda: SecAgg(threshold=0.6, max_clients=16),
        lambda: SecAgg(threshold=2, mean=True, max_clients=16),
        lambda: SecAgg(threshold=0.5, neighbours=2, max_clients=16),
        lambda: SecAgg(threshold=3, neighbours=4, bits=64, max_clients=16),
    ],
    ids=["secagg", "secagg-mean", "secagg+k2", "secagg+k4-64bit"],
)
def test_check_scheme_passes(make: Any) -> None:
    check_scheme(make, n_clients=(3, 7), length=(1, 16), max_examples=12)


# ---------------------------------------------------------------- dropouts


@SLOW
@given(
    n=st.integers(3, 10),
    frac=st.sampled_from([0.5, 0.6, 0.75, 1.0]),
    k=st.sampled_from([None, 2, 4]),
    length=st.sampled_from([1, 7, 300]),
    data=st.data(),
)
def test_any_dropout_schedule_gives_the_exact_sum_or_a_clear_error(
    n: int, frac: float, k: int | None, length: int, data: st.DataObject
) -> None:
    scheme = SecAgg(threshold=frac, neighbours=k, max_clients=16)
    try:
        degree, t = scheme.group(n)
    except ParameterError:
        return  # the threshold does not fit this many clients: refused at setup
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    updates = {c: rng.uniform(-1.2, 1.2, length) for c in range(n)}
    dropped = data.draw(st.lists(st.sampled_from(range(n)), unique=True, max_size=n))
    stages = [data.draw(st.integers(0, 3)) for _ in dropped]
    schedule: dict[int, set[int]] = {}
    for c, stage in zip(dropped, stages, strict=True):
        schedule.setdefault(stage, set()).add(c)
    if len(dropped) <= degree + 1 - t:
        # Within the design's tolerance the round must complete.
        result, survivors = drive(scheme, updates, dropouts=schedule)
    else:
        try:
            result, survivors = drive(scheme, updates, dropouts=schedule)
        except ProtocolError as exc:
            message = str(exc)
            assert any(word in message for word in ("need", "threshold", "remain")), message
            return
    never_dropped = set(range(n)) - set(dropped)
    assert never_dropped <= set(survivors)
    assert not set(survivors) & schedule.get(0, set())
    assert not set(survivors) & schedule.get(1, set())
    assert not set(survivors) & schedule.get(2, set())
    expected = exact_sum(updates, survivors, scheme.encoding.clip)
    assert np.max(np.abs(result - expected)) <= scheme.encoding.max_error(len(survivors))


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_below_threshold_fails_with_counts(stage: int) -> None:
    scheme = SecAgg(threshold=4, max_clients=16)
    updates = {c: np.ones(5) for c in range(5)}
    with pytest.raises(ProtocolError, match=r"4") as err:
        drive(scheme, updates, dropouts={stage: {0, 1}})
    assert any(ch.isdigit() for ch in str(err.value))


def test_dropping_after_masking_still_counts_the_input() -> None:
    # Clients that uploaded their masked input and then vanished are in the sum.
    scheme = SecAgg(threshold=3, max_clients=16)
    updates = {c: np.full(4, 0.1 * (c + 1)) for c in range(6)}
    result, survivors = drive(scheme, updates, dropouts={3: {4, 5}})
    assert survivors == (0, 1, 2, 3, 4, 5)
    np.testing.assert_allclose(result, np.full(4, 2.1), atol=1e-6)


@pytest.mark.parametrize("length", [0, 1, 100_003])
def test_vector_lengths(length: int) -> None:
    scheme = SecAgg(threshold=0.6, neighbours=2, max_clients=16)
    rng = np.random.default_rng(5)
    updates = {c: rng.uniform(-1, 1, length) for c in range(6)}
    result, survivors = drive(scheme, updates, dropouts={2: {1}})
    assert result.shape == (length,)
    expected = exact_sum(updates, survivors, 1.0)
    assert np.max(np.abs(result - expected), initial=0.0) <= scheme.encoding.max_error(5)


# ---------------------------------------------------------------- weighted mean


@SLOW
@given(n=st.integers(3, 8), data=st.data())
def test_weighted_mean(n: int, data: st.DataObject) -> None:
    scheme = SecAgg(threshold=2, weighted=True, max_weight=100.0, max_clients=16)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    updates = {c: rng.uniform(-1, 1, 6) for c in range(n)}
    weights = {c: data.draw(st.floats(0.5, 100.0)) for c in range(n)}
    late = data.draw(st.sets(st.sampled_from(range(n)), max_size=n - 2))
    result, survivors = drive(
        scheme,
        updates,
        dropouts={2: late},
        client_kwargs={c: {"weight": weights[c]} for c in range(n)},
    )
    num = sum(Fraction(weights[c]) * np.vectorize(Fraction)(updates[c]) for c in survivors)
    den = sum(Fraction(weights[c]) for c in survivors)
    expected = np.array([float(v / den) for v in num])
    codec = scheme.encoding
    bound = 2 * codec.max_error(len(survivors)) / float(den) * (1 + 1.0) + 1e-12
    assert np.max(np.abs(result - expected)) <= bound


def test_weight_rules() -> None:
    with pytest.raises(ParameterError, match="weighted=True"):
        SecAgg(threshold=2).client(client_id=0, update=np.ones(2), weight=2.0)
    with pytest.raises(ParameterError, match="weight"):
        SecAgg(threshold=2, weighted=True).client(client_id=0, update=np.ones(2), weight=2.0)
    scheme = SecAgg(threshold=2, weighted=True, max_weight=5.0)
    with pytest.raises(ProtocolError, match="zero"):
        drive(
            scheme,
            {c: np.ones(2) for c in range(3)},
            client_kwargs={c: {"weight": 0.0} for c in range(3)},
        )


# ---------------------------------------------------------------- privacy invariants


def _unmask_payloads(tap: list[tuple[int, Any, bytes]], last: int) -> list[dict[str, Any]]:
    out = []
    for k, _, raw in tap:
        if k == last:
            body = wire.decode(raw).body
            assert isinstance(body, dict)
            out.append(body["data"])
    return out


@SLOW
@given(n=st.integers(4, 9), k=st.sampled_from([None, 2, 4]), data=st.data())
def test_server_never_gets_both_shares_of_one_client(
    n: int, k: int | None, data: st.DataObject
) -> None:
    scheme = SecAgg(threshold=2, neighbours=k, max_clients=16)
    late = data.draw(st.sets(st.sampled_from(range(n)), max_size=n // 2))
    tap: list[tuple[int, Any, bytes]] = []
    try:
        drive(scheme, {c: np.ones(3) for c in range(n)}, dropouts={2: late}, tap=tap)
    except ProtocolError:
        return
    b_owners: set[Any] = set()
    s_owners: set[Any] = set()
    for payload in _unmask_payloads(tap, last=3):
        b_owners |= set(payload["b_from"])
        s_owners |= set(payload["s_from"])
    assert not b_owners & s_owners
    assert s_owners <= late  # key shares only of clients that dropped before uploading


def test_masked_upload_is_ring_width_and_looks_uniform() -> None:
    n_params = 200_000
    scheme = SecAgg(threshold=2, max_clients=16)
    updates = {c: np.zeros(n_params) for c in range(3)}  # maximally non-uniform input
    tap: list[tuple[int, Any, bytes]] = []
    drive(scheme, updates, tap=tap)
    uploads = [raw for k, _, raw in tap if k == 2]
    assert len(uploads) == 3
    for raw in uploads:
        assert len(raw) <= 4 * n_params + 256  # 4 bytes per parameter plus the envelope
        body = wire.decode(raw).body
        assert isinstance(body, dict)
        y = body["data"]["y"]
        assert y.dtype == np.uint32
        assert not np.array_equal(y, scheme.encoding.encode(np.zeros(n_params)))
        # chi-square of the top byte over 256 bins: mean 255, sd ~22.6; 400 is > 6 sd.
        counts = np.bincount((y >> 24).astype(np.int64), minlength=256)
        expected = n_params / 256
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        assert chi2 < 400, chi2


def test_tampered_share_ciphertext_is_refused_by_the_client() -> None:
    scheme = SecAgg(threshold=2, max_clients=16)
    ids = [0, 1, 2]
    server = scheme.server(client_ids=ids, length=2)
    clients = {c: scheme.client(client_id=c, update=np.ones(2)) for c in ids}
    out = server.start()
    for _ in range(2):
        out = server.step({c: clients[c].handle(m) for c, m in out.items()})
    msg = wire.decode(out[0])
    body = msg.body
    assert isinstance(body, dict)
    data = body["data"]
    data["ct"][0] = bytes([data["ct"][0][0] ^ 1]) + data["ct"][0][1:]
    forged = wire.encode(msg.type_tag, body, fingerprint=msg.fingerprint)
    with pytest.raises(ProtocolError, match="authenticate"):
        clients[0].handle(forged)
    # the session is still usable with the genuine message
    assert clients[0].handle(out[0]) is not None


# ---------------------------------------------------------------- authenticated mode


def _federation(n: int) -> tuple[Roster, dict[int, NodeIdentity]]:
    identities = {c: NodeIdentity.generate() for c in range(n)}
    return Roster({c: i.public_key for c, i in identities.items()}), identities


def test_authenticated_round_with_dropouts() -> None:
    roster, identities = _federation(6)
    scheme = SecAgg(threshold=3, roster=roster, max_clients=16)
    updates = {c: np.full(3, 0.25) for c in range(6)}
    result = run_local(
        scheme,
        updates,
        dropouts={1: [5], 3: [4]},
        client_kwargs={c: {"identity": identities[c]} for c in range(6)},
    )
    assert result.survivors == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(result.aggregate, np.full(3, 1.25), atol=1e-6)


def test_server_cannot_invent_or_impersonate_clients() -> None:
    roster, identities = _federation(4)
    scheme = SecAgg(threshold=2, roster=roster, max_clients=16)
    server = scheme.server(client_ids=[0, 1, 2, 3], length=2)
    clients = {
        c: scheme.client(client_id=c, update=np.ones(2), identity=identities[c]) for c in range(4)
    }
    out = server.start()
    replies = {c: clients[c].handle(m) for c, m in out.items()}
    # A reply for client 3 made by someone without client 3's key is refused.
    impostor_scheme = SecAgg(threshold=2, roster=roster, max_clients=16)
    impostor = impostor_scheme.client(client_id=3, update=np.ones(2), identity=identities[3])
    forged_reply = impostor.handle(out[3])  # signed, but for the same session: fine...
    assert forged_reply is not None
    body = wire.decode(forged_reply)
    fake = dict(body.body)  # type: ignore[arg-type]
    data = dict(fake["data"])
    data["sig"] = bytes(64)
    fake["data"] = data
    with pytest.raises(ProtocolError, match="signature"):
        server.step({**replies, 3: wire.encode(body.type_tag, fake, fingerprint=body.fingerprint)})
    # A client refuses neighbour keys that the roster's identity did not sign.
    out = server.step(replies)
    msg = wire.decode(out[0])
    b = dict(msg.body)  # type: ignore[arg-type]
    d = dict(b["data"])
    d["sig"] = [bytes(64), *d["sig"][1:]]
    b["data"] = d
    with pytest.raises(ProtocolError, match="not signed"):
        clients[0].handle(wire.encode(msg.type_tag, b, fingerprint=msg.fingerprint))


def test_clients_require_signed_survivor_sets() -> None:
    roster, identities = _federation(4)
    scheme = SecAgg(threshold=3, roster=roster, max_clients=16)
    server = scheme.server(client_ids=[0, 1, 2, 3], length=2)
    clients = {
        c: scheme.client(client_id=c, update=np.ones(2), identity=identities[c]) for c in range(4)
    }
    out = server.start()
    for _ in range(4):
        out = server.step({c: clients[c].handle(m) for c, m in out.items()})
    assert server.exchange == 4
    msg = wire.decode(out[0])
    b = dict(msg.body)  # type: ignore[arg-type]
    d = dict(b["data"])
    d["signers"], d["sigs"] = d["signers"][:2], d["sigs"][:2]
    b["data"] = d
    with pytest.raises(ProtocolError, match="signed the survivor set"):
        clients[0].handle(wire.encode(msg.type_tag, b, fingerprint=msg.fingerprint))


def test_identity_rules() -> None:
    roster, identities = _federation(3)
    scheme = SecAgg(threshold=2, roster=roster)
    with pytest.raises(ParameterError, match="identity"):
        scheme.client(client_id=0, update=np.ones(2))
    with pytest.raises(ParameterError, match="roster"):
        scheme.client(client_id=0, update=np.ones(2), identity=identities[1])
    with pytest.raises(ParameterError, match="roster"):
        SecAgg(threshold=2).client(client_id=0, update=np.ones(2), identity=identities[0])
    with pytest.raises(ParameterError, match="roster"):
        scheme.server(client_ids=[0, 1, 7], length=2)


# ---------------------------------------------------------------- parameters and graph


def test_parameter_validation() -> None:
    with pytest.raises(ParameterError):
        SecAgg(threshold=1)
    with pytest.raises(ParameterError):
        SecAgg(threshold=1.5)
    with pytest.raises(ParameterError):
        SecAgg(threshold=2, neighbours=1)
    with pytest.raises(ParameterError):
        SecAgg(threshold=2, bits=16)
    with pytest.raises(ParameterError):
        SecAgg(threshold=2, mean=True, weighted=True)
    with pytest.raises(ParameterError, match="max_clients"):
        SecAgg(threshold=2, encoding=FixedPoint(bits=32, frac_bits=28, clip=1.0), max_clients=64)
    with pytest.raises(ParameterError, match="max_clients"):
        SecAgg(threshold=2, max_clients=4).server(client_ids=range(5), length=3)
    with pytest.raises(ParameterError, match="exceeds"):
        SecAgg(threshold=9).server(client_ids=range(5), length=3)


def test_client_checks_the_announced_threshold_and_length() -> None:
    scheme = SecAgg(threshold=3)
    server = scheme.server(client_ids=[0, 1, 2, 3], length=4)
    out = server.start()
    other = SecAgg(threshold=3).client(client_id=0, update=np.ones(5))
    with pytest.raises(ProtocolError, match="coordinates"):
        other.handle(out[0])
    with pytest.raises(DecodeError):  # another scheme's parameters: refused by fingerprint
        SecAgg(threshold=2).client(client_id=0, update=np.ones(4)).handle(out[0])


@given(n=st.integers(2, 60), k=st.integers(2, 12), seed=st.binary(min_size=32, max_size=32))
def test_graph_is_symmetric_regular_and_deterministic(n: int, k: int, seed: bytes) -> None:
    degree = degree_for(k, n)
    graph = neighbourhoods(list(range(n)), degree=degree, seed=seed)
    assert graph == neighbourhoods(list(range(n)), degree=degree, seed=seed)
    for i, nbrs in enumerate(graph):
        assert i not in nbrs
        assert len(nbrs) == degree
        assert all(i in graph[j] for j in nbrs)


def test_graph_neighbourhoods_vary_with_the_seed() -> None:
    graphs = {
        tuple(sorted(neighbourhoods(list(range(50)), degree=4, seed=bytes([s]) * 32)[0]))
        for s in range(20)
    }
    assert len(graphs) > 15


def test_threshold_resolution_and_guarantees() -> None:
    assert resolve_threshold(0.5, 11) == 6
    assert resolve_threshold(3, 11) == 3
    with pytest.raises(ParameterError):
        resolve_threshold(12, 11)
    g = guarantees(n_clients=100, threshold=0.5, neighbours=10, dropout_rate=0.1, collusion=0.1)
    assert (g.degree, g.holders, g.threshold, g.max_dropouts_always_ok) == (10, 11, 6, 5)
    binom = pytest.importorskip("scipy.stats").binom
    # union bounds over 100 neighbourhoods of 11 holders (oracle: scipy)
    assert g.p_round_fails == pytest.approx(100 * binom.sf(5, 11, 0.1), rel=1e-9)  # > 5 drop
    assert g.p_privacy_breach == pytest.approx(100 * binom.sf(5, 11, 0.1), rel=1e-9)  # >= 6 collude
    stricter = guarantees(n_clients=100, threshold=0.8, neighbours=10, dropout_rate=0.1)
    assert stricter.p_round_fails > g.p_round_fails
    assert stricter.p_privacy_breach < g.p_privacy_breach
    complete = guarantees(n_clients=100, threshold=51)
    assert complete.degree == 99
    assert complete.max_dropouts_always_ok == 49


def test_a_live_client_is_never_silently_left_out() -> None:
    # Regression: in SecAgg+ with k=2, t=2, if both neighbours of a live client drop
    # while shares are exchanged, its self mask can no longer be removed.  The round
    # must fail with ProtocolError rather than return a sum that quietly omits it.
    scheme = SecAgg(threshold=2, neighbours=2, max_clients=16)
    ids = list(range(6))
    server = scheme.server(client_ids=ids, length=3)
    clients = {c: scheme.client(client_id=c, update=np.ones(3)) for c in ids}
    out = server.start()
    out = server.step({c: clients[c].handle(m) for c, m in out.items()})
    victim = 0
    neighbours = set(server._nbrs[victim])  # the random ring of this session
    assert len(neighbours) == 2
    replies = {c: clients[c].handle(m) for c, m in out.items() if c not in neighbours}
    with pytest.raises(ProtocolError, match=r"client 0's keys are held by 1 clients.*2 are needed"):
        server.step(replies)
    assert server.failed
