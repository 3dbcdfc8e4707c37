"""CKKS and BFV on TenSEAL: the session contract, exactness, keys and hostile chunks.

Small profiles (N=4096, 128-bit security) keep the file fast.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

pytest.importorskip("tenseal")
hypothesis = pytest.importorskip("hypothesis")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from privkit import wire  # noqa: E402
from privkit.aggregation import run_local  # noqa: E402
from privkit.errors import DecodeError, ParameterError, ProtocolError  # noqa: E402
from privkit.he.tenseal_schemes import (  # noqa: E402
    BFV,
    CKKS,
    PROFILES,
    _is_prime,
    _t_bits_limit,
    batching_prime,
)
from privkit.testing import check_scheme  # noqa: E402

SMALL_CKKS = "ckks-4096"
SMALL_BFV = "bfv-4096"

_KEYS: dict[tuple[object, ...], CKKS | BFV] = {}


def ckks(**kw: object) -> CKKS:
    key = ("ckks", *sorted(kw.items()))
    if key not in _KEYS:
        _KEYS[key] = CKKS.generate(profile=SMALL_CKKS, **kw)  # type: ignore[arg-type]
    out = _KEYS[key]
    assert isinstance(out, CKKS)
    return out


def bfv(**kw: object) -> BFV:
    key = ("bfv", *sorted(kw.items()))
    if key not in _KEYS:
        _KEYS[key] = BFV.generate(profile=SMALL_BFV, **kw)  # type: ignore[arg-type]
    out = _KEYS[key]
    assert isinstance(out, BFV)
    return out


# ----------------------------------------------------------------------------- contract


def test_ckks_conforms() -> None:
    check_scheme(lambda: CKKS.generate(profile=SMALL_CKKS), n_clients=(1, 4), max_examples=8)


def test_bfv_conforms() -> None:
    check_scheme(lambda: BFV.generate(profile=SMALL_BFV), n_clients=(1, 4), max_examples=8)


def test_mean_variants_conform() -> None:
    check_scheme(
        lambda: ckks(mean=True, symmetric=False),
        n_clients=(1, 3),
        max_examples=4,
        hostile=False,
    )
    check_scheme(lambda: bfv(mean=True), n_clients=(1, 3), max_examples=4, hostile=False)


# ----------------------------------------------------------------------------- exactness


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.lists(st.integers(-(2**16), 2**16), min_size=3, max_size=3), min_size=1, max_size=5)
)
def test_bfv_sum_is_exact(rows: list[list[int]]) -> None:
    scheme = bfv()
    updates = {i: np.array(r, dtype=np.float64) / 2**16 for i, r in enumerate(rows)}
    got = run_local(scheme, updates).aggregate
    want = np.sum([np.array(r, dtype=np.int64) for r in rows], axis=0) / 2**16
    np.testing.assert_array_equal(got, want)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1, 1, allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_ckks_sum_within_tolerance(rows: list[list[float]], symmetric: bool) -> None:
    scheme = ckks(symmetric=symmetric)
    updates = {i: np.array(r) for i, r in enumerate(rows)}
    got = run_local(scheme, updates).aggregate
    want = np.sum(np.array(rows), axis=0)
    tol = scheme.tolerance(n_summands=len(rows), bound=1.0)
    assert np.max(np.abs(got - want)) <= tol


@pytest.mark.parametrize("make", [ckks, bfv])
def test_lengths_across_chunks(make: object) -> None:
    assert callable(make)
    scheme = make()
    slots = scheme.profile.slots
    for length in (0, 1, slots - 1, slots, slots + 1):
        x = np.linspace(-0.5, 0.5, length)
        chunks = scheme.encrypt(x)
        assert len(chunks) == math.ceil(length / slots)
        server = scheme.public()
        total = server.add(None, server.parse_upload(chunks, length))
        total = server.add(total, server.parse_upload(scheme.encrypt(x), length))
        out = scheme.decrypt_sum(server.serialize_sum(total), length, 2)
        assert out.shape == (length,)
        assert out.dtype == np.float64
        if length:
            assert np.max(np.abs(out - 2 * x)) <= scheme.tolerance(n_summands=2, bound=0.5)


def test_bytes_per_value_target() -> None:
    # the target: at most half of TenSEAL's common default (~81 bytes/value)
    for scheme in (ckks(), ckks(symmetric=False)):
        chunk = scheme.encrypt(np.zeros(scheme.profile.slots))[0]
        assert len(chunk) / scheme.profile.slots <= 40
    chunk = bfv().encrypt(np.zeros(bfv().profile.slots))[0]
    assert len(chunk) / bfv().profile.slots <= 20


# ----------------------------------------------------------------------------- parameters


def test_overflow_prone_configuration_is_refused_at_setup() -> None:
    with pytest.raises(ParameterError, match="fits at most") as info:
        BFV.generate(profile=SMALL_BFV, max_clients=1 << 20, clip=1e6, frac_bits=30)
    assert "frac_bits <=" not in str(info.value)  # no frac_bits can fix that one
    with pytest.raises(ParameterError, match=r"frac_bits <= \d+.*bfv-8192-wide") as info:
        BFV.generate(profile=SMALL_BFV, weighted=True, max_weight=2.0**16)
    # the suggestions are right: each of them fits
    BFV.generate(profile=SMALL_BFV, weighted=True, max_weight=2.0**16, frac_bits=9)
    BFV.generate(profile="bfv-8192-wide", weighted=True, max_weight=2.0**16)
    BFV.generate(profile=SMALL_BFV, frac_bits=16, clip=2.0**5)
    with pytest.raises(ParameterError, match="fits at most"):
        BFV.generate(profile=SMALL_BFV, frac_bits=16, clip=2.0**10)


def test_plain_modulus_cannot_wrap() -> None:
    scheme = bfv(max_clients=8, clip=2.0, frac_bits=10)
    t = scheme.plain_modulus
    assert _is_prime(t)
    assert t % (2 * scheme.profile.poly_modulus_degree) == 1
    assert t > 2 * 8 * 2 * 2**10
    # max_clients clients at +clip and at -clip decode exactly
    for sign in (1.0, -1.0):
        res = run_local(scheme, {i: np.full(2, sign * 2.0) for i in range(8)})
        np.testing.assert_array_equal(res.aggregate, np.full(2, sign * 16.0))
    with pytest.raises(ParameterError, match="max_clients"):
        scheme.server(client_ids=range(9), length=2)


def test_batching_prime() -> None:
    for n in (4096, 8192):
        for lo in (2, 1000, 2**30, 2**50):
            t = batching_prime(lo, n)
            assert t >= lo
            assert t % (2 * n) == 1
            assert _is_prime(t)
            assert not any(_is_prime(k) for k in range(lo, t) if k % (2 * n) == 1)
    assert [p for p in range(60) if _is_prime(p)] == [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59,
    ]  # fmt: skip
    assert not _is_prime(3215031751)  # strong pseudoprime to bases 2, 3, 5, 7
    assert _is_prime(2**61 - 1)


def test_invalid_arguments() -> None:
    for bad in (
        {"profile": "bfv-4096"},
        {"profile": "nope"},
        {"symmetric": 1},
        {"max_clients": 0},
        {"weighted": True, "mean": True},
        {"max_weight": -1.0},
        {"decryptors": 0},
    ):
        with pytest.raises(ParameterError):
            CKKS.generate(**bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        BFV.generate(profile=SMALL_BFV, clip=0.0)
    with pytest.raises(ParameterError):
        BFV.generate(profile=SMALL_BFV, frac_bits=-1)
    with pytest.raises(ParameterError):
        ckks().tolerance(n_summands=-1, bound=1.0)
    with pytest.raises(ParameterError, match=r"\|x\| <="):
        ckks().encrypt(np.array([ckks().max_value * 2]))
    with pytest.raises(ParameterError, match="NaN"):
        bfv().encrypt(np.array([np.nan]))


def test_profiles_are_within_the_he_standard() -> None:
    limits = {4096: 109, 8192: 218, 16384: 438}
    for p in PROFILES.values():
        assert p.log_q <= limits[p.poly_modulus_degree]
        assert p.security_bits == 128


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize("make", [ckks, bfv])
def test_server_from_public_cannot_decrypt(make: object) -> None:
    assert callable(make)
    key = make()
    server = key.public()
    assert key.can_decrypt
    assert not server.can_decrypt
    assert not server.context.is_private()
    assert server.params() == key.params()
    assert server.fingerprint == key.fingerprint
    chunks = key.encrypt(np.ones(3))
    with pytest.raises(ParameterError, match="no secret key"):
        server.decrypt_sum(chunks, 3, 1)
    with pytest.raises(ParameterError, match="symmetric"):
        server.encrypt(np.ones(3))  # symmetric mode: the server cannot encrypt either


@pytest.mark.parametrize("make", [ckks, bfv])
def test_key_bytes_round_trip(make: object) -> None:
    assert callable(make)
    for symmetric in (True, False):
        key = make(symmetric=symmetric, decryptors=2)
        public = key.to_bytes()
        secret = key.to_bytes(include_secret=True)
        loaded_public = type(key).from_bytes(public)
        loaded_secret = type(key).from_bytes(secret)
        assert not loaded_public.can_decrypt
        assert not loaded_public.context.is_private()
        assert loaded_secret.can_decrypt
        assert loaded_public.params() == loaded_secret.params() == key.params()
        assert len(public) < len(secret)
        with pytest.raises(ParameterError):
            loaded_public.to_bytes(include_secret=True)
        x = np.array([0.25, -0.5])
        chunks = loaded_secret.encrypt(x)
        out = key.decrypt_sum(chunks, 2, 1)
        assert np.max(np.abs(out - x)) <= key.tolerance(n_summands=1, bound=1.0)
    for bad in (b"", b"\x00" * 10, public[:-5], wire.encode_value({"format": 1})):
        with pytest.raises(DecodeError):
            type(key).from_bytes(bad)
    other = CKKS if isinstance(key, BFV) else BFV
    with pytest.raises(DecodeError):
        other.from_bytes(public)


def test_key_bytes_with_a_foreign_context_are_refused() -> None:
    a, b = ckks(), CKKS.generate(profile="ckks-8192")
    value = wire.decode_value(a.to_bytes())
    assert isinstance(value, dict)
    foreign = wire.decode_value(b.to_bytes())
    assert isinstance(foreign, dict)
    value["context"] = foreign["context"]
    with pytest.raises(DecodeError, match="does not match"):
        CKKS.from_bytes(wire.encode_value(value))
    value["context"] = b"\x01" * 100
    with pytest.raises(DecodeError):
        CKKS.from_bytes(wire.encode_value(value))


@pytest.mark.parametrize("make", [ckks, bfv])
def test_another_key_is_refused_at_the_envelope(make: object) -> None:
    assert callable(make)
    scheme = make()
    other = type(scheme).generate(profile=scheme.profile.name)
    assert other.key_id != scheme.key_id
    assert other.fingerprint != scheme.fingerprint
    server = scheme.public().server(client_ids=[0, 1], length=2)
    out = server.start()
    good = scheme.client(client_id=0, update=np.ones(2)).handle(out[0])
    # the other key's client cannot even read the request
    with pytest.raises(DecodeError):
        other.client(client_id=1, update=np.ones(2)).handle(out[1])
    # forged past its own envelope, the reply still carries the other fingerprint
    bad = other.client(client_id=1, update=np.ones(2)).handle(
        out[1].replace(scheme.fingerprint, other.fingerprint)
    )
    assert bad is not None
    with pytest.raises(DecodeError):
        server.step({0: good, 1: bad})
    assert server.step({0: good}) is not None


def test_chunks_under_another_key_are_undetectable_by_parse_upload() -> None:
    # Documented limitation: same parameters, other key -> parses, decrypts to noise.
    # The key id in the fingerprint is what refuses them (test above).
    scheme = ckks()
    other = CKKS.generate(profile=SMALL_CKKS)
    x = np.full(4, 0.5)
    upload = scheme.public().parse_upload(other.encrypt(x), 4)
    total = scheme.serialize_sum(scheme.add(None, upload))
    assert np.max(np.abs(scheme.decrypt_sum(total, 4, 1) - x)) > 1.0


def test_chunks_of_another_profile_or_scheme_are_refused() -> None:
    server = ckks().public()
    with pytest.raises(DecodeError):
        server.parse_upload(CKKS.generate(profile="ckks-8192").encrypt(np.ones(4)), 4)
    with pytest.raises(DecodeError):
        server.parse_upload(bfv().encrypt(np.ones(4)), 4)
    with pytest.raises(DecodeError):
        bfv().public().parse_upload(ckks().encrypt(np.ones(4)), 4)


def test_ckks_chunk_at_another_scale_is_refused() -> None:
    import tenseal as ts

    scheme = ckks()
    odd = ts.ckks_vector(scheme.context, [1.0] * 4, 2.0**30).serialize()
    with pytest.raises(DecodeError, match="fresh ciphertext"):
        scheme.public().parse_upload([odd], 4)


@pytest.mark.parametrize("make", [ckks, bfv])
def test_malformed_chunks_are_decode_errors(make: object) -> None:
    assert callable(make)
    scheme = make()
    server = scheme.public()
    chunks = scheme.encrypt(np.ones(5))
    (chunk,) = chunks
    with pytest.raises(DecodeError, match="expected 1"):
        server.parse_upload([], 5)
    with pytest.raises(DecodeError, match="expected 1"):
        server.parse_upload(chunks * 2, 5)
    with pytest.raises(DecodeError):
        server.parse_upload(chunks, 4)  # wrong length inside the chunk
    with pytest.raises(DecodeError, match="more than"):
        server.parse_upload([chunk + b"\x00" * scheme.profile.max_chunk_bytes], 5)
    rng = np.random.default_rng(7)
    for cut in (0, 1, 16, len(chunk) // 2, len(chunk) - 1):
        with pytest.raises(DecodeError):
            server.parse_upload([chunk[:cut]], 5)
    for _ in range(20):
        pos = int(rng.integers(0, 64))
        flipped = bytearray(chunk)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        with contextlib.suppress(DecodeError):
            server.parse_upload([bytes(flipped)], 5)
    with pytest.raises(DecodeError):
        server.parse_upload([bytes(rng.integers(0, 256, len(chunk), dtype=np.uint8))], 5)


# ----------------------------------------------------------------------------- modes


@pytest.mark.parametrize("make", [ckks, bfv])
def test_public_key_mode_contributors_from_public(make: object) -> None:
    assert callable(make)
    holder = make(symmetric=False)
    public = holder.public()
    server = public.server(client_ids=[0, 1, 2], length=3)
    updates = {0: np.array([0.5, -0.25, 1.0]), 1: np.array([0.0, 0.5, -1.0]), 2: np.ones(3)}
    clients = {
        0: holder.client(client_id=0, update=updates[0]),
        1: public.client(client_id=1, update=updates[1]),
        2: public.client(client_id=2, update=updates[2]),
    }
    out = server.start()
    while not server.done:
        replies = {}
        for cid, msg in out.items():
            reply = clients[cid].handle(msg)
            if reply is not None:
                replies[cid] = reply
        out = server.step(replies)
    want = sum(updates.values())
    assert np.max(np.abs(server.result() - want)) <= holder.tolerance(n_summands=3, bound=1.0)
    # the non-holders were never asked to decrypt
    with pytest.raises(ProtocolError, match="decryption key"):
        run_local(public, updates)


@pytest.mark.parametrize("make", [ckks, bfv])
def test_weighted_mean(make: object) -> None:
    assert callable(make)
    scheme = make(weighted=True, max_weight=10.0)
    updates = {0: np.array([1.0, 0.5]), 1: np.array([-0.5, 0.25])}
    result = run_local(
        scheme, updates, client_kwargs={0: {"weight": 1.0}, 1: {"weight": 3.0}}
    ).aggregate
    np.testing.assert_allclose(result, [-0.125, 0.3125], atol=1e-4)
    with pytest.raises(ParameterError):
        scheme.client(client_id=0, update=np.ones(2), weight=11.0)


def test_bfv_clips_to_clip() -> None:
    scheme = bfv(clip=0.5, frac_bits=8)
    res = run_local(scheme, {0: np.array([3.0, -3.0, 0.25])}).aggregate
    np.testing.assert_array_equal(res, [0.5, -0.5, 0.25])
    assert scheme.input_bound == 0.5


@pytest.mark.parametrize("symmetric", [True, False])
def test_bfv_at_the_noise_limit_still_decrypts_exactly(symmetric: bool) -> None:
    # the largest plaintext modulus setup accepts, and max_clients extreme uploads
    mc, frac = 64, 16
    limit = _t_bits_limit(PROFILES[SMALL_BFV], mc)
    clip = 2.0 ** (limit - 1 - 7 - frac) * 1.5  # t just below 2^limit
    scheme = BFV.generate(
        profile=SMALL_BFV, symmetric=symmetric, max_clients=mc, clip=clip, frac_bits=frac
    )
    assert scheme.plain_modulus.bit_length() == limit
    with pytest.raises(ParameterError):
        BFV.generate(profile=SMALL_BFV, max_clients=mc, clip=4 * clip, frac_bits=frac)
    server = scheme.public()
    x = np.full(scheme.profile.slots, clip)
    x[::2] = -clip
    total = None
    for _ in range(mc):
        total = server.add(total, server.parse_upload(scheme.encrypt(x), x.size))
    assert total is not None
    out = scheme.decrypt_sum(server.serialize_sum(total), x.size, mc)
    np.testing.assert_array_equal(out, np.rint(x * 2**frac) * mc / 2**frac)
