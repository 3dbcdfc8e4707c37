"""``privkit simulate --ledger PATH`` records every round; a client checks its inclusion."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from privkit.cli import main
from privkit.identity import load_identity
from privkit.ledger import AuditLog, verify_inclusion


def test_simulate_records_every_round_in_a_verifiable_ledger(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.db")
    argv = ["simulate", "--clients", "6", "--rounds", "2", "--no-out", "--quiet"]
    assert main([*argv, "--ledger", path]) == 0
    assert main([*argv, "--scheme", "secagg", "--commit", "--no-dp", "--ledger", path]) == 0
    key = Path(path + ".key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    identity = load_identity(key)
    log = AuditLog(path, identity=identity)
    report = log.verify()
    assert report.ok, report
    entries = list(log.entries())
    assert len(entries) == 4  # the second run appended under the same signer
    for entry in entries:
        pairs = entry.commitments()
        assert len(pairs) == 6
        first, commitment = pairs[0]
        assert verify_inclusion(entry, first, commitment)
        assert not verify_inclusion(entry, first, bytes(32))
    assert main(["audit", "verify", path]) == 0


def test_ledger_needs_the_local_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--engine", "flower", "--no-dp", "--ledger", "x.db", "--no-out"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--ledger" in err
    assert "Traceback" not in err
