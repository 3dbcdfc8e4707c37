"""Packed Paillier (privkit.he.paillier): layout, exactness, phe compatibility, hostility.

Keys are 1024-bit with allow_insecure=True (fast), generated once per module, plus one
2048-bit round trip.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("gmpy2")
phe = pytest.importorskip("phe")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from privkit.aggregation import run_local  # noqa: E402
from privkit.errors import DecodeError, ParameterError, ProtocolError  # noqa: E402
from privkit.he.paillier import Paillier  # noqa: E402
from privkit.testing import check_scheme  # noqa: E402

BITS = 1024


@pytest.fixture(scope="module")
def keys() -> list[Paillier]:
    return [Paillier.generate(n_length=BITS, allow_insecure=True) for _ in range(3)]


@pytest.fixture(scope="module")
def key(keys: list[Paillier]) -> Paillier:
    return keys[0]


def _rebuild(scheme: Paillier, **kw: object) -> Paillier:
    """The same key with other parameters."""
    pub, priv = scheme.phe_keys()
    return Paillier.from_phe(pub, priv, allow_insecure=True, **kw)


# ------------------------------------------------------------------ layout


def test_layout_numbers_at_2048_bits_10_clients() -> None:
    s = Paillier._check_layout_only  # parameter checks only, no key generation
    s(2048, 10, 1.0, None, False, 1.0, False, 3)
    scheme = Paillier.generate(n_length=2048, max_clients=10)
    assert scheme.frac_bits == 14  # 16-bit values: 2 * qmax = 2**15 < 2**16
    assert scheme.slot_bits == 19  # 10 * 2**15 < 2**19
    assert scheme.slots_per_plaintext == (2048 - 2) // 19 == 107
    assert scheme.ciphertext_bytes == 512
    v = np.linspace(-1.0, 1.0, 250)
    cts = scheme.encrypt(v)
    assert len(cts) == 3
    assert all(len(c) == 512 for c in cts)
    pub = scheme.public()
    total = pub.add(None, pub.parse_upload(cts, v.size))
    total = pub.add(total, pub.parse_upload(scheme.encrypt(-v), v.size))
    out = scheme.decrypt_sum(pub.serialize_sum(total), v.size, 2)
    assert np.all(np.abs(out) <= scheme.tolerance(n_summands=2, bound=1.0))


def test_slot_overflow_config_is_refused() -> None:
    with pytest.raises(ParameterError, match="slots"):
        Paillier.generate(n_length=BITS, allow_insecure=True, frac_bits=40, max_clients=1 << 20)
    with pytest.raises(ParameterError):
        Paillier.generate(n_length=BITS, allow_insecure=True, clip=1e-9, frac_bits=2)


def test_too_many_clients_for_the_layout(key: Paillier) -> None:
    small = _rebuild(key, max_clients=2)
    with pytest.raises(ParameterError, match="max_clients"):
        small.server(client_ids=[0, 1, 2], length=2)
    cts = small.encrypt(np.zeros(2))
    with pytest.raises(ProtocolError):
        small.decrypt_sum(cts, 2, 3)


def test_key_size_refusal() -> None:
    with pytest.raises(ParameterError, match="insecure"):
        Paillier.generate(n_length=1024)
    pub, _ = phe.generate_paillier_keypair(n_length=1024)
    with pytest.raises(ParameterError, match="insecure"):
        Paillier.from_phe(pub)
    with pytest.raises(ParameterError):
        Paillier.generate(n_length=1023, allow_insecure=True)


# ------------------------------------------------------------------ protocol


def test_conforms_to_the_session_contract(keys: list[Paillier]) -> None:
    cycle = itertools.cycle(keys)
    check_scheme(lambda: _rebuild(next(cycle)), n_clients=(1, 5), length=(1, 40), max_examples=20)
    check_scheme(
        lambda: _rebuild(next(cycle), mean=True, decryptors=2),
        n_clients=(2, 4),
        max_examples=4,
        dropouts=False,
        hostile=False,
    )


def test_weighted_mean(key: Paillier) -> None:
    scheme = _rebuild(key, weighted=True, max_weight=10.0)
    updates = {0: np.array([1.0, -0.5]), 1: np.array([0.25, 0.75])}
    result = run_local(scheme, updates, client_kwargs={0: {"weight": 1.0}, 1: {"weight": 3.0}})
    want = (updates[0] * 1.0 + updates[1] * 3.0) / 4.0
    np.testing.assert_allclose(result.aggregate, want, atol=2.0**-scheme.frac_bits * 2)


def test_public_copy_cannot_decrypt(key: Paillier) -> None:
    server = key.public()
    assert key.can_decrypt
    assert not server.can_decrypt
    assert server.params() == key.params()
    assert server.fingerprint == key.fingerprint
    cts = server.encrypt(np.ones(3))  # a public key still encrypts
    with pytest.raises(ParameterError):
        server.decrypt_sum(cts, 3, 1)
    with pytest.raises(ParameterError):
        server.to_bytes(include_secret=True)
    np.testing.assert_array_equal(key.decrypt_sum(cts, 3, 1), np.ones(3))
    with pytest.raises(ProtocolError, match="decryption key"):
        run_local(server, {c: np.ones(2) for c in range(3)})


def test_foreign_key_is_refused(keys: list[Paillier]) -> None:
    a, b = keys[0], keys[1]
    assert a.key_id != b.key_id
    assert a.fingerprint != b.fingerprint
    server = a.public().server(client_ids=[0, 1], length=2)
    out = server.start()
    good = a.client(client_id=0, update=np.ones(2)).handle(out[0])
    bad = b.client(client_id=1, update=np.ones(2)).handle(
        out[1].replace(a.fingerprint, b.fingerprint)
    )
    assert good is not None
    assert bad is not None
    with pytest.raises(DecodeError):
        server.step({0: good, 1: bad})
    assert server.step({0: good}) is not None
    # b's ciphertexts under a's key are refused, never decrypted to garbage: by the range
    # check (DecodeError) when b's modulus is the larger and a ciphertext exceeds a's n^2,
    # else by the slot checks on the garbage plaintext (ProtocolError).  Which one depends
    # on the two random moduli.
    with pytest.raises((DecodeError, ProtocolError)):
        a.decrypt_sum(b.encrypt(np.ones(2)), 2, 1)


def test_malformed_ciphertexts_are_refused(key: Paillier) -> None:
    pub = key.public()
    cts = key.encrypt(np.ones(5))
    size = key.ciphertext_bytes
    pub_phe, priv_phe = key.phe_keys()
    p, n = priv_phe.p, pub_phe.n
    bad_chunks = [
        cts[0][:-1],  # truncated
        cts[0] + b"\x00",  # extended
        bytes(size),  # c = 0
        b"\xff" * size,  # c >= n^2
        (n * n).to_bytes(size, "big"),  # c = n^2
        (p * 12345).to_bytes(size, "big"),  # gcd(c, n) = p
    ]
    for chunk in bad_chunks:
        with pytest.raises(DecodeError):
            pub.parse_upload([chunk], 5)
        with pytest.raises(DecodeError):
            key.decrypt_sum([chunk], 5, 1)
    with pytest.raises(ProtocolError):
        pub.parse_upload(cts + cts, 5)  # too many ciphertexts for the length
    with pytest.raises(ProtocolError):
        pub.parse_upload([], 5)


def test_nonfinite_input_is_refused(key: Paillier) -> None:
    with pytest.raises(ParameterError):
        key.encrypt(np.array([1.0, math.nan]))


# ------------------------------------------------------------------ exactness, phe


@settings(max_examples=15, deadline=None)
@given(
    data=st.lists(
        st.lists(
            st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False), min_size=7, max_size=7
        ),
        min_size=1,
        max_size=4,
    ),
    which=st.integers(0, 2),
)
def test_sum_is_exact_and_phe_compatible(
    keys: list[Paillier], data: list[list[float]], which: int
) -> None:
    scheme = _rebuild(keys[which], max_clients=4, clip=2.0, frac_bits=10)
    pub_phe, priv_phe = scheme.phe_keys()
    vectors = [np.array(v) for v in data]
    qmax = int(2.0 * 2**10)
    total_enc = None
    phe_total = None
    for v in vectors:
        (m,) = scheme.encode(v)
        cts = scheme.encrypt(v)
        # privkit ciphertexts decrypt with phe's private key to the packed plaintext
        assert priv_phe.raw_decrypt(int.from_bytes(cts[0], "big")) == m
        # phe ciphertexts of the same plaintext decrypt with privkit's key
        enc = pub_phe.raw_encrypt(m)
        assert scheme.decrypt_raw(enc.to_bytes(scheme.ciphertext_bytes, "big")) == m
        phe_ct = phe.EncryptedNumber(pub_phe, enc)
        phe_total = phe_ct if phe_total is None else phe_total + phe_ct
        total_enc = scheme.add(total_enc, scheme.parse_upload(cts, v.size))
    assert total_enc is not None
    assert phe_total is not None
    out = scheme.decrypt_sum(scheme.serialize_sum(total_enc), 7, len(vectors))
    q = [np.clip(np.rint(np.clip(v, -2.0, 2.0) * 2**10), -qmax, qmax) for v in vectors]
    np.testing.assert_array_equal(out, np.sum(q, axis=0) / 2**10)  # exact
    # phe's homomorphic sum (of the same packed plaintexts) decrypts to the same slots
    sum_bytes = phe_total.ciphertext(be_secure=False).to_bytes(scheme.ciphertext_bytes, "big")
    np.testing.assert_array_equal(scheme.decrypt_sum([sum_bytes], 7, len(vectors)), out)


def test_phe_keys_round_trip(key: Paillier) -> None:
    pub, priv = key.phe_keys()
    assert pub.g == pub.n + 1
    assert priv.p * priv.q == pub.n
    again = Paillier.from_phe(pub, priv, allow_insecure=True)
    assert again.params() == key.params()
    assert again.can_decrypt
    other_pub, _ = phe.generate_paillier_keypair(n_length=1024)
    with pytest.raises(ParameterError):
        Paillier.from_phe(other_pub, priv, allow_insecure=True)
    with pytest.raises(ParameterError):
        Paillier.from_phe(pub, n_length=2048, allow_insecure=True)


# ------------------------------------------------------------------ randomness


def test_randomness_is_never_reused(key: Paillier) -> None:
    scheme = _rebuild(key, precompute=3)
    assert len(scheme._pool) == 3
    seen = {c for _ in range(6) for c in scheme.encrypt(np.zeros(4))}
    assert len(seen) == 6
    assert not scheme._pool
    cts = scheme.encrypt(np.full(4, 0.5))
    again = scheme.rerandomize(cts)
    assert again != cts
    np.testing.assert_array_equal(scheme.decrypt_sum(again, 4, 1), np.full(4, 0.5))
    # serialization never re-randomizes
    parsed = scheme.parse_upload(cts, 4)
    assert scheme.serialize_sum(scheme.add(None, parsed)) == cts


# ------------------------------------------------------------------ key serialization


def test_key_bytes_round_trip(key: Paillier) -> None:
    public_blob = key.to_bytes()
    secret_blob = key.to_bytes(include_secret=True)
    p = key.phe_keys()[1].p
    assert p.to_bytes((p.bit_length() + 7) // 8, "big") not in public_blob
    pub = Paillier.from_bytes(public_blob, allow_insecure=True)
    sec = Paillier.from_bytes(secret_blob, allow_insecure=True)
    assert not pub.can_decrypt
    assert sec.can_decrypt
    assert pub.params() == sec.params() == key.params()
    cts = pub.encrypt(np.array([0.5, -0.25]))
    np.testing.assert_array_equal(sec.decrypt_sum(cts, 2, 1), [0.5, -0.25])


def test_key_bytes_malformed(key: Paillier) -> None:
    from privkit import wire

    blob = key.to_bytes(include_secret=True)
    body = wire.decode_value(blob)
    assert isinstance(body, dict)
    for i in (1, len(blob) // 2, len(blob) - 1):
        with pytest.raises(DecodeError):
            Paillier.from_bytes(blob[:i], allow_insecure=True)
    broken = [
        {**body, "format": "x"},
        {**body, "p": body["q"]},  # p == q
        {**body, "p": b"\x05"},  # p * q != n
        {**body, "n": b"\x00" + body["n"]},  # not minimal
        {**body, "params": {**body["params"], "max_clients": 0}},
        {**body, "params": {**body["params"], "extra": 1}},
        {k: v for k, v in body.items() if k != "q"},
        {**body, "params": {**body["params"], "allow_insecure": True}},  # not stored
        {**body, "params": {**body["params"], "clip": "1"}},
    ]
    for b in broken:
        with pytest.raises(DecodeError):
            Paillier.from_bytes(wire.encode_value(b), allow_insecure=True)
    with pytest.raises(DecodeError, match="insecure"):
        Paillier.from_bytes(blob)  # a 1024-bit key needs the loader's allow_insecure
    with pytest.raises(DecodeError):
        Paillier.from_bytes(b"garbage")
