"""The session protocol shared by every homomorphic-encryption scheme of privkit.

An HE scheme splits into two halves that never meet in one process unless the user
puts them there: the *key holder* half (encrypt, decrypt) and the *aggregator* half
(add ciphertexts, with public material only).  :class:`HEScheme` declares both as
abstract methods; this module runs them as a two-exchange round of the uniform
session API:

====  =========================================  ====================================
 ex   server -> client                           client -> server
====  =========================================  ====================================
 0    ``{"length": n}``                          ``{"ct": [chunks], "decryptor": b}``
 1    ``{"ct": [sum chunks], "n": survivors}``   ``{"sum": float64 vector}``
      (only to up to ``decryptors`` clients
      that hold the decryption key)
====  =========================================  ====================================

The server adds every upload homomorphically as it arrives (so it keeps one running
sum, not every upload), sends the encrypted total to a few key-holding clients, and
accepts their decryptions only if they agree: one faulty decryptor gives a
``ProtocolError``, never a wrong result.

Threat model: the server holds no secret key, so it cannot read an upload; the
clients that decrypt learn the aggregate (which the server learns too).  A
decrypting client trusts the server to send it only the sum: a malicious server
could ask for the decryption of one client's upload.  Threshold decryption, which
removes that trust, is future work; until then use SecAgg when the server is not
trusted to follow the protocol.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from privkit.aggregation.api import ClientId, Scheme, check_client_id, check_client_ids
from privkit.aggregation.session import (
    BaseClientSession,
    BaseServerSession,
    ExchangeSpec,
    Finish,
    Payload,
)
from privkit.aggregation.weights import Weighting
from privkit.encoding import flatten
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.wire import MessageType, Value

__all__ = ["HEClientSession", "HEScheme", "HEServerSession"]

_UPLOAD = ExchangeSpec(MessageType.HE_REQUEST, MessageType.HE_CIPHERTEXTS)
_DECRYPT = ExchangeSpec(MessageType.HE_DECRYPT_REQUEST, MessageType.HE_DECRYPTED)
_MAX_CHUNKS: Final = 1 << 20


def _chunks(value: Value, who: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
        raise DecodeError(f"{who}: ct must be a list of byte strings")
    if len(value) > _MAX_CHUNKS:
        raise DecodeError(f"{who}: too many ciphertext chunks")
    return [v for v in value if isinstance(v, bytes)]


class HEScheme(Scheme):
    """Base of the HE aggregation schemes: subclasses supply the cryptography.

    A subclass implements five methods; the sessions, dropouts, message checks and
    the decryption exchange come from here.

    * key holder: :meth:`encrypt` (client), :meth:`decrypt_sum` (decrypting client)
      and the property :attr:`can_decrypt`;
    * aggregator (public material only): :meth:`parse_upload`, :meth:`add`,
      :meth:`serialize_sum`.

    Constructor args for subclasses to pass on:
        weighted: each client passes ``weight=`` and the result is the weighted mean
            (weights travel encrypted, as one more coordinate).
        max_weight: the largest accepted weight.
        mean: return the mean over survivors (unweighted mode).
        decryptors: how many key-holding clients decrypt the sum (their results must
            agree), or None for every key holder that uploaded.  With d decryptors the
            round always completes when at most d - 1 clients drop out; it fails (never
            silently) only if every chosen decryptor drops.
    """

    name: ClassVar[str]

    def __init__(
        self,
        *,
        weighted: bool = False,
        max_weight: float = 1.0,
        mean: bool = False,
        decryptors: int | None = 3,
    ) -> None:
        self._weights = Weighting(weighted=weighted, max_weight=max_weight, mean=mean)
        if decryptors is not None and (
            isinstance(decryptors, bool) or not isinstance(decryptors, int) or decryptors < 1
        ):
            raise ParameterError(f"decryptors must be None or an int >= 1, got {decryptors!r}")
        self._decryptors = decryptors

    # ------------------------------------------------------------------ to implement

    @property
    @abc.abstractmethod
    def can_decrypt(self) -> bool:
        """Whether this scheme object holds the secret key (a key holder's copy)."""

    @abc.abstractmethod
    def encrypt(self, vector: npt.NDArray[np.float64]) -> list[bytes]:
        """Encrypt one client's (already weighted) vector as serialized chunks.

        Raises:
            ParameterError: the vector cannot be encoded (out of range, too long).
        """

    @abc.abstractmethod
    def parse_upload(self, chunks: list[bytes], length: int) -> object:
        """Check and deserialize one upload of ``length`` coordinates (server side).

        Must not change any state.  Raises DecodeError (malformed, truncated) or
        ProtocolError (another key, another scheme, wrong length) where detectable.
        """

    @abc.abstractmethod
    def add(self, total: object | None, upload: object) -> object:
        """Homomorphically add a parsed upload into the running total (None at first)."""

    @abc.abstractmethod
    def serialize_sum(self, total: object) -> list[bytes]:
        """Serialize the encrypted total for the decryptors."""

    @abc.abstractmethod
    def decrypt_sum(
        self, chunks: list[bytes], length: int, n_summands: int
    ) -> npt.NDArray[np.float64]:
        """Decrypt an encrypted total of ``n_summands`` uploads (key holder only).

        Raises:
            DecodeError / ProtocolError: malformed or foreign ciphertexts.
            ParameterError: this copy holds no secret key.
        """

    # ------------------------------------------------------------------ Scheme

    @property
    def weighted(self) -> bool:
        """Whether the result is the weighted mean."""
        return self._weights.weighted

    @property
    def mean(self) -> bool:
        return self._weights.mean or self._weights.weighted

    def min_survivors(self, n_clients: int) -> int:
        # Guaranteed completion: at least one of the d chosen decryptors must stay.
        d = n_clients if self._decryptors is None else min(self._decryptors, n_clients)
        return max(1, n_clients - d + 1)

    def _exchanges(self) -> tuple[ExchangeSpec, ...]:
        return (_UPLOAD, _DECRYPT)

    def _round_params(self) -> dict[str, Value]:
        return {
            "weighted": self._weights.weighted,
            "max_weight": self._weights.max_weight,
            "mean": self._weights.mean,
            "decryptors": self._decryptors,
        }

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> HEServerSession:
        return HEServerSession(self, check_client_ids(client_ids), length)

    def client(
        self, *, client_id: ClientId, update: object, weight: float | None = None
    ) -> HEClientSession:
        """A client session (see :class:`HEScheme` for ``weight``).

        Raises:
            ParameterError: a bad update or weight.
        """
        cid = check_client_id(client_id)
        vector, _ = flatten(update)
        return HEClientSession(self, cid, vector, self._weights.client_weight(weight))

    def _ring_length(self, length: int) -> int:
        return self._weights.length(length)

    def _prepare(self, vector: npt.NDArray[np.float64], weight: float) -> npt.NDArray[np.float64]:
        return self._weights.prepare(vector, weight)


class HEServerSession(BaseServerSession):
    """The aggregator of one HE round: holds public material only."""

    def __init__(self, scheme: HEScheme, ids: tuple[ClientId, ...], length: int) -> None:
        super().__init__(
            fingerprint=scheme.fingerprint,
            exchanges=scheme._exchanges(),
            client_ids=ids,
            length=length,
            min_survivors=1,
            mean=scheme._weights.mean,
        )
        self._scheme = scheme
        self._total: object | None = None
        self._contributors: list[ClientId] = []

    def _open(self) -> Mapping[ClientId, Payload]:
        return {cid: {"length": self.length} for cid in self.client_ids}

    def _check_reply(self, exchange: int, client_id: ClientId, data: Payload) -> object:
        who = f"reply from client {client_id!r}"
        if exchange == 0:
            if set(data) != {"ct", "decryptor"} or not isinstance(data["decryptor"], bool):
                raise DecodeError(f"{who}: expected the fields ct and decryptor")
            upload = self._scheme.parse_upload(
                _chunks(data["ct"], who), self._scheme._ring_length(self.length)
            )
            return upload, data["decryptor"]
        if set(data) != {"sum"}:
            raise DecodeError(f"{who}: expected the field sum")
        total = data["sum"]
        want = (self._scheme._ring_length(self.length),)
        if not isinstance(total, np.ndarray) or total.dtype != np.float64 or total.shape != want:
            raise ProtocolError(
                f"{who}: the decrypted sum must be float64 of shape {want}", client_id=client_id
            )
        return total

    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Mapping[ClientId, Payload] | Finish:
        if exchange == 0:
            total: object | None = None
            for upload, _ in replies.values():
                total = self._scheme.add(total, upload)
            self._contributors = list(replies)
            holders = [c for c, (_, can) in replies.items() if can]
            decryptors = (
                holders if self._scheme._decryptors is None else holders[: self._scheme._decryptors]
            )
            if not decryptors:
                raise ProtocolError(
                    "no client that holds the decryption key answered; at least 1 is needed"
                )
            assert total is not None
            msg: Payload = {
                "ct": list[Value](self._scheme.serialize_sum(total)),
                "n": len(self._contributors),
            }
            return {c: msg for c in decryptors}
        if not replies:
            raise ProtocolError("every decrypting client dropped out; at least 1 answer is needed")
        sums = list(replies.values())
        # Independent decryptions of one ciphertext are identical (BFV, Paillier) or
        # within the scheme's noise (CKKS); anything else means a faulty decryptor.
        ref = sums[0]
        tol = self._scheme.tolerance(n_summands=len(self._contributors), bound=1.0)
        for other in sums[1:]:
            if not np.allclose(other, ref, rtol=0.0, atol=2 * tol + 1e-300):
                raise ProtocolError("the decrypting clients disagree about the sum")
        result = self._scheme._weights.finish(ref)
        return Finish(total=result, survivors=self._contributors)


class HEClientSession(BaseClientSession):
    """One client of an HE round: encrypts its update; decrypts the sum if asked and able."""

    def __init__(
        self, scheme: HEScheme, client_id: ClientId, vector: npt.NDArray[np.float64], weight: float
    ) -> None:
        super().__init__(
            fingerprint=scheme.fingerprint, exchanges=scheme._exchanges(), client_id=client_id
        )
        self._scheme = scheme
        self._vector = vector
        self._weight = weight

    def _check_request(self, exchange: int, data: Payload) -> object:
        who = f"client {self.client_id!r}"
        if exchange == 0:
            if set(data) != {"length"}:
                raise DecodeError(f"{who}: expected the field length")
            if data["length"] != self._vector.size:
                raise ProtocolError(
                    f"{who}: the server asks for {data['length']!r} coordinates, this update has "
                    f"{self._vector.size}",
                    client_id=self.client_id,
                )
            return None
        if (
            set(data) != {"ct", "n"}
            or isinstance(data["n"], bool)
            or not isinstance(data["n"], int)
        ):
            raise DecodeError(f"{who}: expected the fields ct and n")
        if not self._scheme.can_decrypt:
            raise ProtocolError(f"{who} holds no decryption key", client_id=self.client_id)
        n = data["n"]
        if n < 1:
            raise ProtocolError(f"{who}: a sum of {n} uploads", client_id=self.client_id)
        return _chunks(data["ct"], who), n

    def _respond(self, exchange: int, parsed: Any) -> Payload | None:
        if exchange == 0:
            chunks = self._scheme.encrypt(self._scheme._prepare(self._vector, self._weight))
            return {"ct": list[Value](chunks), "decryptor": self._scheme.can_decrypt}
        chunks, n = parsed
        total = self._scheme.decrypt_sum(chunks, self._scheme._ring_length(self._vector.size), n)
        return {"sum": np.asarray(total, dtype=np.float64)}
