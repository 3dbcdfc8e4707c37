"""Node identities on disk: private key files (mode 0600), public key and roster files.

:func:`save_identity` writes a node's Ed25519 private key as a PKCS #8 PEM file,
encrypted under a passphrase when one is given (``cryptography``'s
``BestAvailableEncryption``: scrypt-derived key, AES-256-CBC and an HMAC, as chosen by
the installed OpenSSL).  The file is created with mode ``0600`` and written atomically:
the PEM goes to a fresh temporary file in the same directory (``O_CREAT | O_EXCL``,
mode ``0600``), is flushed with ``fsync`` and then renamed over (or hard-linked to) the
target, so a crash leaves either the old file, the new file, or no file, never a
partial one.  :func:`load_identity` refuses a key file that its group or other users
can read, before reading a byte of it.

Public keys (:func:`save_public_key`, :func:`load_public_key_file`) are written as
``SubjectPublicKeyInfo`` PEM and rosters (:func:`save_roster`, :func:`load_roster`) as a
:mod:`privkit.wire` message of type ``IDENTITY_ROSTER`` holding
:meth:`privkit.identity.Roster.to_dict`; both are public and use mode ``0644``.

Security assumptions: the directory holding a key file is writable only by its owner
(whoever can write the directory can replace the file); a passphrase protects the key
against someone who copies the file, not against someone who can watch this process.
The permission check is POSIX-only: on Windows, file modes say nothing about who can read
a file, and the check is skipped.  Files handed to the loaders are untrusted: they raise
only :class:`~privkit.errors.ParameterError` or :class:`~privkit.errors.DecodeError`, and
no message ever contains key material or the passphrase.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from privkit import wire
from privkit.errors import DecodeError, ParameterError
from privkit.identity.node import PUBLIC_KEY_BYTES, NodeIdentity, bytes_or_none
from privkit.identity.roster import Roster
from privkit.wire import MessageType

__all__ = [
    "KEY_FILE_MAX_BYTES",
    "load_identity",
    "load_public_key_file",
    "load_roster",
    "save_identity",
    "save_public_key",
    "save_roster",
]

KEY_FILE_MAX_BYTES: Final = 64 * 1024
"""The largest key or public key file the loaders read (an Ed25519 PEM is < 1 KiB)."""
ROSTER_FILE_MAX_BYTES: Final = 64 * 1024 * 1024
"""The largest roster file :func:`load_roster` reads."""

_PRIVATE_MODE: Final = 0o600
_PUBLIC_MODE: Final = 0o644
_ENCRYPTED_PEM: Final = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"

StrPath = str | os.PathLike[str]


def _check_path(path: object) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if not str(p):
        raise ParameterError("path must not be empty")
    return p


def _check_passphrase(passphrase: object) -> bytes | None:
    if passphrase is None:
        return None
    if isinstance(passphrase, str):
        raise ParameterError("passphrase must be bytes (e.g. passphrase.encode('utf-8')), got str")
    data = bytes_or_none(passphrase)
    if data is None:
        raise ParameterError(f"passphrase must be bytes or None, got {type(passphrase).__name__}")
    if not data:
        raise ParameterError("passphrase must not be empty; pass None for an unencrypted key file")
    return data


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry to disk (best effort; not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically, the new file having permission ``mode``.

    Raises:
        ParameterError: ``path`` exists and ``overwrite`` is false, or its directory
            does not exist.
        OSError: the file system refused (permissions, disk full); no partial target
            file is left behind and the temporary file is removed.
    """
    directory = path.parent
    if not directory.is_dir():
        raise ParameterError(f"cannot write {path}: directory {directory} does not exist")
    if not overwrite and os.path.lexists(path):
        raise ParameterError(f"{path} already exists; pass overwrite=True to replace it")
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # the umask may have removed bits we want (0644)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: no silent overwrite
            except FileExistsError:
                raise ParameterError(
                    f"{path} already exists; pass overwrite=True to replace it"
                ) from None
            except OSError:  # pragma: no cover - file systems without hard links
                if os.path.lexists(path):
                    raise ParameterError(
                        f"{path} already exists; pass overwrite=True to replace it"
                    ) from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(directory)


def _read_limited(path: Path, limit: int, *, private: bool) -> bytes:
    """Read a whole regular file of at most ``limit`` bytes.

    With ``private``, refuse a file that its group or others can access (POSIX only),
    checked with ``fstat`` on the opened descriptor, so the file checked is the file read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO planted at path cannot hang us
    except FileNotFoundError:
        raise ParameterError(f"{path} does not exist") from None
    except OSError as exc:
        raise ParameterError(f"cannot open {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ParameterError(f"{path} is not a regular file")
        perms = stat.S_IMODE(st.st_mode)
        if private and os.name == "posix" and perms & 0o077:
            raise ParameterError(
                f"{path} has mode {perms:04o}: a private key file must be readable by its "
                f"owner only; run `chmod 600 {path}` (and consider the key exposed if "
                "others could read it)"
            )
        if st.st_size > limit:
            raise DecodeError(f"{path} is {st.st_size} bytes; expected at most {limit}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise DecodeError(f"{path} is larger than {limit} bytes")
    return data


def save_identity(
    identity: NodeIdentity,
    path: StrPath,
    *,
    passphrase: bytes | None = None,
    overwrite: bool = False,
) -> None:
    """Write a node's private key to a file only its owner can read.

    Args:
        identity: the node identity to store.
        path: the key file to create.  Its directory must exist and should be writable
            only by its owner.
        passphrase: encrypt the key under this (non-empty) passphrase with
            ``BestAvailableEncryption``; ``None`` writes it unencrypted (then the file's
            permissions are its only protection).
        overwrite: replace an existing file; by default an existing file is refused.

    Returns:
        ``None``.  The file holds a PKCS #8 PEM private key (``ENCRYPTED PRIVATE KEY``
        with a passphrase) and has mode ``0600``.

    Raises:
        ParameterError: ``identity`` is not a :class:`NodeIdentity`, ``passphrase`` is
            not non-empty bytes (a ``str`` is refused: encode it), ``path`` exists and
            ``overwrite`` is false, or the directory does not exist.
        OSError: the file system refused; no partial file is left at ``path``.
    """
    if not isinstance(identity, NodeIdentity):
        raise ParameterError(f"identity must be a NodeIdentity, got {type(identity).__name__}")
    p = _check_path(path)
    pw = _check_passphrase(passphrase)
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if pw is None else serialization.BestAvailableEncryption(pw)
    )
    key = Ed25519PrivateKey.from_private_bytes(identity.private_bytes())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _atomic_write(p, pem, mode=_PRIVATE_MODE, overwrite=overwrite)


def load_identity(path: StrPath, *, passphrase: bytes | None = None) -> NodeIdentity:
    """Load a node identity written by :func:`save_identity` (or any Ed25519 PKCS #8 PEM).

    Args:
        path: the key file.  It must be a regular file (not a symlink) that neither its
            group nor other users can access (POSIX).
        passphrase: the passphrase the file was encrypted with; ``None`` for an
            unencrypted file.

    Returns:
        The :class:`NodeIdentity`.

    Raises:
        ParameterError: the file does not exist or cannot be opened; its mode lets its
            group or others access it (the message names the mode and ``chmod 600``); it
            is encrypted and no passphrase was given, or a passphrase was given for an
            unencrypted file; the passphrase is wrong (or the encrypted data is
            corrupt: the two cannot be told apart); ``passphrase`` is not non-empty bytes.
        DecodeError: the file is not a PEM private key, is corrupt, too large, or holds
            a key other than Ed25519.
    """
    p = _check_path(path)
    pw = _check_passphrase(passphrase)
    data = _read_limited(p, KEY_FILE_MAX_BYTES, private=True)
    encrypted = data.lstrip().startswith(_ENCRYPTED_PEM)
    if encrypted and pw is None:
        raise ParameterError(f"{p} is encrypted: pass the passphrase to load it")
    if not encrypted and pw is not None and b"-----BEGIN PRIVATE KEY-----" in data:
        raise ParameterError(f"{p} is not encrypted, but a passphrase was given")
    try:
        key = serialization.load_pem_private_key(data, password=pw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if encrypted:
            raise ParameterError(
                f"cannot decrypt {p}: wrong passphrase, or the file is corrupt"
            ) from None
        raise DecodeError(
            f"{p} is not a valid PEM private key file (corrupt or truncated)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DecodeError(f"{p} holds a {type(key).__name__}, not an Ed25519 private key")
    return NodeIdentity.from_private_bytes(key.private_bytes_raw())


def save_public_key(
    public_key: NodeIdentity | bytes, path: StrPath, *, overwrite: bool = False
) -> None:
    """Write a public key as a ``SubjectPublicKeyInfo`` PEM file (mode ``0644``).

    Args:
        public_key: a :class:`NodeIdentity` (only its public half is written) or a
            32-byte raw Ed25519 public key.
        path: the file to create, atomically.
        overwrite: replace an existing file.

    Raises:
        ParameterError: ``public_key`` is neither, ``path`` exists and ``overwrite`` is
            false, or the directory does not exist.
        OSError: the file system refused; no partial file is left at ``path``.
    """
    if isinstance(public_key, NodeIdentity):
        raw: bytes | None = public_key.public_key
    else:
        raw = bytes_or_none(public_key)
    if raw is None or len(raw) != PUBLIC_KEY_BYTES:
        raise ParameterError(
            f"public_key must be a NodeIdentity or {PUBLIC_KEY_BYTES} raw bytes, "
            f"got {type(public_key).__name__}"
        )
    p = _check_path(path)
    pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _atomic_write(p, pem, mode=_PUBLIC_MODE, overwrite=overwrite)


def load_public_key_file(path: StrPath) -> bytes:
    """Read a public key written by :func:`save_public_key`.

    Args:
        path: a PEM ``SubjectPublicKeyInfo`` Ed25519 public key file.

    Returns:
        The 32-byte raw public key (check who it belongs to out of band, e.g. by its
        :func:`privkit.identity.key_id`, before admitting it to a roster).

    Raises:
        ParameterError: the file does not exist or cannot be opened.
        DecodeError: it is not a PEM public key, is too large, or not Ed25519.
    """
    p = _check_path(path)
    data = _read_limited(p, KEY_FILE_MAX_BYTES, private=False)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise DecodeError(f"{p} is not a valid PEM public key file") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DecodeError(f"{p} holds a {type(key).__name__}, not an Ed25519 public key")
    return key.public_bytes_raw()


def save_roster(roster: Roster, path: StrPath, *, overwrite: bool = False) -> None:
    """Write a roster file: a :mod:`privkit.wire` ``IDENTITY_ROSTER`` message (mode ``0644``).

    Args:
        roster: the roster to store.
        path: the file to create, atomically.
        overwrite: replace an existing file.

    Raises:
        ParameterError: ``roster`` is not a :class:`Roster`, ``path`` exists and
            ``overwrite`` is false, or the directory does not exist.
        OSError: the file system refused; no partial file is left at ``path``.
    """
    if not isinstance(roster, Roster):
        raise ParameterError(f"roster must be a Roster, got {type(roster).__name__}")
    p = _check_path(path)
    data = wire.encode(MessageType.IDENTITY_ROSTER, roster.to_dict())
    _atomic_write(p, data, mode=_PUBLIC_MODE, overwrite=overwrite)


def load_roster(path: StrPath) -> Roster:
    """Read a roster file written by :func:`save_roster`.

    A roster file is only as trustworthy as the channel it came over: compare
    :attr:`Roster.fingerprint` with the other parties over an authenticated channel.

    Args:
        path: the roster file.

    Returns:
        The :class:`Roster`.

    Raises:
        ParameterError: the file does not exist or cannot be opened.
        DecodeError: it is not an ``IDENTITY_ROSTER`` message, is larger than
            ``ROSTER_FILE_MAX_BYTES``, or its content is not a valid roster.
    """
    p = _check_path(path)
    data = _read_limited(p, ROSTER_FILE_MAX_BYTES, private=False)
    msg = wire.decode(data, expect_type=MessageType.IDENTITY_ROSTER)
    return Roster.from_dict(msg.body)
