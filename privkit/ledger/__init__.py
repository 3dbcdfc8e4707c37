"""privkit.ledger: a tamper-evident, hash-chained, signed audit log of aggregation rounds.

>>> import tempfile, os
>>> from privkit.identity import NodeIdentity
>>> from privkit.ledger import AuditLog, verify_inclusion
>>> path = os.path.join(tempfile.mkdtemp(), "audit.db")
>>> log = AuditLog(path, identity=NodeIdentity.generate())
>>> e = log.append_round(round_id=1, scheme="secagg", params_fingerprint=b"p",
...     participants=["a", "b"], commitments={"a": b"ca", "b": b"cb"},
...     aggregate_digest=b"d")
>>> log.verify().ok
True
>>> verify_inclusion(log, "a", b"ca", round_id=1)
True
>>> log.close()

Security assumption: tamper-evident, not consensus: whoever holds the aggregator's key can
rewrite the whole log; anchor the head hash externally or collect client
countersignatures.  See ``docs/ledger.md``.
"""

from __future__ import annotations

from privkit.ledger.log import (
    APPLICATION_ID,
    COUNTERSIGN_CONTEXT,
    ENTRY_CONTEXT,
    ENTRY_DOMAIN,
    GENESIS_HASH,
    LEAF_DOMAIN,
    AuditLog,
    Entry,
    VerifyReport,
    commitment_leaf,
    entry_hash,
    verify_inclusion,
)

__all__ = [
    "APPLICATION_ID",
    "COUNTERSIGN_CONTEXT",
    "ENTRY_CONTEXT",
    "ENTRY_DOMAIN",
    "GENESIS_HASH",
    "LEAF_DOMAIN",
    "AuditLog",
    "Entry",
    "VerifyReport",
    "commitment_leaf",
    "entry_hash",
    "verify_inclusion",
]
