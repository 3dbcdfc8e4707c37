"""Run one aggregation round in-process, with dropouts and cost accounting.

:func:`run_local` is the message loop of the session API with the transport replaced by
function calls.  It is the quickest way to use any scheme on updates you hold in one
process (simulations, tests, benchmarks) and it measures what a round costs per
exchange: messages, bytes in each direction and CPU seconds on each side.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from privkit.aggregation.api import (
    ClientId,
    ClientSession,
    Scheme,
    check_client_id,
    client_id_sort_key,
    describe_client_id,
)
from privkit.encoding import UpdateSpec, flatten, unflatten
from privkit.errors import ParameterError, ProtocolError

__all__ = ["ExchangeStats", "LocalResult", "run_local"]


@dataclass(frozen=True)
class ExchangeStats:
    """What one exchange of a round cost.

    Exchange k consists of the server's messages of exchange k (from ``start()`` for
    k = 0, from the k-th ``step()`` otherwise), the clients handling them and the
    ``step()`` that consumes their replies.

    Attributes:
        index: the exchange index, from 0.
        messages_down: messages the server emitted (dropped-out recipients included).
        messages_up: replies the server received.
        bytes_down: total size of the server's messages.
        bytes_up: total size of the replies.
        server_seconds: time in the server calls of this exchange (for exchange 0 also
            the creation of the server session and ``start()``).
        client_seconds: time of all clients together in ``handle()`` (for exchange 0
            also the creation of the client sessions, which flattens the updates).
    """

    index: int
    messages_down: int
    messages_up: int
    bytes_down: int
    bytes_up: int
    server_seconds: float
    client_seconds: float


@dataclass(frozen=True, eq=False)
class LocalResult:
    """The outcome of :func:`run_local`.

    Attributes:
        aggregate: the server's result, a read-only 1-D float64 array (the sum, or the
            mean when the scheme computes means).
        survivors: the clients whose updates are in the aggregate, canonical order.
        exchanges: the cost of each exchange, in order.
        spec: the :class:`~privkit.encoding.UpdateSpec` of the first update (in the
            mapping's order), used by :meth:`structured`.
    """

    aggregate: npt.NDArray[np.float64]
    survivors: tuple[ClientId, ...]
    exchanges: tuple[ExchangeStats, ...]
    spec: UpdateSpec

    def structured(self) -> Any:
        """Return the aggregate in the shape of the updates (see ``spec``).

        Returns:
            ``privkit.encoding.unflatten(aggregate, spec)``: an array, tensor, dict or
            sequence with the first update's layout and dtypes (integer dtypes are
            rounded, so prefer float updates when averaging).

        Raises:
            ParameterError: as :func:`~privkit.encoding.unflatten`.
            BackendUnavailableError: the updates were torch tensors and torch is gone.
        """
        return unflatten(np.array(self.aggregate, copy=True), self.spec)

    @property
    def bytes_down(self) -> int:
        """Bytes the server sent over the whole round."""
        return sum(e.bytes_down for e in self.exchanges)

    @property
    def bytes_up(self) -> int:
        """Bytes the clients sent over the whole round."""
        return sum(e.bytes_up for e in self.exchanges)

    @property
    def server_seconds(self) -> float:
        """Seconds the server spent over the whole round."""
        return sum(e.server_seconds for e in self.exchanges)

    @property
    def client_seconds(self) -> float:
        """Seconds all clients together spent over the whole round."""
        return sum(e.client_seconds for e in self.exchanges)

    @property
    def seconds(self) -> float:
        """Server plus client seconds over the whole round (CPU work, no network)."""
        return self.server_seconds + self.client_seconds


def _check_dropouts(
    dropouts: Mapping[int, Iterable[ClientId]] | None, known: frozenset[ClientId]
) -> dict[ClientId, int]:
    """Return the exchange at which each scheduled client stops answering."""
    stop: dict[ClientId, int] = {}
    if dropouts is None:
        return stop
    if not isinstance(dropouts, Mapping):
        raise ParameterError("dropouts must map exchange indices to client ids")
    for exchange, ids in dropouts.items():
        if isinstance(exchange, bool) or not isinstance(exchange, int) or exchange < 0:
            raise ParameterError(f"dropouts keys must be exchange indices >= 0, got {exchange!r}")
        if isinstance(ids, str | bytes):
            raise ParameterError("dropouts values must be iterables of client ids, not str")
        for cid in ids:
            if type(cid) not in (int, str) or cid not in known:
                raise ParameterError(
                    f"dropouts name client {describe_client_id(cid)}, which has no update"
                )
            if cid in stop:
                raise ParameterError(
                    f"dropouts name client {describe_client_id(cid)} twice; a client drops out once"
                )
            stop[cid] = exchange
    return stop


def run_local(
    scheme: Scheme,
    updates: Mapping[ClientId, object],
    *,
    dropouts: Mapping[int, Iterable[ClientId]] | None = None,
    length: int | None = None,
    client_kwargs: Mapping[ClientId, Mapping[str, object]] | None = None,
) -> LocalResult:
    """Run one round of ``scheme`` in this process.

    Creates the server session with the updates' client ids, one client session per
    update, and runs ``start()`` / ``handle()`` / ``step()`` until the server is done.
    Messages travel as the bytes the sessions produce, so what is measured is what a
    real transport would carry.

    Args:
        scheme: any :class:`~privkit.aggregation.Scheme`.
        updates: each client's update (anything :func:`~privkit.encoding.flatten`
            accepts), by client id.
        dropouts: ``{exchange: client ids}``: those clients receive nothing and answer
            nothing from that exchange on (exchange 0: they never take part).
        length: the length the server asks for.  By default the common flattened
            length of the updates; pass it explicitly to test a mismatch, which then
            surfaces from the client sessions.
        client_kwargs: extra keyword arguments for ``scheme.client`` by client id,
            for schemes whose clients take more than an update (a weight, a node
            identity); clients not named get none.

    Returns:
        A :class:`LocalResult`.

    Raises:
        ParameterError: no updates, an invalid client id, updates of different
            flattened lengths (when ``length`` is None), dropouts naming unknown
            clients or naming a client twice, or client_kwargs naming unknown
            clients; and whatever the scheme raises for
            invalid input.
        ProtocolError: the protocol failed (for example too few clients remained);
            the message says why.

    Security assumption: none beyond the scheme's; all parties run in this process,
    so this function sees every update.
    """
    if not isinstance(updates, Mapping) or not updates:
        raise ParameterError("updates must be a non-empty mapping of client id to update")
    ids = [check_client_id(cid) for cid in updates]
    known = frozenset(ids)
    stop = _check_dropouts(dropouts, known)
    extra: Mapping[ClientId, Mapping[str, object]] = client_kwargs or {}
    if not isinstance(extra, Mapping) or not set(extra) <= known:
        raise ParameterError("client_kwargs must map client ids of this round to keyword dicts")

    spec: UpdateSpec | None = None
    first_len = -1
    first_id: ClientId = ids[0]
    for cid in ids:
        vector, this_spec = flatten(updates[cid])
        if spec is None:
            spec, first_len, first_id = this_spec, vector.size, cid
        elif length is None and vector.size != first_len:
            raise ParameterError(
                f"updates have different lengths: client {describe_client_id(first_id)} "
                f"flattens to {first_len} coordinates, client {describe_client_id(cid)} "
                f"to {vector.size}; every update of a round must have the same length"
            )
    assert spec is not None
    n = first_len if length is None else length

    t0 = time.perf_counter()
    server = scheme.server(client_ids=ids, length=n)
    out = server.start()
    server_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clients: dict[ClientId, ClientSession] = {
        cid: scheme.client(client_id=cid, update=updates[cid], **dict(extra.get(cid, {})))
        for cid in ids
    }
    client_s = time.perf_counter() - t0

    stats: list[ExchangeStats] = []
    k = 0
    while not server.done:
        if not out:
            raise ProtocolError(
                f"the server sent no messages in exchange {k} but is not done; the round "
                "cannot progress"
            )
        replies: dict[ClientId, bytes] = {}
        for cid in sorted(out, key=client_id_sort_key):
            if cid not in clients or stop.get(cid, k + 1) <= k:
                continue
            t0 = time.perf_counter()
            reply = clients[cid].handle(out[cid])
            client_s += time.perf_counter() - t0
            if reply is not None:
                replies[cid] = reply
        t0 = time.perf_counter()
        nxt = server.step(replies)
        server_s += time.perf_counter() - t0
        stats.append(
            ExchangeStats(
                index=k,
                messages_down=len(out),
                messages_up=len(replies),
                bytes_down=sum(len(m) for m in out.values()),
                bytes_up=sum(len(m) for m in replies.values()),
                server_seconds=server_s,
                client_seconds=client_s,
            )
        )
        server_s = client_s = 0.0
        out = nxt
        k += 1

    aggregate = server.result()
    aggregate.flags.writeable = False
    return LocalResult(
        aggregate=aggregate,
        survivors=tuple(server.survivors),
        exchanges=tuple(stats),
        spec=spec,
    )
