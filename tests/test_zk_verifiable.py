"""Verifiable aggregation over SecAgg (privkit.zk.verifiable): honest rounds verify, and an
aggregator who drops, alters or replays one client's contribution is caught."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privkit.aggregation import run_local
from privkit.clientid import ClientId
from privkit.encoding import FixedPoint
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity import NodeIdentity, Roster
from privkit.secagg import SecAgg
from privkit.wire.values import decode_value, encode_value
from privkit.zk import verifiable as v
from privkit.zk.group import ORDER, Scalar
from privkit.zk.pedersen import Commitment, Opening

MAX_CLIENTS = 8
LENGTH = 24
SCHEME = SecAgg(threshold=2, max_clients=MAX_CLIENTS)
BLINDING = v.blinding_scheme(MAX_CLIENTS, threshold=2)
ENC = SCHEME.encoding
PRE_SHARE, POST_UPLOAD = 1, 3  # dropout exchanges: excluded from / included in the sum


@dataclass
class Round:
    round_id: bytes
    updates: dict[ClientId, npt.NDArray[np.float64]]
    records: list[v.ClientCommitment]
    openings: dict[ClientId, Opening]
    limbs: dict[ClientId, npt.NDArray[np.float64]]
    claim: v.AggregateClaim


def updates_for(n: int, seed: int, length: int = LENGTH) -> dict[ClientId, npt.NDArray[np.float64]]:
    rng = np.random.default_rng(seed)  # test data only
    return {c: rng.normal(0.0, 0.2, length) for c in range(n)}


def run_round(
    round_id: bytes,
    updates: Mapping[ClientId, npt.NDArray[np.float64]],
    *,
    dropouts: Mapping[int, Sequence[int]] | None = None,
    identities: Mapping[ClientId, NodeIdentity] | None = None,
) -> Round:
    records, openings, limbs = [], {}, {}
    for cid, update in updates.items():
        ident = identities[cid] if identities else None
        rec, opening = v.commit_client_update(
            update, round_id=round_id, client_id=cid, encoding=ENC, identity=ident
        )
        records.append(rec)
        openings[cid] = opening
        limbs[cid] = v.blinding_limbs(opening.blinding)
    res = run_local(SCHEME, updates, dropouts=dropouts)
    bres = run_local(BLINDING, limbs, dropouts=dropouts)
    claim = v.make_claim(
        round_id,
        aggregate=res.aggregate,
        survivors=res.survivors,
        blinding_limb_sum=bres.aggregate,
        blinding_survivors=bres.survivors,
    )
    return Round(round_id, dict(updates), records, openings, limbs, claim)


def with_claim(claim: v.AggregateClaim, **changes: object) -> v.AggregateClaim:
    fields: dict[str, object] = {
        "round_id": claim.round_id,
        "survivors": claim.survivors,
        "aggregate": claim.aggregate,
        "blinding_sum": claim.blinding_sum,
    }
    fields.update(changes)
    return v.AggregateClaim(**fields)  # type: ignore[arg-type]


def decoded(update: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return ENC.decode(ENC.encode(update))


def caught(claim: v.AggregateClaim, records: Sequence[v.ClientCommitment], match: str) -> None:
    with pytest.raises(VerificationError, match=match):
        v.verify_aggregate(claim, records, encoding=ENC)


SUM_MISMATCH = "does not open to the aggregate"


# ---------------------------------------------------------------- honest rounds


def test_honest_round_verifies() -> None:
    rnd = run_round(b"round-1", updates_for(4, 1))
    assert rnd.claim.survivors == (0, 1, 2, 3)
    exact = sum(decoded(u) for u in rnd.updates.values())
    assert np.array_equal(rnd.claim.aggregate, exact)
    v.verify_aggregate(rnd.claim, rnd.records, encoding=ENC)


def test_honest_round_with_dropouts_verifies() -> None:
    rnd = run_round(b"round-d", updates_for(6, 2), dropouts={PRE_SHARE: [1], POST_UPLOAD: [4]})
    assert rnd.claim.survivors == (0, 2, 3, 4, 5)
    # client 1 committed but dropped: its commitment is published and ignored
    v.verify_aggregate(rnd.claim, rnd.records, encoding=ENC)
    survivors_only = [r for r in rnd.records if r.client_id != 1]
    v.verify_aggregate(rnd.claim, survivors_only, encoding=ENC)


def test_signed_commitments_verify_with_roster() -> None:
    ids: dict[ClientId, NodeIdentity] = {c: NodeIdentity.generate() for c in range(3)}
    roster = Roster({c: i.public_key for c, i in ids.items()})
    rnd = run_round(b"round-s", updates_for(3, 3), identities=ids)
    assert all(r.signature is not None for r in rnd.records)
    v.verify_aggregate(rnd.claim, rnd.records, encoding=ENC, roster=roster)
    unsigned = [
        v.ClientCommitment(r.round_id, r.client_id, r.length, r.commitment) for r in rnd.records
    ]
    with pytest.raises(VerificationError, match="unsigned"):
        v.verify_aggregate(rnd.claim, unsigned, encoding=ENC, roster=roster)


def test_structured_updates_commit_like_the_secure_sum() -> None:
    rng = np.random.default_rng(4)
    ups: dict[ClientId, object] = {
        c: {"b": rng.normal(size=3), "w": rng.normal(0, 0.3, (2, 3))} for c in range(3)
    }
    records, limbs = [], {}
    for cid, u in ups.items():
        rec, op = v.commit_client_update(u, round_id=b"s", client_id=cid, encoding=ENC)
        records.append(rec)
        limbs[cid] = v.blinding_limbs(op.blinding)
    res, bres = run_local(SCHEME, ups), run_local(BLINDING, limbs)
    claim = v.make_claim(
        b"s",
        aggregate=res.aggregate,
        survivors=res.survivors,
        blinding_limb_sum=bres.aggregate,
        blinding_survivors=bres.survivors,
    )
    assert records[0].length == 9
    v.verify_aggregate(claim, records, encoding=ENC)


# ---------------------------------------------------------------- a cheating aggregator


def test_dropped_from_sum_but_kept_in_survivors_is_caught() -> None:
    ups = updates_for(5, 5)
    rnd = run_round(b"r", ups)
    # the aggregator leaves client 2 out of both sums but still lists it as a survivor
    partial = run_round(b"r", ups, dropouts={PRE_SHARE: [2]})
    assert 2 not in partial.claim.survivors
    cheat = with_claim(partial.claim, survivors=rnd.claim.survivors)
    caught(cheat, rnd.records, SUM_MISMATCH)
    # ... or subtracts its update from the honest sum and keeps the full blinding sum
    cheat = with_claim(rnd.claim, aggregate=rnd.claim.aggregate - decoded(ups[2]))
    caught(cheat, rnd.records, SUM_MISMATCH)


def test_removed_from_survivors_but_in_sum_is_caught() -> None:
    rnd = run_round(b"r", updates_for(5, 6))
    survivors = tuple(c for c in rnd.claim.survivors if c != 3)
    caught(with_claim(rnd.claim, survivors=survivors), rnd.records, SUM_MISMATCH)
    # even with the blinding sum corrected for client 3 (were it known)
    blinding = rnd.claim.blinding_sum - rnd.openings[3].blinding
    caught(
        with_claim(rnd.claim, survivors=survivors, blinding_sum=blinding),
        rnd.records,
        SUM_MISMATCH,
    )
    # the honest claim for the smaller set needs the smaller sum: then it verifies
    honest = with_claim(
        rnd.claim,
        survivors=survivors,
        blinding_sum=blinding,
        aggregate=rnd.claim.aggregate - decoded(rnd.updates[3]),
    )
    v.verify_aggregate(honest, rnd.records, encoding=ENC)


@pytest.mark.parametrize("coordinate", [0, LENGTH // 2, LENGTH - 1])
@pytest.mark.parametrize("step", [1, -1])
def test_one_grid_step_is_caught(coordinate: int, step: int) -> None:
    rnd = run_round(b"r", updates_for(3, 7))
    agg = rnd.claim.aggregate.copy()
    agg[coordinate] += step * ENC.resolution
    caught(with_claim(rnd.claim, aggregate=agg), rnd.records, SUM_MISMATCH)


def test_off_grid_and_out_of_range_aggregates_are_caught() -> None:
    rnd = run_round(b"r", updates_for(3, 8))
    agg = rnd.claim.aggregate.copy()
    agg[1] += ENC.resolution / 2
    caught(with_claim(rnd.claim, aggregate=agg), rnd.records, "grid.*coordinate 1")
    agg = rnd.claim.aggregate.copy()
    agg[0] = 3 * ENC.clip + 1
    caught(with_claim(rnd.claim, aggregate=agg), rnd.records, "exceeds")
    agg[0] = np.nan
    caught(with_claim(rnd.claim, aggregate=agg), rnd.records, "non-finite")


def test_replayed_update_is_caught() -> None:
    old = run_round(b"round-1", updates_for(4, 9))
    new_updates = updates_for(4, 10)
    new = run_round(b"round-2", new_updates)
    # the aggregator feeds client 1's round-1 input into round 2 (update and blinding)
    ups = {**new_updates, 1: old.updates[1]}
    limbs = {**new.limbs, 1: old.limbs[1]}
    res, bres = run_local(SCHEME, ups), run_local(BLINDING, limbs)
    cheat = v.make_claim(
        b"round-2",
        aggregate=res.aggregate,
        survivors=res.survivors,
        blinding_limb_sum=bres.aggregate,
        blinding_survivors=bres.survivors,
    )
    caught(cheat, new.records, SUM_MISMATCH)
    # showing client 1's round-1 commitment instead is a replay of another round
    records = [old.records[1] if r.client_id == 1 else r for r in new.records]
    caught(cheat, records, "another round")
    # relabelling the old commitment as round 2 breaks its signature
    ids: dict[ClientId, NodeIdentity] = {c: NodeIdentity.generate() for c in range(2)}
    roster = Roster({c: i.public_key for c, i in ids.items()})
    a = run_round(b"a", updates_for(2, 11), identities=ids)
    b = run_round(b"b", updates_for(2, 12), identities=ids)
    old_rec = a.records[0]
    relabelled = v.ClientCommitment(
        b"b", old_rec.client_id, old_rec.length, old_rec.commitment, old_rec.signature
    )
    with pytest.raises(VerificationError, match="does not verify"):
        v.verify_aggregate(b.claim, [relabelled, b.records[1]], encoding=ENC, roster=roster)


def test_wrong_blinding_sum_is_caught() -> None:
    rnd = run_round(b"r", updates_for(3, 13))
    for wrong in (rnd.claim.blinding_sum + 1, Scalar.from_int(0), Scalar.random()):
        caught(with_claim(rnd.claim, blinding_sum=wrong), rnd.records, SUM_MISMATCH)


def test_commitment_set_checks() -> None:
    rnd = run_round(b"r", updates_for(3, 14))
    caught(rnd.claim, rnd.records[1:], "survivor 0 has no commitment")
    caught(rnd.claim, [*rnd.records, rnd.records[2]], "more than one commitment")
    other = v.commit_client_update(np.zeros(LENGTH + 1), round_id=b"r", client_id=0, encoding=ENC)[
        0
    ]
    caught(rnd.claim, [other, *rnd.records[1:]], "committed to 25 values")
    with pytest.raises(ParameterError):
        v.verify_aggregate(rnd.claim, rnd.records[0], encoding=ENC)  # type: ignore[arg-type]


def test_too_many_survivors_for_the_encoding_is_caught() -> None:
    n = ENC.max_summands + 1
    fake = Commitment.from_bytes(bytes(32))
    records = [v.ClientCommitment(b"r", c, 2, fake) for c in range(n)]
    claim = v.AggregateClaim(b"r", tuple(range(n)), np.zeros(2), Scalar.from_int(0))
    caught(claim, records, "without wrapping")


def test_messages_and_reprs_hide_secrets() -> None:
    rnd = run_round(b"r", updates_for(3, 15))
    secrets = [op.blinding.to_bytes().hex() for op in rnd.openings.values()]
    secrets.append(rnd.claim.blinding_sum.to_bytes().hex())
    wrong = with_claim(rnd.claim, blinding_sum=rnd.claim.blinding_sum + 1)
    with pytest.raises(VerificationError) as info:
        v.verify_aggregate(wrong, rnd.records, encoding=ENC)
    shown = str(info.value) + repr(rnd.claim) + repr(rnd.records) + repr(rnd.openings)
    assert not any(s in shown for s in secrets)


# ---------------------------------------------------------------- blinding limbs


@pytest.mark.parametrize("value", [0, 1, ORDER - 1, 1 << 252, (1 << 16) - 1, 1 << 240])
def test_limbs_round_trip(value: int) -> None:
    limbs = v.blinding_limbs(Scalar.from_int(value))
    assert limbs.shape == (v.BLINDING_LIMBS,)
    assert limbs.dtype == np.float64
    assert float(limbs.max()) <= 65535
    assert float(limbs.min()) >= 0
    assert v.blinding_from_limb_sum(limbs) == Scalar.from_int(value)


@given(st.lists(st.integers(0, ORDER - 1), min_size=1, max_size=20))
@settings(max_examples=40, deadline=None)
def test_limb_sums_recombine_to_the_blinding_sum(values: list[int]) -> None:
    total = np.sum([v.blinding_limbs(Scalar.from_int(x)) for x in values], axis=0)
    assert v.blinding_from_limb_sum(total) == Scalar.from_int(sum(values) % ORDER)
    assert v.blinding_from_limb_sum(total.astype(np.int64)) == Scalar.from_int(sum(values) % ORDER)


def test_limb_sum_rejects_inexact_input() -> None:
    good = np.zeros(v.BLINDING_LIMBS)
    for bad in (good[:-1], good + 0.5, good - 1, np.full(16, 2.0**53), np.zeros((2, 16))):
        with pytest.raises(ParameterError):
            v.blinding_from_limb_sum(bad)
    with pytest.raises(ParameterError):
        v.blinding_limbs(5)  # type: ignore[arg-type]


def test_blinding_encoding_is_exact_and_bounded() -> None:
    enc = v.blinding_encoding(MAX_CLIENTS)
    assert enc.frac_bits == 0
    assert enc.clip == 65535.0
    assert v.blinding_encoding(32768).max_summands >= 32768
    with pytest.raises(ParameterError, match="bits=64"):
        v.blinding_encoding(40000)
    assert v.blinding_encoding(40000, bits=64).bits == 64
    assert BLINDING.encoding == enc


def test_make_claim_refuses_different_survivors() -> None:
    with pytest.raises(ProtocolError, match="different survivors"):
        v.make_claim(
            b"r",
            aggregate=np.zeros(3),
            survivors=[0, 1, 2],
            blinding_limb_sum=np.zeros(16),
            blinding_survivors=[0, 2],
        )


def test_stochastic_encoding_is_refused() -> None:
    enc = FixedPoint(bits=32, frac_bits=16, clip=1.0, stochastic=True)
    with pytest.raises(ParameterError, match="deterministic"):
        v.commit_client_update(np.zeros(2), round_id=b"r", client_id=0, encoding=enc)
    rnd = run_round(b"r", updates_for(2, 16, length=2))
    with pytest.raises(ParameterError, match="deterministic"):
        v.verify_aggregate(rnd.claim, rnd.records, encoding=enc)


# ---------------------------------------------------------------- serialisation


def test_client_commitment_round_trip_and_malformed() -> None:
    ident = NodeIdentity.generate()
    rec, _ = v.commit_client_update(
        np.ones(4) * 0.1, round_id=b"x", client_id="alice", encoding=ENC, identity=ident
    )
    assert v.ClientCommitment.from_bytes(rec.to_bytes()) == rec
    unsigned = v.ClientCommitment(rec.round_id, rec.client_id, rec.length, rec.commitment)
    assert v.ClientCommitment.from_bytes(unsigned.to_bytes()) == unsigned
    Roster({"alice": ident.public_key}).verify(
        "alice", rec.statement(), rec.signature or b"", context=v.SIGNATURE_CONTEXT
    )
    fields = decode_value(rec.to_bytes())
    assert isinstance(fields, dict)
    data = rec.to_bytes()
    bad_values: list[bytes] = [
        data[:-1],
        data + b"\x00",
        b"",
        b"\x00" * 2000,
        encode_value({**fields, "protocol": "other"}),
        encode_value({**fields, "round": b""}),
        encode_value({**fields, "client": 1.5}),
        encode_value({**fields, "length": -1}),
        encode_value({**fields, "commitment": b"\xff" * 32}),
        encode_value({**fields, "commitment": b"\x00" * 31}),
        encode_value({**fields, "signature": b"\x00" * 63}),
        encode_value({k: x for k, x in fields.items() if k != "signature"}),
        encode_value([1, 2]),
    ]
    for bad in bad_values:
        with pytest.raises(DecodeError):
            v.ClientCommitment.from_bytes(bad)


def test_aggregate_claim_round_trip_and_malformed() -> None:
    rnd = run_round(b"r", updates_for(3, 17), dropouts={PRE_SHARE: [1]})
    data = rnd.claim.to_bytes()
    back = v.AggregateClaim.from_bytes(data, max_length=LENGTH, max_survivors=MAX_CLIENTS)
    assert back == rnd.claim
    assert np.array_equal(back.aggregate, rnd.claim.aggregate)
    v.verify_aggregate(
        back, [v.ClientCommitment.from_bytes(r.to_bytes()) for r in rnd.records], encoding=ENC
    )
    with pytest.raises(DecodeError):
        v.AggregateClaim.from_bytes(data, max_length=LENGTH - 1, max_survivors=MAX_CLIENTS)
    with pytest.raises(DecodeError):
        v.AggregateClaim.from_bytes(data, max_length=LENGTH, max_survivors=1)
    fields = decode_value(data)
    assert isinstance(fields, dict)
    bad_values: list[bytes] = [
        data[:-1],
        data + b"\x00",
        encode_value({**fields, "protocol": "x"}),
        encode_value({**fields, "survivors": [2, 0]}),
        encode_value({**fields, "survivors": [0, 0]}),
        encode_value({**fields, "survivors": []}),
        encode_value({**fields, "survivors": [True]}),
        encode_value({**fields, "aggregate": np.zeros(3, dtype=np.float32)}),
        encode_value({**fields, "aggregate": np.zeros((2, 2))}),
        encode_value({**fields, "blinding": b"\xff" * 32}),
        encode_value({**fields, "blinding": b"\x00" * 31}),
        encode_value({**fields, "round": "r"}),
        encode_value({k: x for k, x in fields.items() if k != "blinding"}),
    ]
    for bad in bad_values:
        with pytest.raises(DecodeError):
            v.AggregateClaim.from_bytes(bad, max_length=LENGTH, max_survivors=MAX_CLIENTS)


def test_records_validate_their_fields() -> None:
    c = Commitment.from_bytes(bytes(32))
    for args in ((b"", 0, 1, c), (b"r", 1.0, 1, c), (b"r", 0, -1, c), (b"r", 0, 1, b"x")):
        with pytest.raises(ParameterError):
            v.ClientCommitment(*args)
    with pytest.raises(ParameterError):
        v.ClientCommitment(b"r", 0, 1, c, b"short")
    with pytest.raises(ParameterError):
        v.AggregateClaim(b"r", (1, 0), np.zeros(2), Scalar.from_int(0))
    with pytest.raises(ParameterError):
        v.AggregateClaim(b"r", (0,), np.zeros((2, 2)), Scalar.from_int(0))


# ---------------------------------------------------------------- property


@st.composite
def rounds(draw: st.DrawFn) -> tuple[dict[ClientId, npt.NDArray[np.float64]], dict[int, list[int]]]:
    n = draw(st.integers(3, 6))
    length = draw(st.integers(1, 6))
    coords = st.floats(-1.5, 1.5, allow_nan=False)  # beyond clip=1 too: clipped alike
    ups: dict[ClientId, npt.NDArray[np.float64]] = {
        c: np.array(draw(st.lists(coords, min_size=length, max_size=length))) for c in range(n)
    }
    order = draw(st.permutations(list(range(n))))
    k = draw(st.integers(0, n - 3))
    pre = draw(st.integers(0, k))
    drops = {PRE_SHARE: order[:pre], POST_UPLOAD: order[pre:k]}
    return ups, {e: c for e, c in drops.items() if c}


@given(rounds())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_rounds_verify(
    case: tuple[dict[ClientId, npt.NDArray[np.float64]], dict[int, list[int]]],
) -> None:
    ups, drops = case
    rnd = run_round(b"h", ups, dropouts=drops)
    expected = sorted(set(ups) - set(drops.get(PRE_SHARE, [])))
    assert list(rnd.claim.survivors) == expected
    v.verify_aggregate(rnd.claim, rnd.records, encoding=ENC)
    agg = rnd.claim.aggregate.copy()
    agg[0] += ENC.resolution
    caught(with_claim(rnd.claim, aggregate=agg), rnd.records, SUM_MISMATCH)
