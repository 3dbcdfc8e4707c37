"""Tests of privkit.ledger.AuditLog: chain, faults, concurrency, crashes, CLI."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from privkit.cli import main as cli_main
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity import NodeIdentity, Roster
from privkit.ledger import (
    ENTRY_CONTEXT,
    GENESIS_HASH,
    AuditLog,
    commitment_leaf,
    entry_hash,
    verify_inclusion,
)
from privkit.zk.merkle import MerkleTree

AGG = NodeIdentity.from_private_bytes(bytes(range(32)))


def _round(log: AuditLog, r: int) -> None:
    log.append_round(
        round_id=r,
        scheme="secagg",
        params_fingerprint=b"fp",
        participants=["a", "b", 3],
        dropped=["c"],
        commitments={"a": b"ca%d" % r, "b": b"cb%d" % r, 3: b"c3%d" % r},
        aggregate_digest=b"\x01" * 32,
        epsilon_spent=0.5 * r,
        timestamp=1000.0 + r,
    )


def _log(tmp_path: Path, n: int = 6) -> AuditLog:
    log = AuditLog(tmp_path / "audit.db", identity=AGG)
    for r in range(n):
        _round(log, r)
    return log


def _raw(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(log.path, isolation_level=None)


def test_append_and_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    rep = log.verify()
    assert rep.ok
    assert rep.length == 6
    assert rep.pinned
    es = list(log.entries())
    assert es[0].prev_hash == GENESIS_HASH
    for i, e in enumerate(es):
        assert e.index == i
        assert e.entry_hash == entry_hash(i, e.prev_hash, e.body)
        if i:
            assert e.prev_hash == es[i - 1].entry_hash
    f = es[2].fields()
    assert f["round_id"] == 2
    assert f["participants"] == [3, "a", "b"]
    assert f["epsilon_spent"] == 1.0
    leaves = [commitment_leaf(c, v) for c, v in es[2].commitments()]
    assert f["merkle_root"] == MerkleTree(leaves).root
    assert log.entry(2) == es[2]
    with pytest.raises(ParameterError):
        log.entry(99)
    assert "ok: 6 entries" in rep.summary()
    log.close()
    # reopen without identity: verifies, not pinned
    with AuditLog(tmp_path / "audit.db") as again:
        rep2 = again.verify()
        assert rep2.ok
        assert not rep2.pinned
        with pytest.raises(ParameterError):
            _round(again, 7)


def test_inclusion(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert verify_inclusion(log, "a", b"ca3", round_id=3)
    assert verify_inclusion(log, 3, b"c33", round_id=3, signer=AGG.public_key)
    assert not verify_inclusion(log, "a", b"ca2", round_id=3)
    assert not verify_inclusion(log, "zz", b"ca3", round_id=3)
    assert not verify_inclusion(log, "a", b"ca3", round_id=99)
    assert not verify_inclusion(log, "a", b"ca3", round_id=3, signer=bytes(32))
    entry = log.entry(3)
    assert verify_inclusion(entry, "b", b"cb3")
    proof = log.inclusion_proof(3, "b")
    assert proof.size == 3
    with pytest.raises(ParameterError):
        verify_inclusion(log, "a", b"ca3")


def test_modified(tmp_path: Path) -> None:
    log = _log(tmp_path)
    body = bytearray(log.entry(3).body)
    body[-1] ^= 1
    _raw(log).execute("UPDATE entries SET body=? WHERE idx=3", (bytes(body),))
    rep = log.verify()
    assert not rep.ok
    assert rep.position == 3
    assert rep.problem == "modified"


def test_deleted(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _raw(log).execute("DELETE FROM entries WHERE idx=2")
    rep = log.verify()
    assert (rep.position, rep.problem) == (2, "deleted")


def test_deleted_and_renumbered(tmp_path: Path) -> None:
    log = _log(tmp_path)
    db = _raw(log)
    db.execute("DELETE FROM entries WHERE idx=2")
    for i in range(3, 6):
        db.execute("UPDATE entries SET idx=? WHERE idx=?", (i - 1, i))
    rep = log.verify()
    assert (rep.position, rep.problem) == (2, "deleted")


def test_reordered(tmp_path: Path) -> None:
    log = _log(tmp_path)
    db = _raw(log)
    db.execute("UPDATE entries SET idx=-1 WHERE idx=2")
    db.execute("UPDATE entries SET idx=2 WHERE idx=3")
    db.execute("UPDATE entries SET idx=3 WHERE idx=-1")
    rep = log.verify()
    assert (rep.position, rep.problem) == (2, "reordered")


def test_inserted(tmp_path: Path) -> None:
    log = _log(tmp_path)
    db = _raw(log)
    for i in range(5, 1, -1):
        db.execute("UPDATE entries SET idx=? WHERE idx=?", (i + 1, i))
    e = log.entry(1)
    db.execute(
        "INSERT INTO entries VALUES (2, ?, ?, ?, ?, ?)",
        (e.entry_hash, os.urandom(32), e.body, e.signer, e.signature),
    )
    rep = log.verify()
    assert (rep.position, rep.problem) == (2, "inserted")


def test_forged_signature_and_unknown_signer(tmp_path: Path) -> None:
    log = _log(tmp_path)
    sig = bytearray(log.entry(4).signature)
    sig[0] ^= 1
    _raw(log).execute("UPDATE entries SET signature=? WHERE idx=4", (bytes(sig),))
    rep = log.verify()
    assert (rep.position, rep.problem) == (4, "bad signature")

    other = AuditLog(tmp_path / "b.db", identity=AGG)
    for r in range(3):
        _round(other, r)
    # an intruder appends a well-formed entry signed with its own key
    intruder = NodeIdentity.generate()
    head = other.entry(2)
    body = head.body
    h = entry_hash(3, head.entry_hash, body)
    _raw(other).execute(
        "INSERT INTO entries VALUES (3, ?, ?, ?, ?, ?)",
        (head.entry_hash, h, body, intruder.public_key, intruder.sign(h, context=ENTRY_CONTEXT)),
    )
    rep = other.verify()
    assert (rep.position, rep.problem) == (3, "unknown signer")
    assert other.verify(roster=Roster({"intruder": intruder.public_key})).ok


def test_countersign(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    alice = NodeIdentity.generate()
    log.countersign(1, alice)
    assert log.entry(1).countersignatures[0][0] == alice.public_key
    assert log.verify(roster=Roster({"alice": alice.public_key})).ok
    assert log.verify(roster=Roster({"bob": NodeIdentity.generate().public_key})).problem == (
        "unknown signer"
    )
    _raw(log).execute("UPDATE countersignatures SET signature=? WHERE idx=1", (bytes(64),))
    assert log.verify().problem == "bad signature"


def test_export_import(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    log.countersign(0, NodeIdentity.generate())
    buf = io.StringIO()
    assert log.export(buf) == 4
    log.export(tmp_path / "x.jsonl")
    fresh = AuditLog(tmp_path / "c.db", identity=AGG)
    assert fresh.import_(tmp_path / "x.jsonl").ok
    assert list(fresh.entries()) == list(log.entries())
    with pytest.raises(ProtocolError):
        fresh.import_(io.StringIO(buf.getvalue()))
    lines = buf.getvalue().splitlines()
    obj = json.loads(lines[2])
    obj["body"] = obj["body"][:-2] + "00"
    lines[2] = json.dumps(obj)
    empty = AuditLog(tmp_path / "d.db", identity=AGG)
    with pytest.raises(VerificationError, match="entry 2"):
        empty.import_(io.StringIO("\n".join(lines)))
    assert len(empty) == 0
    with pytest.raises(DecodeError):
        empty.import_(io.StringIO("{not json\n"))
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(DecodeError, match="UTF-8"):
        empty.import_(binary)
    with pytest.raises(DecodeError, match="line 1"):
        empty.import_(io.StringIO("[" * 100_000 + "\n"))
    assert len(empty) == 0


@pytest.mark.parametrize("kind", ["random", "truncated", "foreign"])
def test_corrupt_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.db"
    if kind == "random":
        path.write_bytes(random.Random(1).randbytes(8192))
    elif kind == "foreign":
        sqlite3.connect(path).execute("CREATE TABLE t (x)")
    else:
        log = _log(tmp_path, 30)
        log._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.close()
        data = (tmp_path / "audit.db").read_bytes()
        path.write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(DecodeError, match=r"bad\.db"):
        _open_and_verify(path)


def _open_and_verify(path: Path) -> None:
    AuditLog(path).verify()


def _appender(path: str, seed: int, count: int) -> None:
    log = AuditLog(path, identity=AGG)
    for r in range(count):
        _round(log, seed * 1000 + r)


def test_concurrent_appends(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.db")
    AuditLog(path, identity=AGG).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_appender, args=(path, s, 25)) for s in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    log = AuditLog(path, identity=AGG)
    rep = log.verify()
    assert rep.ok
    assert rep.length == 100


def test_killed_mid_append(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.db")
    AuditLog(path, identity=AGG).close()
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(7)
    length = 0
    for attempt in range(4):
        p = ctx.Process(target=_appender, args=(path, attempt, 100_000))
        p.start()
        time.sleep(0.2 + rng.random() * 0.3)
        assert p.pid is not None
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        log = AuditLog(path, identity=AGG)
        rep = log.verify()
        assert rep.ok, rep.summary()
        if rep.length:
            last = log.entry(rep.length - 1)
            assert last.is_intact()
            assert len(last.commitments()) == 3
        assert rep.length >= length
        length = rep.length
        log.close()
    assert length > 0


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path, 3)
    path = str(tmp_path / "audit.db")
    assert cli_main(["audit", "verify", path]) == 0
    assert "ok: 3 entries" in capsys.readouterr().out
    assert cli_main(["audit", "show", path]) == 0
    out = capsys.readouterr().out
    assert "secagg" in out
    assert len(out.splitlines()) == 4
    assert cli_main(["audit", "show", path, "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[1]["round_id"] == 1
    _raw(log).execute("DELETE FROM entries WHERE idx=1")
    assert cli_main(["audit", "verify", path]) == 1
    assert "entry 1: deleted" in capsys.readouterr().out
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"x" * 5000)
    assert cli_main(["audit", "verify", str(bad)]) == 1
    assert "junk.db" in capsys.readouterr().err
    assert cli_main(["audit", "verify", str(tmp_path / "missing.db")]) == 1
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").write_bytes(b"")
    assert cli_main(["audit", "show", str(tmp_path / "empty.db")]) == 1
    assert "empty.db" in capsys.readouterr().err
    assert (tmp_path / "empty.db").stat().st_size == 0


def test_inclusion_on_tampered_log_is_false(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    _raw(log).execute("UPDATE entries SET body=? WHERE idx=1", (b"junk",))
    assert not verify_inclusion(log, "a", b"ca1", round_id=1)
    assert log.verify().problem == "modified"


def test_wrong_column_type_reads_as_modified(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    _raw(log).execute("UPDATE entries SET prev_hash=12345678901234 WHERE idx=2")
    rep = log.verify()
    assert (rep.position, rep.problem) == (2, "modified")
