"""privkit.aggregation: the uniform, transport-free protocol API of every scheme.

Every aggregation scheme of privkit (the plain reference, SecAgg, SecAgg+, CKKS, BFV,
Paillier, and wrappers such as client-level DP) is a :class:`Scheme` that hands out
sans-I/O sessions: a :class:`ServerSession` for the aggregator and a
:class:`ClientSession` per client.  Sessions turn bytes into bytes and never touch the
network, so the same scheme runs in-process (:func:`run_local`), over Flower, or over
any transport that can carry bytes.  New schemes build on :class:`BaseServerSession`
and :class:`BaseClientSession`, which bind every message to its session, exchange,
sender and scheme parameters.  See ``docs/aggregation.md``.

>>> import numpy as np
>>> from privkit.aggregation import Plain, run_local
>>> res = run_local(Plain(), {1: np.ones(3), 2: np.arange(3.0)})
>>> res.aggregate.tolist(), res.survivors
([1.0, 2.0, 3.0], (1, 2))

Security assumption: every message a session receives is untrusted and is checked
before it changes anything; what each scheme keeps secret is stated in its threat
model (:class:`Plain`: nothing).
"""

from __future__ import annotations

from privkit.aggregation.api import (
    ClientId,
    ClientSession,
    Scheme,
    ServerSession,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
)
from privkit.aggregation.local import ExchangeStats, LocalResult, run_local
from privkit.aggregation.plain import Plain, PlainClientSession, PlainServerSession
from privkit.aggregation.robust import (
    Krum,
    Median,
    NormBound,
    RobustAggregation,
    TrimmedMean,
)
from privkit.aggregation.session import (
    SESSION_ID_SIZE,
    BaseClientSession,
    BaseServerSession,
    ExchangeSpec,
    Finish,
    Payload,
    check_length,
)

__all__ = [
    "SESSION_ID_SIZE",
    "BaseClientSession",
    "BaseServerSession",
    "ClientId",
    "ClientSession",
    "ExchangeSpec",
    "ExchangeStats",
    "Finish",
    "Krum",
    "LocalResult",
    "Median",
    "NormBound",
    "Payload",
    "Plain",
    "PlainClientSession",
    "PlainServerSession",
    "RobustAggregation",
    "Scheme",
    "ServerSession",
    "TrimmedMean",
    "check_client_id",
    "check_client_ids",
    "check_length",
    "client_id_sort_key",
    "run_local",
]
