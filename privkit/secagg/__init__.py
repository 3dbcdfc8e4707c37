"""Secure aggregation: SecAgg (complete graph) and SecAgg+ (random k-regular graph).

The server learns the sum (or mean) of the surviving clients' updates and nothing
else about any single update, as long as fewer than ``threshold`` share holders of
any client collude with it; clients may drop out at every exchange.  See
:class:`SecAgg` and docs/secagg.md for the protocol, the threat model and parameter
guidance.
"""

from __future__ import annotations

from privkit.secagg.graph import Guarantees, guarantees
from privkit.secagg.protocol import SecAgg, SecAggClientSession, SecAggServerSession

__all__ = ["Guarantees", "SecAgg", "SecAggClientSession", "SecAggServerSession", "guarantees"]
