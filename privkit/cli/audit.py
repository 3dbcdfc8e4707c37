"""``privkit audit``: check and show a :mod:`privkit.ledger` audit log.

- ``privkit audit verify PATH``: walk the chain; exit 0 with a one-line summary, or exit 1
  naming the first bad position and what is wrong.
- ``privkit audit show PATH [--json]``: a table of rounds (or JSON Lines).

Security assumption: without a roster the signers are not pinned (any valid signature is
accepted); the summary says so.  The file is untrusted and never created by these commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from privkit.ledger import AuditLog

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` and ``show`` subcommands to the ``audit`` parser."""
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="verify the hash chain and signatures")
    verify.add_argument("path", metavar="PATH", help="the audit log database")
    show = sub.add_parser("show", help="print a table of rounds")
    show.add_argument("path", metavar="PATH", help="the audit log database")
    show.add_argument("--json", action="store_true", help="JSON Lines instead of a table")


def run_from_args(ns: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``privkit audit`` with parsed arguments.

    Returns:
        0 when the log verifies (or was shown), 1 when verification fails.

    Raises:
        ProtocolError: the file does not exist.
        DecodeError: the file is corrupt or not an audit log.
    """
    out = sys.stdout if out is None else out
    with AuditLog(ns.path, create=False) as log:
        if ns.audit_command == "verify":
            report = log.verify()
            out.write(report.summary() + "\n")
            return 0 if report.ok else 1
        rows = []
        for e in log.entries():
            f = e.fields()
            rows.append(
                {
                    "index": e.index,
                    "round_id": f["round_id"],
                    "scheme": f["scheme"],
                    "participants": len(f["participants"]),  # type: ignore[arg-type]
                    "dropped": len(f["dropped"]),  # type: ignore[arg-type]
                    "epsilon_spent": f["epsilon_spent"],
                    "timestamp": f["timestamp"],
                    "merkle_root": f["merkle_root"].hex(),  # type: ignore[union-attr]
                    "entry_hash": e.entry_hash.hex(),
                    "countersignatures": len(e.countersignatures),
                }
            )
        if ns.json:
            for r in rows:
                out.write(json.dumps(r, sort_keys=True) + "\n")
            return 0
        cols = ["index", "round_id", "scheme", "participants", "dropped", "epsilon_spent"]
        cells = [[str(r[c]) for c in cols] + [str(r["entry_hash"])[:16]] for r in rows]
        header = [*cols, "entry_hash"]
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(header)]
        for line in [header, *cells]:
            out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
            out.write("\n")
        return 0
