"""Key agreement, seed derivation and share encryption for SecAgg (all from `cryptography`).

Every client holds two X25519 key pairs per round: ``c`` keys make the pairwise
channels that carry secret shares through the server (ChaCha20-Poly1305 under a
key per direction), ``s`` keys make the pairwise mask seeds.  All derivations go
through HKDF-SHA256 with an ``info`` string that names the purpose, the session
and the two clients, so no two uses ever share a key or a seed.  A client runs
one X25519 per neighbour and key kind, when the neighbour's keys arrive, and
keeps the derived keys for the later exchanges.

Security assumption: X25519 private keys and self-mask seeds come from the OS
CSPRNG (through `cryptography` and :mod:`secrets`); they live only in the client
session object and leave it only as Shamir shares, encrypted to one recipient.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from privkit.errors import ProtocolError

__all__ = [
    "KEY_BYTES",
    "KeyPair",
    "channel_keys",
    "check_public_key",
    "commit_seed",
    "decrypt_shares",
    "encrypt_shares",
    "mask_seed",
    "private_from_bytes",
]

KEY_BYTES = 32
_DOMAIN = b"privkit/secagg/v1/"
_NONCE = bytes(12)  # every channel key encrypts exactly one message


class KeyPair:
    """An X25519 key pair; the private half is exported only as raw bytes for sharing."""

    __slots__ = ("_private", "public")

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key pair from the OS CSPRNG."""
        return cls(X25519PrivateKey.generate())

    def private_bytes(self) -> bytes:
        """The 32 raw private-key bytes (secret: only ever Shamir-shared)."""
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def exchange(self, peer_public: bytes) -> bytes:
        """The X25519 shared secret with ``peer_public`` (validated by the caller)."""
        return self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public[:4].hex()}...)"

    def __deepcopy__(self, memo: object) -> KeyPair:
        # In-process copies are harmless (and let test harnesses fork a session);
        # pickling, which could write the key somewhere, is refused below.
        return private_from_bytes(self.private_bytes())

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecAgg key pairs hold secret keys and cannot be pickled")


def private_from_bytes(data: bytes) -> KeyPair:
    """Rebuild a key pair from reconstructed private bytes (server-side, for dropped clients)."""
    return KeyPair(X25519PrivateKey.from_private_bytes(data))


def check_public_key(value: object, what: str, client_id: object) -> bytes:
    """Validate an advertised X25519 public key; ProtocolError if it is not 32 usable bytes."""
    if not isinstance(value, bytes) or len(value) != KEY_BYTES:
        raise ProtocolError(f"{what} must be {KEY_BYTES} bytes", client_id=client_id)
    if value == bytes(KEY_BYTES):
        raise ProtocolError(f"{what} is the all-zero point", client_id=client_id)
    return value


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _id_bytes(client_id: int | str) -> bytes:
    # Self-delimiting: a tag, then 9 signed bytes (ints lie in [-2**63, 2**64)) or a
    # 4-byte length and UTF-8.
    if isinstance(client_id, str):
        raw = client_id.encode("utf-8")
        return b"s" + len(raw).to_bytes(4, "little") + raw
    return b"i" + client_id.to_bytes(9, "little", signed=True)


def _info(purpose: bytes, session: bytes, *parts: int | str) -> bytes:
    # Unambiguous: fixed purposes without NUL, a 16-byte session id, self-delimiting ids.
    return _DOMAIN + purpose + b"\0" + session + b"".join(_id_bytes(p) for p in parts)


def _shared(own: KeyPair, peer_public: bytes, client_id: object) -> bytes:
    try:
        shared = own.exchange(peer_public)
    except ValueError as exc:  # a low-order point gives the all-zero secret
        raise ProtocolError(
            "key agreement with an invalid public key", client_id=client_id
        ) from exc
    return shared


def mask_seed(
    own: KeyPair, peer_public: bytes, session: bytes, a: int | str, b: int | str
) -> bytes:
    """The 32-byte pairwise mask seed of clients a < b (canonical order), from either side."""
    return _hkdf(_shared(own, peer_public, b), _info(b"mask", session, a, b))


def channel_keys(
    own: KeyPair, peer_public: bytes, session: bytes, me: int | str, peer: int | str
) -> tuple[bytes, bytes]:
    """The (outgoing, incoming) share-channel keys between ``me`` and ``peer``.

    One X25519 gives both; HKDF separates the directions, so each key encrypts at
    most one message and the fixed nonce is never reused.
    """
    shared = _shared(own, peer_public, peer)
    return (
        _hkdf(shared, _info(b"channel", session, me, peer)),
        _hkdf(shared, _info(b"channel", session, peer, me)),
    )


def encrypt_shares(
    key: bytes, session: bytes, sender: int | str, receiver: int | str, bundle: bytes
) -> bytes:
    """Encrypt one share bundle from ``sender`` to ``receiver`` (ChaCha20-Poly1305)."""
    aad = _info(b"shares", session, sender, receiver)
    return ChaCha20Poly1305(key).encrypt(_NONCE, bundle, aad)


def decrypt_shares(
    key: bytes, session: bytes, sender: int | str, receiver: int | str, ct: bytes
) -> bytes:
    """Decrypt a share bundle; ProtocolError naming the sender if it does not authenticate."""
    aad = _info(b"shares", session, sender, receiver)
    try:
        return ChaCha20Poly1305(key).decrypt(_NONCE, ct, aad)
    except InvalidTag as exc:
        raise ProtocolError(
            "encrypted shares did not authenticate (tampered, misrouted or from another session)",
            client_id=sender,
        ) from exc


def commit_seed(seed: bytes, session: bytes, client_id: int | str) -> bytes:
    """A hash commitment to a self-mask seed, so the server can check its reconstruction.

    The seed is 256 uniformly random bits, so the commitment hides it.
    """
    return hashlib.sha256(_info(b"self-mask-commitment", session, client_id) + seed).digest()


def new_seed() -> bytes:
    """A fresh 32-byte self-mask seed from the OS CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)
