"""The HE session protocol, with a transparent test-double backend (no cryptography).

The double "encrypts" a vector as its raw float64 bytes tagged with a key id, so every
protocol path (uploads, running sum, decryptors, dropouts, disagreement, foreign keys)
is checked here independently of TenSEAL or Paillier.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from privkit.aggregation import run_local
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.he import HEScheme
from privkit.testing import check_scheme
from privkit.wire import Value


class Transparent(HEScheme):
    name: ClassVar[str] = "test.he.transparent"

    def __init__(
        self, *, key: bytes = b"k1", holder: bool = True, skew: float = 0.0, **kw: object
    ) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._key, self._holder, self._skew = key, holder, skew

    def params(self) -> dict[str, Value]:
        return {**self._round_params(), "key": self._key}

    @property
    def can_decrypt(self) -> bool:
        return self._holder

    def encrypt(self, vector: np.ndarray) -> list[bytes]:
        return [self._key + vector.astype("<f8").tobytes()]

    def parse_upload(self, chunks: list[bytes], length: int) -> object:
        if len(chunks) != 1 or not chunks[0].startswith(self._key):
            raise ProtocolError("foreign key")
        body = chunks[0][len(self._key) :]
        if len(body) != 8 * length:
            raise DecodeError("truncated")
        return np.frombuffer(body, "<f8").copy()

    def add(self, total: object | None, upload: object) -> object:
        assert isinstance(upload, np.ndarray)
        return upload.copy() if total is None else total + upload  # type: ignore[operator]

    def serialize_sum(self, total: object) -> list[bytes]:
        assert isinstance(total, np.ndarray)
        return self.encrypt(total)

    def decrypt_sum(self, chunks: list[bytes], length: int, n_summands: int) -> np.ndarray:
        total = self.parse_upload(chunks, length)
        assert isinstance(total, np.ndarray)
        return total + self._skew

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        return n_summands * bound * 2.0**-50 * (1 if not self.mean else 1 / n_summands)


def test_protocol_conforms() -> None:
    check_scheme(Transparent, n_clients=(1, 6), max_examples=25)
    check_scheme(lambda: Transparent(mean=True), n_clients=(1, 6), max_examples=10)


def test_dropouts_and_decryptor_fallback() -> None:
    updates = {c: np.full(3, float(c)) for c in range(5)}
    result = run_local(Transparent(), updates, dropouts={0: [4], 1: [0, 1]})
    assert result.survivors == (0, 1, 2, 3)  # 0 and 1 uploaded, then left: still counted
    np.testing.assert_array_equal(result.aggregate, np.full(3, 6.0))


def test_every_decryptor_gone_fails_clearly() -> None:
    with pytest.raises(ProtocolError, match="decrypting client"):
        run_local(
            Transparent(decryptors=2), {c: np.ones(2) for c in range(4)}, dropouts={1: [0, 1]}
        )


def test_no_key_holder_fails_clearly() -> None:
    with pytest.raises(ProtocolError, match="decryption key"):
        run_local(Transparent(holder=False), {c: np.ones(2) for c in range(3)})


def test_disagreeing_decryptors_are_refused() -> None:
    scheme = Transparent()
    liar = Transparent(skew=1.0)
    server = scheme.server(client_ids=[0, 1], length=2)
    clients = {
        0: scheme.client(client_id=0, update=np.ones(2)),
        1: liar.client(client_id=1, update=np.ones(2)),
    }
    out = server.start()
    out = server.step({c: clients[c].handle(m) for c, m in out.items()})
    with pytest.raises(ProtocolError, match="disagree"):
        server.step({c: clients[c].handle(m) for c, m in out.items()})


def test_foreign_key_upload_is_refused_and_session_stays_usable() -> None:
    scheme, other = Transparent(), Transparent(key=b"k2")
    server = scheme.server(client_ids=[0, 1], length=2)
    out = server.start()
    good = scheme.client(client_id=0, update=np.ones(2)).handle(out[0])
    # same fingerprint is needed to get past the envelope: forge via a twin scheme object
    assert other.fingerprint != scheme.fingerprint
    bad = other.client(client_id=1, update=np.ones(2)).handle(
        out[1].replace(scheme.fingerprint, other.fingerprint)
    )
    with pytest.raises(DecodeError):
        server.step({0: good, 1: bad})
    assert server.step({0: good}) is not None


def test_weighted_mean() -> None:
    scheme = Transparent(weighted=True, max_weight=10.0)
    updates = {0: np.array([1.0, 2.0]), 1: np.array([3.0, 4.0])}
    result = run_local(scheme, updates, client_kwargs={0: {"weight": 1.0}, 1: {"weight": 3.0}})
    np.testing.assert_allclose(result.aggregate, [2.5, 3.5])
    with pytest.raises(ParameterError):
        Transparent().client(client_id=0, update=np.ones(2), weight=2.0)
