"""Tests of privkit.identity.keyfile: private key files (0600, passphrase), public keys, rosters."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from privkit import wire
from privkit.errors import DecodeError, ParameterError
from privkit.identity import (
    NodeIdentity,
    Roster,
    load_identity,
    load_public_key_file,
    load_roster,
    save_identity,
    save_public_key,
    save_roster,
)
from privkit.identity import keyfile as keyfile_mod

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
PASS = b"correct horse battery staple"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@posix_only
def test_saved_key_file_has_mode_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_identity(NodeIdentity.generate(), tmp_path / "node.key")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "node.key") == 0o600


def test_round_trip_unencrypted(tmp_path: Path) -> None:
    ident = NodeIdentity.generate()
    path = tmp_path / "node.key"
    save_identity(ident, path)
    text = path.read_bytes()
    assert text.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_identity(path)
    assert loaded == ident
    assert loaded.private_bytes() == ident.private_bytes()
    assert _no_temp_files(tmp_path)


def test_round_trip_with_passphrase(tmp_path: Path) -> None:
    ident = NodeIdentity.generate()
    path = tmp_path / "node.key"
    save_identity(ident, str(path), passphrase=PASS)
    text = path.read_bytes()
    assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert ident.private_bytes() not in text
    loaded = load_identity(path, passphrase=PASS)
    assert loaded.private_bytes() == ident.private_bytes()
    # the file is a standard PKCS #8 PEM other tools read
    key = serialization.load_pem_private_key(text, password=PASS)
    assert key.public_key().public_bytes_raw() == ident.public_key  # type: ignore[union-attr]


def test_wrong_passphrase_is_a_clear_error_without_secrets(tmp_path: Path) -> None:
    ident = NodeIdentity.generate()
    path = tmp_path / "node.key"
    save_identity(ident, path, passphrase=PASS)
    with pytest.raises(ParameterError, match="wrong passphrase") as info:
        load_identity(path, passphrase=b"not the passphrase")
    msg = str(info.value)
    assert "not the passphrase" not in msg
    assert PASS.decode() not in msg
    assert ident.private_bytes().hex() not in msg
    with pytest.raises(ParameterError, match="encrypted: pass the passphrase"):
        load_identity(path)


def test_passphrase_for_unencrypted_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    save_identity(NodeIdentity.generate(), path)
    with pytest.raises(ParameterError, match="not encrypted"):
        load_identity(path, passphrase=PASS)


@pytest.mark.parametrize("bad", ["text", b"", 5, bytearray()])
def test_bad_passphrase_arguments(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ParameterError, match="passphrase"):
        save_identity(NodeIdentity.generate(), tmp_path / "k", passphrase=bad)
    assert not (tmp_path / "k").exists()


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610, 0o601])
def test_group_or_world_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "node.key"
    save_identity(NodeIdentity.generate(), path)
    path.chmod(mode)
    with pytest.raises(ParameterError, match="chmod 600") as info:
        load_identity(path)
    assert f"{mode:04o}" in str(info.value)
    path.chmod(0o600)
    load_identity(path)


@posix_only
def test_owner_read_only_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    ident = NodeIdentity.generate()
    save_identity(ident, path)
    path.chmod(0o400)
    assert load_identity(path) == ident


@posix_only
def test_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "node.key"
    save_identity(NodeIdentity.generate(), target)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    with pytest.raises(ParameterError):
        load_identity(link)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x00" * 100,
    ],
)
def test_corrupt_file_is_a_decode_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "node.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(DecodeError, match="not a valid PEM private key"):
        load_identity(path)


def test_truncated_file_is_a_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    save_identity(NodeIdentity.generate(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError):
        load_identity(path)


def test_corrupt_encrypted_file(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    save_identity(NodeIdentity.generate(), path, passphrase=PASS)
    lines = path.read_bytes().splitlines(keepends=True)
    body = bytearray(lines[2])
    body[10] = ord("A") if body[10] != ord("A") else ord("B")
    lines[2] = bytes(body)
    path.write_bytes(b"".join(lines))
    with pytest.raises((ParameterError, DecodeError)):
        load_identity(path, passphrase=PASS)


def test_other_key_type_is_refused(tmp_path: Path) -> None:
    ec = generate_private_key(SECP256R1())
    pem = ec.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "ec.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, pem)
    os.close(fd)
    with pytest.raises(DecodeError, match="not an Ed25519"):
        load_identity(path)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"A" * (keyfile_mod.KEY_FILE_MAX_BYTES + 1))
    os.close(fd)
    with pytest.raises(DecodeError, match="at most"):
        load_identity(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        load_identity(tmp_path / "nope.key")
    with pytest.raises(ParameterError, match="does not exist"):
        save_identity(NodeIdentity.generate(), tmp_path / "no" / "dir.key")
    with pytest.raises(ParameterError, match="regular file"):
        load_identity(tmp_path)


def test_overwrite_is_refused_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    first, second = NodeIdentity.generate(), NodeIdentity.generate()
    save_identity(first, path)
    with pytest.raises(ParameterError, match="already exists"):
        save_identity(second, path)
    assert load_identity(path) == first
    save_identity(second, path, overwrite=True)
    assert load_identity(path) == second
    assert _no_temp_files(tmp_path)


def test_link_race_does_not_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the target appears between the existence check and the final link
    path = tmp_path / "node.key"
    real_link = os.link

    def racing_link(src: Any, dst: Any) -> None:
        Path(dst).write_bytes(b"someone else's file")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(ParameterError, match="already exists"):
        save_identity(NodeIdentity.generate(), path)
    assert path.read_bytes() == b"someone else's file"
    assert _no_temp_files(tmp_path)


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.key"

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        save_identity(NodeIdentity.generate(), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.key"
    old = NodeIdentity.generate()
    save_identity(old, path)

    def failing_write(fd: int, data: Any) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(OSError, match="Input/output"):
        save_identity(NodeIdentity.generate(), path, overwrite=True)
    monkeypatch.undo()
    assert load_identity(path) == old
    assert [p.name for p in tmp_path.iterdir()] == ["node.key"]


def test_save_identity_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="NodeIdentity"):
        save_identity(b"\x00" * 32, tmp_path / "k")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="path"):
        save_identity(NodeIdentity.generate(), 5)  # type: ignore[arg-type]


def test_public_key_file_round_trip(tmp_path: Path) -> None:
    ident = NodeIdentity.generate()
    save_public_key(ident, tmp_path / "node.pub")
    assert load_public_key_file(tmp_path / "node.pub") == ident.public_key
    assert b"PRIVATE" not in (tmp_path / "node.pub").read_bytes()
    save_public_key(ident.public_key, tmp_path / "raw.pub")
    assert load_public_key_file(tmp_path / "raw.pub") == ident.public_key
    with pytest.raises(ParameterError, match="already exists"):
        save_public_key(ident, tmp_path / "node.pub")
    with pytest.raises(ParameterError, match="32 raw bytes"):
        save_public_key(b"short", tmp_path / "bad.pub")
    (tmp_path / "junk.pub").write_bytes(b"junk")
    with pytest.raises(DecodeError):
        load_public_key_file(tmp_path / "junk.pub")
    if os.name == "posix":
        assert _mode(tmp_path / "node.pub") == 0o644 & ~_umask()


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_roster_file_round_trip(tmp_path: Path) -> None:
    roster = Roster(
        {1: NodeIdentity.generate().public_key, "b": NodeIdentity.generate().public_key}
    )
    path = tmp_path / "roster.bin"
    save_roster(roster, path)
    loaded = load_roster(path)
    assert loaded == roster
    assert loaded.fingerprint == roster.fingerprint
    with pytest.raises(ParameterError, match="already exists"):
        save_roster(roster, path)
    save_roster(Roster(), path, overwrite=True)
    assert len(load_roster(path)) == 0
    path.write_bytes(wire.encode(wire.MessageType.TEST, roster.to_dict()))
    with pytest.raises(DecodeError, match="unexpected message type"):
        load_roster(path)
    path.write_bytes(wire.encode(wire.MessageType.IDENTITY_ROSTER, {"format": "x"}))
    with pytest.raises(DecodeError):
        load_roster(path)
    with pytest.raises(ParameterError, match="Roster"):
        save_roster({}, tmp_path / "r2")  # type: ignore[arg-type]


def test_repr_and_errors_never_show_key_material(tmp_path: Path) -> None:
    ident = NodeIdentity.generate()
    path = tmp_path / "node.key"
    save_identity(ident, path)
    with pytest.raises(ParameterError) as info:
        save_identity(ident, path)
    assert ident.private_bytes().hex() not in str(info.value)
