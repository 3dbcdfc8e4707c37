"""The plain reference scheme: clients send their updates in the clear.

Threat model: **none**.  The server (and anyone who can read the transport) sees every
client's update.  Plain exists as the reference against which every other scheme is
tested and benchmarked, and for simulations where privacy is not the question.  It does
check its messages like every privkit scheme (session binding, exchange order, sender
identity, vector shape, dtype and finiteness), so a faulty or hostile transport cannot
make it return a wrong sum; a *malicious client* can still send any finite vector.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from privkit.aggregation.api import (
    ClientId,
    Scheme,
    check_client_id,
    check_client_ids,
    describe_client_id,
)
from privkit.aggregation.session import (
    BaseClientSession,
    BaseServerSession,
    ExchangeSpec,
    Finish,
    Payload,
    check_length,
)
from privkit.encoding import flatten
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.wire import MessageType, Value

__all__ = ["Plain", "PlainClientSession", "PlainServerSession"]

_EXCHANGES: Final = (ExchangeSpec(MessageType.PLAIN_REQUEST, MessageType.PLAIN_UPDATE),)

# Bytes of envelope and body structure around the payload, generously rounded up.
_OVERHEAD: Final = 1024

_U: Final = 2.0**-53  # unit roundoff of float64


def _id_bytes(client_id: ClientId) -> int:
    return len(client_id.encode("utf-8")) if isinstance(client_id, str) else 0


class Plain(Scheme):
    """The plain reference scheme: one exchange, updates in the clear.

    Exchange 0: the server sends ``PLAIN_REQUEST`` (payload ``{"length": n}``) to every
    client; each client answers ``PLAIN_UPDATE`` (payload ``{"vector": float64[n]}``).
    The server sums the vectors of the clients that answered, in canonical client
    order, and is done.

    Threat model: none.  The server and the transport see every update in the clear.
    Use it as the reference for tests and benchmarks, never to protect data.

    Args:
        mean: return the mean over the clients that answered instead of the sum.
        min_clients: the fewest answering clients for the round to complete (>= 1).

    Raises:
        ParameterError: ``mean`` is not a bool or ``min_clients`` is not an int >= 1.
    """

    name: ClassVar[str] = "privkit.plain.v1"

    def __init__(self, *, mean: bool = False, min_clients: int = 1) -> None:
        if not isinstance(mean, bool):
            raise ParameterError(f"mean must be a bool, got {type(mean).__name__}")
        if isinstance(min_clients, bool) or not isinstance(min_clients, int):
            raise ParameterError(f"min_clients must be an int >= 1, got {min_clients!r}")
        if min_clients < 1:
            raise ParameterError(f"min_clients must be >= 1, got {min_clients}")
        self._mean = mean
        self._min_clients = min_clients

    @property
    def min_clients(self) -> int:
        """The fewest answering clients for a round to complete."""
        return self._min_clients

    @property
    def mean(self) -> bool:
        return self._mean

    def params(self) -> dict[str, Value]:
        """Return ``{"mean": ..., "min_clients": ...}``."""
        return {"mean": self._mean, "min_clients": self._min_clients}

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> PlainServerSession:
        """Create the server session of one round (see :meth:`Scheme.server`)."""
        return PlainServerSession(self, client_ids=client_ids, length=length)

    def client(self, *, client_id: ClientId, update: object) -> PlainClientSession:
        """Create one client's session (see :meth:`Scheme.client`).

        Raises:
            ParameterError: an invalid id, an update :func:`~privkit.encoding.flatten`
                refuses, or an update with NaN or infinite values.
        """
        return PlainClientSession(self, client_id=client_id, update=update)

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """Bound the float64 rounding error of the sum (or mean).

        The server adds ``n`` float64 vectors one after the other, so each coordinate
        carries the error of recursive summation, at most
        ``(n-1) u / (1 - (n-1) u) * sum|x_i| <= n^2 * bound * 2**-52`` with
        ``u = 2**-53`` (Higham, *Accuracy and Stability of Numerical Algorithms*,
        eq. 4.4).  The mean adds one rounding of the division and is within
        ``n * bound * 2**-52`` of the exact mean.  Both hold for ``n <= 2**52``; the
        result is ``inf`` when the sum could overflow float64.

        Args:
            n_summands: the number of updates summed (>= 0).
            bound: the largest ``|x|`` of any input coordinate (>= 0).

        Returns:
            ``n^2 * bound * 2**-52`` (sum) or ``n * bound * 2**-52`` (mean); 0.0 when
            ``n_summands`` is 0 or 1 (a single update passes unchanged).

        Raises:
            ParameterError: a negative or non-numeric argument.
        """
        if isinstance(n_summands, bool) or not isinstance(n_summands, int) or n_summands < 0:
            raise ParameterError(f"n_summands must be an int >= 0, got {n_summands!r}")
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound >= 0:
            raise ParameterError(f"bound must be a number >= 0, got {bound!r}")
        n = n_summands
        if n <= 1:
            return 0.0
        if not math.isfinite(2.0 * n * float(bound)):
            return math.inf
        per = float(n) * float(bound) * 2.0 * _U
        return per if self._mean else per * n

    def min_survivors(self, n_clients: int) -> int:
        """Return ``min_clients`` (Plain needs no more than that, whatever ``n_clients``)."""
        return self._min_clients


class PlainServerSession(BaseServerSession):
    """The server side of :class:`Plain`; create it with :meth:`Plain.server`.

    Security assumption: none for confidentiality (the updates arrive in the clear);
    replies are untrusted and checked as described in
    :class:`~privkit.aggregation.BaseServerSession`.
    """

    def __init__(self, scheme: Plain, *, client_ids: Iterable[ClientId], length: int) -> None:
        ids = check_client_ids(client_ids)
        longest = max((_id_bytes(c) for c in ids), default=0)
        n = check_length(length)
        super().__init__(
            fingerprint=scheme.fingerprint,
            exchanges=_EXCHANGES,
            client_ids=ids,
            length=n,
            min_survivors=scheme.min_survivors(len(ids)),
            mean=scheme.mean,
            max_reply_size=8 * n + _OVERHEAD + longest,
        )

    def _open(self) -> Mapping[ClientId, Payload]:
        return {cid: {"length": self.length} for cid in self.client_ids}

    def _check_reply(self, exchange: int, client_id: ClientId, data: Payload) -> object:
        who = f"client {describe_client_id(client_id)}"
        if set(data) != {"vector"}:
            raise DecodeError(f"{who}: a PLAIN_UPDATE payload holds exactly 'vector'")
        vector = data["vector"]
        if not isinstance(vector, np.ndarray):
            raise ProtocolError(f"{who} sent a vector that is not an array", client_id=client_id)
        if vector.dtype != np.float64 or vector.shape != (self.length,):
            raise ProtocolError(
                f"{who} sent a vector of dtype {vector.dtype} and shape {vector.shape}; "
                f"expected float64 of shape ({self.length},)",
                client_id=client_id,
            )
        if not np.isfinite(vector).all():
            raise ProtocolError(
                f"{who} sent a vector with non-finite values (NaN or infinity)",
                client_id=client_id,
            )
        return vector

    def _advance(
        self,
        exchange: int,
        replies: Mapping[ClientId, Any],
        dropped: frozenset[ClientId],
    ) -> Finish:
        total: npt.NDArray[np.float64] = np.zeros(self.length, dtype=np.float64)
        for vector in replies.values():  # canonical client order: deterministic sums
            total += vector
        return Finish(total=total, survivors=replies.keys())


class PlainClientSession(BaseClientSession):
    """The client side of :class:`Plain`; create it with :meth:`Plain.client`.

    Security assumption: none; the update is sent in the clear to whoever holds the
    session's messages.
    """

    def __init__(self, scheme: Plain, *, client_id: ClientId, update: object) -> None:
        cid = check_client_id(client_id)
        vector, _ = flatten(update)
        if not np.isfinite(vector).all():
            raise ParameterError(
                f"the update of client {describe_client_id(cid)} contains NaN or infinite "
                "values; only finite updates can be aggregated"
            )
        super().__init__(
            fingerprint=scheme.fingerprint,
            exchanges=_EXCHANGES,
            client_id=cid,
            max_request_size=_OVERHEAD + _id_bytes(cid),
        )
        self._vector = vector

    def _check_request(self, exchange: int, data: Payload) -> object:
        length = data.get("length")
        if set(data) != {"length"} or isinstance(length, bool) or not isinstance(length, int):
            raise DecodeError("a PLAIN_REQUEST payload holds exactly 'length' (an int)")
        if length != self._vector.size:
            raise ParameterError(
                f"the server asks for updates of {length} coordinates, but the update of "
                f"client {describe_client_id(self.client_id)} flattens to "
                f"{self._vector.size}"
            )
        return length

    def _respond(self, exchange: int, request: Any) -> Payload:
        return {"vector": self._vector}
