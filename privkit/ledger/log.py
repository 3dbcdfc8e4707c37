"""The append-only, hash-chained audit log of aggregation rounds (SQLite backed).

Each round the aggregator appends one :class:`Entry`: the round id, the scheme and its
parameter fingerprint, who took part and who dropped, every client's commitment, the
Merkle root over those commitments, a digest of the aggregate, the DP budget spent so far
and a timestamp.  Entry ``i`` holds ``prev_hash`` = the hash of entry ``i - 1`` (32 zero
bytes for entry 0) and ``entry_hash`` = SHA-256 of the canonical :mod:`privkit.wire`
encoding of ``["privkit/ledger/entry/v1", i, prev_hash, body]``, where ``body`` is the
canonical encoding of the body dict.  The aggregator signs ``entry_hash`` with its
:class:`~privkit.identity.NodeIdentity` (context :data:`ENTRY_CONTEXT`); clients may
countersign it (context :data:`COUNTERSIGN_CONTEXT`).  The byte layout is in
``docs/ledger.md``.

Security assumption: the log is **tamper-evident, not tamper-proof**.  :meth:`AuditLog.verify`
detects any change to, deletion of (except of a suffix), reordering of or insertion into
the chain made without the signer's private key.  Whoever holds the aggregator's key can
rewrite the whole log undetectably unless the head hash is anchored elsewhere or clients
countersign entries.  The database file is untrusted input: a corrupt or foreign file
raises :class:`~privkit.errors.DecodeError` naming the path, never a ``sqlite3`` error.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Final, cast

from privkit.clientid import ClientId, client_id_problem, client_id_sort_key
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity import NodeIdentity, Roster, key_id, verify
from privkit.wire.values import Value, decode_value, encode_value
from privkit.zk.merkle import InclusionProof, MerkleTree
from privkit.zk.merkle import verify_inclusion as _merkle_verify

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

ENTRY_DOMAIN: Final = "privkit/ledger/entry/v1"
"""First element of the encoded list whose SHA-256 is an entry hash."""
LEAF_DOMAIN: Final = "privkit/ledger/leaf/v1"
"""First element of the encoded list that is one client's Merkle leaf."""
ENTRY_CONTEXT: Final = "privkit/ledger/entry-signature/v1"
"""Signature context of the aggregator's signature over an entry hash."""
COUNTERSIGN_CONTEXT: Final = "privkit/ledger/countersignature/v1"
"""Signature context of a client's countersignature over an entry hash."""
GENESIS_HASH: Final = bytes(32)
"""``prev_hash`` of entry 0."""
APPLICATION_ID: Final = 0x504B4C47  # "PKLG"
"""SQLite ``PRAGMA application_id`` of a privkit audit log file."""

_BODY_KEYS: Final = frozenset(
    {
        "round_id",
        "scheme",
        "params_fingerprint",
        "participants",
        "dropped",
        "commitments",
        "merkle_root",
        "aggregate_digest",
        "epsilon_spent",
        "timestamp",
    }
)
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS entries ("
    "idx INTEGER PRIMARY KEY, prev_hash BLOB NOT NULL, entry_hash BLOB NOT NULL, "
    "body BLOB NOT NULL, signer BLOB NOT NULL, signature BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS countersignatures ("
    "idx INTEGER NOT NULL, signer BLOB NOT NULL, signature BLOB NOT NULL, "
    "PRIMARY KEY (idx, signer))",
)

RoundId = int | str


def entry_hash(index: int, prev_hash: bytes, body: bytes) -> bytes:
    """The hash of entry ``index``.

    Args:
        index: the entry's position (0-based).
        prev_hash: the previous entry's hash (:data:`GENESIS_HASH` for entry 0).
        body: the canonical encoding of the entry's body dict.

    Returns:
        SHA-256 of ``encode_value([ENTRY_DOMAIN, index, prev_hash, body])`` (32 bytes).
    """
    return hashlib.sha256(encode_value([ENTRY_DOMAIN, index, prev_hash, body])).digest()


def commitment_leaf(client_id: ClientId, commitment: bytes) -> bytes:
    """The Merkle leaf binding a client to its commitment.

    Args:
        client_id: the client.
        commitment: its commitment bytes.

    Returns:
        ``encode_value([LEAF_DOMAIN, client_id, commitment])``.
    """
    return encode_value([LEAF_DOMAIN, client_id, bytes(commitment)])


@dataclass(frozen=True)
class Entry:
    """One round's record in the log (as stored; verify it with :meth:`AuditLog.verify`).

    Attributes:
        index: position in the chain.
        prev_hash: hash of the previous entry.
        entry_hash: this entry's hash.
        body: the canonical encoding of the body dict (what the hash covers).
        signer: the aggregator's 32-byte public key.
        signature: its Ed25519 signature over ``entry_hash``.
        countersignatures: ``(public key, signature)`` pairs of clients.
    """

    index: int
    prev_hash: bytes
    entry_hash: bytes
    body: bytes
    signer: bytes
    signature: bytes
    countersignatures: tuple[tuple[bytes, bytes], ...] = field(default=())

    def fields(self) -> dict[str, Value]:
        """The decoded body dict.

        Raises:
            DecodeError: the body is not a well-formed ledger body.
        """
        return _decode_body(self.body)

    @property
    def round_id(self) -> RoundId:
        """The round id in the body."""
        return cast(RoundId, self.fields()["round_id"])

    def commitments(self) -> list[tuple[ClientId, bytes]]:
        """The ``(client id, commitment)`` pairs in canonical client order."""
        pairs = cast(list[list[Value]], self.fields()["commitments"])
        return [(cast(ClientId, p[0]), cast(bytes, p[1])) for p in pairs]

    def is_intact(self) -> bool:
        """Whether ``entry_hash`` matches ``(index, prev_hash, body)`` (no signature check)."""
        return hmac.compare_digest(
            self.entry_hash, entry_hash(self.index, self.prev_hash, self.body)
        )


@dataclass(frozen=True)
class VerifyReport:
    """The result of :meth:`AuditLog.verify`.

    Attributes:
        ok: the whole chain verified.
        length: number of rows examined.
        head: hash of the last verified entry (``GENESIS_HASH`` for an empty log).
        position: the first bad position, or ``None``.
        problem: ``"modified"``, ``"deleted"``, ``"reordered"``, ``"inserted"``,
            ``"bad signature"``, ``"unknown signer"`` or ``None``.
        detail: a one-line explanation.
        signers: key ids of the aggregator keys seen.
        pinned: whether signers were checked against known keys (a roster or identity).
    """

    ok: bool
    length: int
    head: bytes
    position: int | None = None
    problem: str | None = None
    detail: str = ""
    signers: tuple[str, ...] = ()
    pinned: bool = False

    def summary(self) -> str:
        """One line for humans."""
        if self.ok:
            pin = "" if self.pinned else " (signers not pinned: no roster or identity given)"
            return (
                f"ok: {self.length} entries, head {self.head.hex()[:16]}, "
                f"signers {', '.join(self.signers) or '-'}{pin}"
            )
        return f"FAILED at entry {self.position}: {self.problem}: {self.detail}"


def _decode_body(body: bytes) -> dict[str, Value]:
    value = decode_value(body)
    if not isinstance(value, dict) or set(value) != _BODY_KEYS:
        raise DecodeError("ledger entry body is not a dict with the ledger body keys")
    pairs = value["commitments"]
    if not isinstance(pairs, list) or not all(
        isinstance(p, list)
        and len(p) == 2
        and client_id_problem(p[0]) is None
        and isinstance(p[1], bytes)
        for p in pairs
    ):
        raise DecodeError("ledger entry commitments must be [client id, bytes] pairs")
    return value


def _check_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ParameterError(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _check_ids(ids: object, what: str) -> list[ClientId]:
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence | set | frozenset):
        raise ParameterError(f"{what} must be a collection of client ids")
    out: list[ClientId] = []
    for cid in ids:
        problem = client_id_problem(cid)
        if problem is not None:
            raise ParameterError(f"{what}: {problem}")
        out.append(cid)
    return sorted(set(out), key=client_id_sort_key)


def build_body(
    *,
    round_id: RoundId,
    scheme: str,
    params_fingerprint: bytes,
    participants: Sequence[ClientId],
    dropped: Sequence[ClientId],
    commitments: Mapping[ClientId, bytes],
    aggregate_digest: bytes,
    epsilon_spent: float | None,
    timestamp: float,
) -> bytes:
    """Validate the round's fields and return the canonical body encoding."""
    if isinstance(round_id, bool) or not isinstance(round_id, int | str):
        raise ParameterError(f"round_id must be an int or str, got {type(round_id).__name__}")
    if not isinstance(scheme, str) or not scheme:
        raise ParameterError("scheme must be a non-empty str")
    if epsilon_spent is not None and (
        isinstance(epsilon_spent, bool) or not isinstance(epsilon_spent, int | float)
    ):
        raise ParameterError("epsilon_spent must be a float or None")
    if not isinstance(commitments, Mapping):
        raise ParameterError("commitments must be a mapping client id -> bytes")
    ids = _check_ids(list(commitments), "commitments")
    pairs: list[Value] = [[cid, _check_bytes(commitments[cid], "commitment")] for cid in ids]
    leaves = [commitment_leaf(cid, bytes(commitments[cid])) for cid in ids]
    body: dict[str, Value] = {
        "round_id": round_id,
        "scheme": scheme,
        "params_fingerprint": _check_bytes(params_fingerprint, "params_fingerprint"),
        "participants": list(_check_ids(participants, "participants")),
        "dropped": list(_check_ids(dropped, "dropped")),
        "commitments": pairs,
        "merkle_root": MerkleTree(leaves).root,
        "aggregate_digest": _check_bytes(aggregate_digest, "aggregate_digest"),
        "epsilon_spent": None if epsilon_spent is None else float(epsilon_spent),
        "timestamp": float(timestamp),
    }
    return encode_value(body)


def _classify(rows: Sequence[Entry], p: int, prev: bytes) -> tuple[str, str]:
    """Name what is wrong at the first bad position ``p`` of ``rows``."""
    n = len(rows)

    def orig(row: Entry) -> int | None:
        """The index the row's content was hashed for, searched near its position."""
        candidates = [row.index, p] + [p + d for d in range(-16, 17) if d]
        for k in candidates:
            if k >= 0 and hmac.compare_digest(
                row.entry_hash, entry_hash(k, row.prev_hash, row.body)
            ):
                return k
        return None

    row = rows[p]
    k = orig(row)
    later = (
        [q for q in range(p + 1, min(n, p + 18)) if orig(rows[q]) == p]
        if k is not None and k > p
        else []
    )
    if k is not None and k > p and later:
        return "reordered", f"position {p} holds entry {k}; entry {p} is at position {later[0]}"
    if p + 1 < n and row.index == p and orig(rows[p + 1]) == p:
        return "inserted", f"a row was inserted at position {p} (the next row belongs here)"
    if k is None:
        return "modified", f"entry {p}'s hash does not match its contents"
    if k == p:
        if row.index != p:
            return "modified", f"entry {p}'s stored index was changed to {row.index}"
        return "modified", f"entry {p} does not link to entry {p - 1} (prev_hash mismatch)"
    if k > p:
        return "deleted", f"entries {p}..{k - 1} are missing (position {p} holds entry {k})"
    return "inserted", f"position {p} holds a copy of entry {k}"


def verify_rows(
    rows: Sequence[Entry], trusted: Mapping[bytes, str] | None, roster: Roster | None = None
) -> VerifyReport:
    """Walk a chain of rows (what :meth:`AuditLog.verify` and import use).

    Args:
        rows: the rows in stored order.
        trusted: public key -> label of the keys allowed to sign entries, or ``None`` to
            accept any key whose signature verifies (``pinned`` is then ``False``).
        roster: clients whose countersignatures must come from admitted keys, or ``None``.

    Returns:
        A :class:`VerifyReport`.
    """
    prev = GENESIS_HASH
    seen: dict[str, None] = {}
    roster_keys = None if roster is None else {bytes(v): k for k, v in roster.items()}
    for p, row in enumerate(rows):

        def fail(problem: str, detail: str, p: int = p, prev: bytes = prev) -> VerifyReport:
            return VerifyReport(
                False, len(rows), prev, p, problem, detail, tuple(seen), trusted is not None
            )

        intact = row.is_intact()
        linked = hmac.compare_digest(row.prev_hash, prev)
        if row.index > p and intact and not linked:
            return fail("deleted", f"entries {p}..{row.index - 1} are missing")
        if row.index != p or not intact or not linked:
            problem, detail = _classify(rows, p, prev)
            return fail(problem, detail)
        try:
            _decode_body(row.body)
        except DecodeError as exc:
            return fail("modified", f"entry {p}'s body is malformed: {exc}")
        if trusted is not None and row.signer not in trusted:
            return fail("unknown signer", f"entry {p} is signed by unknown key {_kid(row.signer)}")
        try:
            verify(row.signer, row.entry_hash, row.signature, context=ENTRY_CONTEXT)
        except VerificationError:
            return fail("bad signature", f"entry {p}'s signature does not verify")
        seen.setdefault(_kid(row.signer), None)
        for pub, sig in row.countersignatures:
            if roster_keys is not None and pub not in roster_keys:
                return fail(
                    "unknown signer", f"entry {p} is countersigned by unknown key {_kid(pub)}"
                )
            try:
                verify(pub, row.entry_hash, sig, context=COUNTERSIGN_CONTEXT)
            except VerificationError:
                return fail("bad signature", f"a countersignature on entry {p} does not verify")
        prev = row.entry_hash
    return VerifyReport(True, len(rows), prev, None, None, "", tuple(seen), trusted is not None)


def _kid(pub: bytes) -> str:
    try:
        return key_id(pub)
    except Exception:  # a malformed stored key
        return f"<{len(pub)}-byte key>"


class AuditLog:
    """An append-only, hash-chained, signed log of aggregation rounds in one SQLite file.

    Args:
        path: the database file; created (empty log) when missing and ``create``.
        identity: the aggregator's key; required for :meth:`append_round`, and its public
            key is trusted by :meth:`verify`.
        create: create the file when missing (default ``True``).

    Raises:
        DecodeError: the file is corrupt or not a privkit audit log (the path is named).
        ProtocolError: the file is missing and ``create`` is ``False``, or cannot be opened.

    Security assumption: the file may have been tampered with; nothing read from it is
    trusted until :meth:`verify` says so.  Concurrent appenders in several processes are
    serialised by ``BEGIN IMMEDIATE``; each append is one transaction, so a process killed
    mid-append leaves the entry whole or absent.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        identity: NodeIdentity | None = None,
        create: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.identity = identity
        self._create = create
        if not create and not os.path.exists(self.path):
            raise ProtocolError(f"audit log {self.path!r} does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise ProtocolError(f"cannot open audit log {self.path!r}: {exc}") from None
        try:
            self._setup()
        except DecodeError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            raise DecodeError(
                f"{self.path!r} is not a readable privkit audit log (corrupt database: {exc})"
            ) from None

    def _setup(self) -> None:
        db = self._db
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app == 0 and not tables:
            if not self._create:
                raise DecodeError(f"{self.path!r} is an empty database, not a privkit audit log")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                app = db.execute("PRAGMA application_id").fetchone()[0]
                if app == 0:
                    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    for stmt in _SCHEMA:
                        db.execute(stmt)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            app = db.execute("PRAGMA application_id").fetchone()[0]
        if app != APPLICATION_ID:
            raise DecodeError(f"{self.path!r} is an SQLite file but not a privkit audit log")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "SELECT idx, prev_hash, entry_hash, body, signer, signature FROM entries LIMIT 0"
        )
        db.execute("SELECT idx, signer, signature FROM countersignatures LIMIT 0")

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({self.path!r})"

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        try:
            return list(self._db.execute(sql, tuple(args)))
        except sqlite3.Error as exc:
            raise DecodeError(f"audit log {self.path!r} is corrupt: {exc}") from None

    def __len__(self) -> int:
        return int(cast(int, self._query("SELECT COUNT(*) FROM entries")[0][0]))

    def append_round(
        self,
        *,
        round_id: RoundId,
        scheme: str,
        params_fingerprint: bytes,
        participants: Sequence[ClientId],
        dropped: Sequence[ClientId] = (),
        commitments: Mapping[ClientId, bytes],
        aggregate_digest: bytes,
        epsilon_spent: float | None = None,
        timestamp: float | None = None,
    ) -> Entry:
        """Append one round, signed by :attr:`identity`, in one ``BEGIN IMMEDIATE`` transaction.

        Args:
            round_id: the round (int or str).
            scheme: the scheme's name.
            params_fingerprint: a fingerprint of the scheme's parameters.
            participants: clients that took part.
            dropped: clients that dropped out.
            commitments: client id -> commitment bytes.
            aggregate_digest: a digest of the aggregate.
            epsilon_spent: DP epsilon spent so far, or ``None``.
            timestamp: seconds since the epoch (default now).

        Returns:
            The stored :class:`Entry`.

        Raises:
            ParameterError: no identity, or a field of the wrong type.
            DecodeError: the database is corrupt.
        """
        if self.identity is None:
            raise ParameterError("append_round needs the aggregator's identity (identity=...)")
        body = build_body(
            round_id=round_id,
            scheme=scheme,
            params_fingerprint=params_fingerprint,
            participants=participants,
            dropped=dropped,
            commitments=commitments,
            aggregate_digest=aggregate_digest,
            epsilon_spent=epsilon_spent,
            timestamp=time.time() if timestamp is None else timestamp,
        )
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute(
                    "SELECT idx, entry_hash FROM entries ORDER BY idx DESC LIMIT 1"
                ).fetchone()
                index, prev = (0, GENESIS_HASH) if last is None else (last[0] + 1, bytes(last[1]))
                digest = entry_hash(index, prev, body)
                sig = self.identity.sign(digest, context=ENTRY_CONTEXT)
                pub = self.identity.public_key
                self._db.execute(
                    "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                    (index, prev, digest, body, pub, sig),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DecodeError(f"audit log {self.path!r}: append failed: {exc}") from None
        return Entry(index, prev, digest, body, pub, sig)

    def countersign(self, index: int, identity: NodeIdentity) -> bytes:
        """Add ``identity``'s countersignature over entry ``index``'s hash.

        Args:
            index: the entry.
            identity: the client's key (should be checked against a roster by verifiers).

        Returns:
            The countersignature.

        Raises:
            ParameterError: no such entry.
            VerificationError: the entry's hash does not match its contents.
        """
        e = self.entry(index)
        if not e.is_intact():
            raise VerificationError(f"entry {index} of {self.path!r} is not intact; not signing")
        sig = identity.sign(e.entry_hash, context=COUNTERSIGN_CONTEXT)
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO countersignatures VALUES (?, ?, ?)",
                (index, identity.public_key, sig),
            )
        except sqlite3.Error as exc:
            raise DecodeError(f"audit log {self.path!r}: countersign failed: {exc}") from None
        return sig

    def _row(self, r: tuple[object, ...], cs: Sequence[tuple[bytes, bytes]]) -> Entry:
        # A column of the wrong type (SQLite is dynamically typed) reads as b"", so the
        # row fails its hash check and verify() reports it as modified at its position.
        idx, prev, h, body, signer, sig = r
        if not isinstance(idx, int):
            raise DecodeError(f"audit log {self.path!r} has a row with a non-integer index")

        def blob(v: object) -> bytes:
            return v if isinstance(v, bytes) else b""

        return Entry(idx, blob(prev), blob(h), blob(body), blob(signer), blob(sig), tuple(cs))

    def _countersigs(self) -> dict[int, list[tuple[bytes, bytes]]]:
        out: dict[int, list[tuple[bytes, bytes]]] = {}
        for idx, pub, sig in self._query(
            "SELECT idx, signer, signature FROM countersignatures ORDER BY idx, signer"
        ):
            if not isinstance(pub, bytes) or not isinstance(sig, bytes):
                raise DecodeError(f"audit log {self.path!r} has a malformed countersignature")
            out.setdefault(cast(int, idx), []).append((pub, sig))
        return out

    def entries(self) -> Iterator[Entry]:
        """All rows in index order (as stored, unverified)."""
        cs = self._countersigs()
        rows = self._query(
            "SELECT idx, prev_hash, entry_hash, body, signer, signature FROM entries ORDER BY idx"
        )
        for r in rows:
            yield self._row(r, cs.get(cast(int, r[0]), []))

    def entry(self, index: int) -> Entry:
        """The row at ``index`` (unverified).

        Raises:
            ParameterError: no entry has that index.
        """
        rows = self._query(
            "SELECT idx, prev_hash, entry_hash, body, signer, signature FROM entries WHERE idx=?",
            (index,),
        )
        if not rows:
            raise ParameterError(f"audit log {self.path!r} has no entry {index}")
        cs = self._query(
            "SELECT signer, signature FROM countersignatures WHERE idx=? ORDER BY signer",
            (index,),
        )
        return self._row(rows[0], [(cast(bytes, a), cast(bytes, b)) for a, b in cs])

    def _trusted(self, roster: Roster | None) -> dict[bytes, str] | None:
        if roster is None and self.identity is None:
            return None
        trusted: dict[bytes, str] = {}
        if roster is not None:
            trusted.update({bytes(v): str(k) for k, v in roster.items()})
        if self.identity is not None:
            trusted[self.identity.public_key] = "self"
        return trusted

    def verify(self, *, roster: Roster | None = None) -> VerifyReport:
        """Walk the chain: hashes, links, index continuity, signatures.

        Args:
            roster: keys allowed to sign (aggregators) and countersign (clients); the log's
                own identity is trusted too.  With neither, any valid signature is
                accepted and the report says ``pinned=False``.

        Returns:
            A :class:`VerifyReport` naming the first bad position and what is wrong.

        Raises:
            DecodeError: the database file itself is corrupt.
        """
        trusted = self._trusted(roster)
        return verify_rows(list(self.entries()), trusted, roster)

    def find_round(self, round_id: RoundId) -> Entry:
        """The entry of ``round_id`` (the last one if repeated).

        Raises:
            ParameterError: no entry has that round id.
        """
        found = [e for e in self.entries() if e.round_id == round_id]
        if not found:
            raise ParameterError(f"audit log {self.path!r} has no round {round_id!r}")
        return found[-1]

    def inclusion_proof(self, round_id: RoundId, client_id: ClientId) -> InclusionProof:
        """The Merkle inclusion proof of ``client_id``'s commitment in round ``round_id``.

        Raises:
            ParameterError: no such round, or the client has no commitment in it.
        """
        return _proof(self.find_round(round_id), client_id)

    def export(self, path_or_file: str | os.PathLike[str] | IO[str]) -> int:
        """Write the log as JSON Lines (one entry a line, binary fields in hex).

        Returns:
            The number of entries written.
        """
        if isinstance(path_or_file, str | os.PathLike):
            with open(path_or_file, "w", encoding="utf-8") as f:
                return self.export(f)
        n = 0
        for e in self.entries():
            path_or_file.write(json.dumps(_to_json(e), sort_keys=True) + "\n")
            n += 1
        return n

    def import_(
        self, path_or_file: str | os.PathLike[str] | IO[str], *, roster: Roster | None = None
    ) -> VerifyReport:
        """Load a JSON Lines export into this (empty) log, after verifying it.

        Returns:
            The report of the verified chain.

        Raises:
            ProtocolError: this log is not empty.
            DecodeError: a line is malformed.
            VerificationError: the chain does not verify (nothing is written).
        """
        if isinstance(path_or_file, str | os.PathLike):
            with open(path_or_file, encoding="utf-8") as f:
                return self.import_(f, roster=roster)
        try:
            rows = [_from_json(line, i) for i, line in enumerate(path_or_file) if line.strip()]
        except UnicodeDecodeError as exc:  # a binary or mis-encoded file, not JSON Lines
            raise DecodeError(f"audit log export is not UTF-8 text: {exc.reason}") from None
        report = verify_rows(rows, self._trusted(roster), roster)
        if not report.ok:
            raise VerificationError(f"import refused: {report.summary()}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]:
                    raise ProtocolError(f"audit log {self.path!r} is not empty; import refused")
                for e in rows:
                    self._db.execute(
                        "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                        (e.index, e.prev_hash, e.entry_hash, e.body, e.signer, e.signature),
                    )
                    for pub, sig in e.countersignatures:
                        self._db.execute(
                            "INSERT OR REPLACE INTO countersignatures VALUES (?, ?, ?)",
                            (e.index, pub, sig),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DecodeError(f"audit log {self.path!r}: import failed: {exc}") from None
        return report


_HEX_FIELDS: Final = ("prev_hash", "entry_hash", "body", "signer", "signature")


def _to_json(e: Entry) -> dict[str, object]:
    return {
        "index": e.index,
        "prev_hash": e.prev_hash.hex(),
        "entry_hash": e.entry_hash.hex(),
        "body": e.body.hex(),
        "signer": e.signer.hex(),
        "signature": e.signature.hex(),
        "countersignatures": [[a.hex(), b.hex()] for a, b in e.countersignatures],
    }


def _from_json(line: str, lineno: int) -> Entry:
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict) or type(obj.get("index")) is not int:
            raise ValueError("not an entry object")
        if not 0 <= obj["index"] < 2**63:
            raise ValueError("index out of range")
        hexes = [bytes.fromhex(obj[k]) for k in _HEX_FIELDS]
        cs = tuple((bytes.fromhex(a), bytes.fromhex(b)) for a, b in obj["countersignatures"])
        return Entry(obj["index"], hexes[0], hexes[1], hexes[2], hexes[3], hexes[4], cs)
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error) as exc:
        raise DecodeError(f"audit log export line {lineno + 1} is malformed: {exc}") from None


def _proof(entry: Entry, client_id: ClientId) -> InclusionProof:
    pairs = entry.commitments()
    ids = [cid for cid, _ in pairs]
    if client_id not in ids:
        raise ParameterError(f"client has no commitment in entry {entry.index}")
    tree = MerkleTree([commitment_leaf(cid, c) for cid, c in pairs])
    return tree.inclusion_proof(ids.index(client_id))


def verify_inclusion(
    log_or_entry: AuditLog | Entry,
    client_id: ClientId,
    commitment: bytes,
    *,
    round_id: RoundId | None = None,
    signer: bytes | None = None,
) -> bool:
    """One call for a client: is my commitment in round r's signed Merkle root?

    Args:
        log_or_entry: the log (then ``round_id`` is required) or the round's entry.
        client_id: the client.
        commitment: the commitment it sent.
        round_id: the round, when a log is given.
        signer: the aggregator's public key; when given, the entry's signature must be
            by that key.

    Returns:
        ``True`` when the entry is intact (hash matches), its signature verifies (by
        ``signer`` if given), and the Merkle proof of ``(client_id, commitment)`` leads to
        the entry's ``merkle_root``; ``False`` otherwise, never an exception for
        untrusted data.

    Raises:
        ParameterError: a log is given without ``round_id``.
    """
    if isinstance(log_or_entry, AuditLog):
        if round_id is None:
            raise ParameterError("verify_inclusion on a log needs round_id=")
        try:
            entry = log_or_entry.find_round(round_id)
        except (ParameterError, DecodeError):
            return False
    else:
        entry = log_or_entry
    try:
        if not entry.is_intact():
            return False
        if signer is not None and not hmac.compare_digest(bytes(signer), entry.signer):
            return False
        verify(entry.signer, entry.entry_hash, entry.signature, context=ENTRY_CONTEXT)
        body = entry.fields()
        proof = _proof(entry, client_id)
        root = cast(bytes, body["merkle_root"])
        return _merkle_verify(root, commitment_leaf(client_id, bytes(commitment)), proof)
    except (DecodeError, VerificationError, ParameterError):
        return False
