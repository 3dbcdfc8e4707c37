"""Suite ``ledger``: the :mod:`privkit.ledger` audit log, appends and verification.

Cases (``--quick``: ``append x100`` and ``verify n=10^3``):

* ``append x1000``: 1,000 rounds appended to a fresh log, each in its own ``BEGIN
  IMMEDIATE`` transaction (``privkit``: :meth:`AuditLog.append_round`, which encodes the
  body, builds the Merkle root over 8 commitments, hashes and signs).  The anchor
  ``sqlite-insert`` inserts the same body bytes into a plain one-table SQLite file in WAL
  mode, one transaction per row, without hashing or signing: the floor set by SQLite.
  Throughput is appends per second (unit ``append``).
* ``verify n=10^5``: :meth:`AuditLog.verify` over 100,000 entries (built untimed in
  ``setup``); the anchor ``sqlite-read`` only reads the same rows back.

Checks (untimed): a small log verifies, and a modified row is reported at its position.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from benchmarks.core import Case, Check, Job, OneShot, Suite

__all__ = ["SUITE", "LedgerSuite"]

#: Appends per timed call (full, quick).
APPENDS = {False: 1_000, True: 100}
#: Entries verified (full, quick).
VERIFY_N = {False: 100_000, True: 1_000}
#: Commitments per round.
CLIENTS = 8


def _round_kwargs(r: int) -> dict[str, Any]:
    return {
        "round_id": r,
        "scheme": "secagg",
        "params_fingerprint": b"\x07" * 32,
        "participants": list(range(CLIENTS)),
        "dropped": [],
        "commitments": {c: (r * CLIENTS + c).to_bytes(32, "little") for c in range(CLIENTS)},
        "aggregate_digest": b"\x01" * 32,
        "epsilon_spent": 0.01 * r,
        "timestamp": 1.7e9 + r,
    }


class LedgerSuite(Suite):
    """Appends per second and verification time of :class:`privkit.ledger.AuditLog`."""

    name: ClassVar[str] = "ledger"
    description: ClassVar[str] = "audit log: appends (vs plain SQLite inserts) and verify"
    unit: ClassVar[str] = "append"
    implementations: ClassVar[tuple[str, ...]] = ("privkit", "sqlite-insert", "sqlite-read")
    anchors: ClassVar[Mapping[str, str]] = {
        "sqlite-insert": "plain SQLite insert per transaction, no hashing or signing",
        "sqlite-read": "reading the same rows back, no checks",
    }
    repeats: ClassVar[int] = 3
    quick_repeats: ClassVar[int] = 2

    def __init__(self) -> None:
        self._dir: str | None = None
        self._count = 0

    def prepare(self) -> None:
        """Make a scratch directory for the databases."""
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="privkit-ledger-bench-")

    def _fresh(self) -> str:
        assert self._dir is not None
        for name in os.listdir(self._dir):
            if name.startswith("a"):
                os.remove(os.path.join(self._dir, name))
        self._count += 1
        return os.path.join(self._dir, f"a{self._count}.db")

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """``append xN`` and ``verify n=N``."""
        n, v = APPENDS[quick], VERIFY_N[quick]
        exp = len(str(v)) - 1
        return (
            Case(f"append x{n}", n, {"appends": n, "clients": CLIENTS}),
            Case(f"verify n=10^{exp}", v, {"entries": v}, repeats=1 if not quick else None),
        )

    def setup(self, case: Case) -> Mapping[str, Job]:
        """Build the jobs (fresh files per call for appends; one built log for verify)."""
        from privkit.identity import NodeIdentity
        from privkit.ledger import AuditLog
        from privkit.ledger.log import build_body

        ident = NodeIdentity.generate()
        if "appends" in case.params:
            n = int(case.params["appends"])
            bodies = [build_body(**_round_kwargs(r)) for r in range(n)]

            def privkit_job() -> Any:
                log = AuditLog(self._fresh(), identity=ident)

                def run() -> None:
                    for r in range(n):
                        log.append_round(**_round_kwargs(r))
                    log.close()

                return run

            def sqlite_job() -> Any:
                db = sqlite3.connect(self._fresh(), isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, body BLOB)")

                def run() -> None:
                    for i, b in enumerate(bodies):
                        db.execute("BEGIN IMMEDIATE")
                        db.execute("INSERT INTO t VALUES (?, ?)", (i, b))
                        db.execute("COMMIT")
                    db.close()

                return run

            return {"privkit": OneShot(privkit_job), "sqlite-insert": OneShot(sqlite_job)}
        n = int(case.params["entries"])
        assert self._dir is not None
        path = os.path.join(self._dir, f"v{n}.db")
        if not os.path.exists(path):
            _build(path, ident, n)
        log = AuditLog(path, identity=ident)

        def read() -> None:
            list(sqlite3.connect(path).execute("SELECT * FROM entries"))

        def verify() -> None:
            if not log.verify().ok:
                raise RuntimeError("benchmark log does not verify")

        return {"privkit": verify, "sqlite-read": read}

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """A small log verifies; a modified row is found at its position."""
        from privkit.identity import NodeIdentity
        from privkit.ledger import AuditLog

        self.prepare()
        path = self._fresh()
        log = AuditLog(path, identity=NodeIdentity.generate())
        for r in range(5):
            log.append_round(**_round_kwargs(r))
        ok = log.verify().ok
        sqlite3.connect(path, isolation_level=None).execute(
            "UPDATE entries SET body=? WHERE idx=2", (b"x",)
        )
        rep = log.verify()
        log.close()
        return (
            Check("verify_ok", ok, {"entries": 5}),
            Check(
                "tamper_detected",
                rep.position == 2 and rep.problem == "modified",
                {"position": rep.position, "problem": rep.problem},
            ),
        )

    def __del__(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


def _build(path: str, ident: Any, n: int) -> None:
    """Write ``n`` signed, chained entries in one transaction (untimed setup)."""
    from privkit.ledger import AuditLog
    from privkit.ledger.log import ENTRY_CONTEXT, GENESIS_HASH, build_body, entry_hash

    AuditLog(path, identity=ident).close()
    rows = []
    prev = GENESIS_HASH
    for i in range(n):
        body = build_body(**_round_kwargs(i))
        h = entry_hash(i, prev, body)
        rows.append((i, prev, h, body, ident.public_key, ident.sign(h, context=ENTRY_CONTEXT)))
        prev = h
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.close()


SUITE = LedgerSuite()
