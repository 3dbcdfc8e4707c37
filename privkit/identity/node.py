"""Node signing keys: Ed25519 through the ``cryptography`` package, domain-separated.

A :class:`NodeIdentity` holds one node's Ed25519 signing key.  Every signature it makes
covers the *signing input* of ``(context, message)``, never the bare message::

    signing_input = field(b"privkit/identity/v1") || field(context) || field(message)
    field(x)      = u64le(len(x)) || x

where ``context`` is a non-empty printable-ASCII label naming what is signed (for example
``"privkit.secagg.v1/advertise-keys"``).  Every field is length-prefixed, so the signing
input determines ``(context, message)`` uniquely: a signature made under one context never
verifies under another, and no privkit signature is a valid signature of a bare message.
The signature itself is standard Ed25519 (RFC 8032) over the signing input.

Security assumptions: private keys come only from the operating system's randomness
(through ``cryptography``) or from :meth:`NodeIdentity.from_private_bytes`; they leave a
:class:`NodeIdentity` only through :meth:`NodeIdentity.private_bytes`; they are never
pickled, printed or put in error messages.  Public keys, signatures and messages handed
to :func:`verify` are untrusted: anything wrong with them raises only
:class:`~privkit.errors.VerificationError`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Final, NoReturn, TypeAlias, final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from privkit.errors import ParameterError, VerificationError
from privkit.identity._points import is_canonical_large_order, is_curve_point

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "NodeIdentity",
    "key_id",
    "verify",
]

PUBLIC_KEY_BYTES: Final = 32
"""Bytes of a raw Ed25519 public key."""
SIGNATURE_BYTES: Final = 64
"""Bytes of an Ed25519 signature."""
PRIVATE_KEY_BYTES: Final = 32
"""Bytes of a raw Ed25519 private key (the RFC 8032 seed)."""

SIGNING_PREFIX: Final = b"privkit/identity/v1"
"""The first field of every signing input: the domain and version of privkit signatures."""
_KEY_ID_PREFIX: Final = b"privkit/identity/v1/key-id\x00"
_KEY_ID_BYTES: Final = 8
_U64: Final = struct.Struct("<Q")

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""What the functions of this module accept where they take bytes."""


def check_context(context: object) -> bytes:
    """Validate a signature context and return its ASCII bytes.

    Args:
        context: the label of what is signed.

    Returns:
        ``context`` encoded as ASCII.

    Raises:
        ParameterError: ``context`` is not a non-empty printable-ASCII ``str``.  A
            context is the caller's constant, never untrusted input, so a bad one is a
            programming error and is not reported as a failed verification.
    """
    if (
        type(context) is not str
        or not context
        or not context.isascii()
        or not context.isprintable()
    ):
        shown = repr(context) if isinstance(context, str) else type(context).__name__
        raise ParameterError(
            f"context must be a non-empty printable ASCII str naming what is signed "
            f"(e.g. 'privkit.secagg.v1/advertise-keys'), got {shown[:60]}"
        )
    return context.encode("ascii")


def signing_input(context: bytes, message: bytes) -> bytes:
    """The bytes an Ed25519 signature actually covers (see the module docstring).

    Args:
        context: the ASCII context, already checked with :func:`check_context`.
        message: the message.

    Returns:
        ``field(SIGNING_PREFIX) || field(context) || field(message)``.
    """
    return b"".join(
        (
            _U64.pack(len(SIGNING_PREFIX)),
            SIGNING_PREFIX,
            _U64.pack(len(context)),
            context,
            _U64.pack(len(message)),
            message,
        )
    )


def bytes_or_none(value: object) -> bytes | None:
    """``value`` as ``bytes`` if it is bytes-like (bytes, bytearray, memoryview), else ``None``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        try:
            return bytes(value)
        except (TypeError, ValueError, BufferError):  # e.g. a released memoryview
            return None
    return None


def key_id(public_key: BytesLike) -> str:
    """A short printable id of a public key, for logs and reprs.

    ``SHA-256(b"privkit/identity/v1/key-id\\x00" || public_key)[:8]`` in lowercase hex.
    It identifies a key for humans; it is not a substitute for comparing full keys
    (two keys share an id with probability about 2**-64, and an attacker can find such
    a pair with about 2**32 work).

    Args:
        public_key: 32 raw Ed25519 public-key bytes (not checked to be a curve point).

    Returns:
        16 lowercase hex characters.

    Raises:
        ParameterError: ``public_key`` is not 32 bytes.
    """
    data = bytes_or_none(public_key)
    if data is None or len(data) != PUBLIC_KEY_BYTES:
        found = f"{len(data)} bytes" if data is not None else type(public_key).__name__
        raise ParameterError(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {found}")
    digest = hashlib.sha256(_KEY_ID_PREFIX + data).digest()
    return digest[:_KEY_ID_BYTES].hex()


def load_public_key(
    public_key: object, *, check_point: bool
) -> tuple[bytes, Ed25519PublicKey] | None:
    """Check and load a raw public key.

    Args:
        public_key: untrusted input.
        check_point: also check that it decodes to a curve point (about 0.1 ms); without
            it, a key that is not a point is refused by every verification instead.

    Returns:
        ``(raw bytes, cryptography key)``, or ``None`` when ``public_key`` is not 32
        bytes, not a canonical encoding, a point of small order, or (``check_point``)
        not a curve point.
    """
    data = bytes_or_none(public_key)
    if data is None or not is_canonical_large_order(data):
        return None
    if check_point and not is_curve_point(data):
        return None
    try:
        return data, Ed25519PublicKey.from_public_bytes(data)
    except ValueError:  # pragma: no cover - cryptography loads every 32-byte string
        return None


def verify_loaded(
    key: Ed25519PublicKey, message: object, signature: object, context: bytes, signer: str
) -> None:
    """Verify a signature under an already loaded public key.

    Args:
        key: the signer's public key.
        message: the message (untrusted).
        signature: the signature (untrusted).
        context: the ASCII context, already checked with :func:`check_context`.
        signer: a printable description of the signer for the error message.

    Raises:
        VerificationError: ``message`` is not bytes, ``signature`` is not 64 bytes, or
            the signature does not verify.
    """
    msg = bytes_or_none(message)
    if msg is None:
        raise VerificationError(f"message must be bytes, got {type(message).__name__}")
    sig = bytes_or_none(signature)
    if sig is None or len(sig) != SIGNATURE_BYTES:
        found = f"{len(sig)} bytes" if sig is not None else type(signature).__name__
        raise VerificationError(f"signature must be {SIGNATURE_BYTES} bytes, got {found}")
    try:
        key.verify(sig, signing_input(context, msg))
    except (InvalidSignature, ValueError, TypeError):
        raise VerificationError(
            f"signature by {signer} does not verify for context "
            f"{context.decode('ascii')!r}: wrong key, context, message or signature"
        ) from None


def verify(
    public_key: BytesLike, message: BytesLike, signature: BytesLike, *, context: str
) -> None:
    """Check a signature made by :meth:`NodeIdentity.sign`.

    Args:
        public_key: the signer's 32-byte raw Ed25519 public key (untrusted).
        message: the signed message (untrusted).
        signature: the 64-byte signature (untrusted).
        context: the context the signature must have been made for.

    Returns:
        ``None``; the signature is valid when no exception is raised.

    Raises:
        VerificationError: (also a ``ValueError``) the signature does not verify for this
            key, message and context; or ``public_key`` is not 32 bytes, a
            non-canonical encoding, a point of small order (such keys let anyone forge
            signatures) or no curve point at all; or ``signature`` is not 64 bytes; or
            an argument is not bytes.  Never another exception for bad keys, messages
            or signatures.
        ParameterError: ``context`` is not a non-empty printable-ASCII ``str`` (a
            programming error, not bad input).
    """
    ctx = check_context(context)
    loaded = load_public_key(public_key, check_point=False)
    if loaded is None:
        data = bytes_or_none(public_key)
        if data is None:
            raise VerificationError(
                f"public key must be {PUBLIC_KEY_BYTES} bytes, got {type(public_key).__name__}"
            )
        if len(data) != PUBLIC_KEY_BYTES:
            raise VerificationError(
                f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(data)} bytes"
            )
        raise VerificationError(
            f"public key {key_id(data)} is not a valid Ed25519 public key "
            "(a non-canonical encoding, or a point of small order)"
        )
    raw, key = loaded
    verify_loaded(key, message, signature, ctx, f"key {key_id(raw)}")


@final
class NodeIdentity:
    """One node's Ed25519 signing key.

    Create one with :meth:`generate` (fresh randomness from the operating system) or
    :meth:`from_private_bytes`.  The public half is :attr:`public_key`; the private half
    leaves the object only through :meth:`private_bytes`.  Instances are immutable,
    compare and hash by public key, print only a short key id, and refuse to be pickled
    (a pickle would write the secret key wherever the pickle goes).

    Security assumptions: the caller stores the private key where only this node can
    read it, and distributes the public key to the other parties over an authenticated
    channel (admission is out of band; see :class:`privkit.identity.Roster`).
    """

    __slots__ = ("_private", "_public")

    _private: Ed25519PrivateKey
    _public: bytes

    def __init__(self) -> None:
        raise TypeError(
            "NodeIdentity cannot be constructed directly: use NodeIdentity.generate() or "
            "NodeIdentity.from_private_bytes(data)"
        )

    @classmethod
    def _wrap(cls, private: Ed25519PrivateKey) -> NodeIdentity:
        self = object.__new__(cls)
        object.__setattr__(self, "_private", private)
        object.__setattr__(self, "_public", private.public_key().public_bytes_raw())
        return self

    @classmethod
    def generate(cls) -> NodeIdentity:
        """Create a new identity from the operating system's randomness.

        Returns:
            A fresh :class:`NodeIdentity`.
        """
        return cls._wrap(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, data: BytesLike) -> NodeIdentity:
        """Load an identity from its raw private key.

        Args:
            data: the 32-byte Ed25519 private key (the RFC 8032 seed), as returned by
                :meth:`private_bytes`.

        Returns:
            The :class:`NodeIdentity` holding that key.

        Raises:
            ParameterError: ``data`` is not 32 bytes.  The message gives the length
                found, never the bytes.
        """
        raw = bytes_or_none(data)
        if raw is None or len(raw) != PRIVATE_KEY_BYTES:
            found = f"{len(raw)} bytes" if raw is not None else type(data).__name__
            raise ParameterError(
                f"an Ed25519 private key is {PRIVATE_KEY_BYTES} raw bytes, got {found}"
            )
        return cls._wrap(Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        """Export the secret key: the only way privkit ever hands it out.

        Whoever holds these 32 bytes can sign as this node.  Write them only where this
        node alone can read them; never log, print or send them.
        :func:`privkit.identity.save_identity` writes them to a mode-0600 file,
        optionally encrypted under a passphrase.

        Returns:
            The 32-byte raw Ed25519 private key, accepted by :meth:`from_private_bytes`.
        """
        return self._private.private_bytes_raw()

    @property
    def public_key(self) -> bytes:
        """The 32-byte raw Ed25519 public key (public: share it freely)."""
        return self._public

    @property
    def key_id(self) -> str:
        """:func:`key_id` of :attr:`public_key`: 16 hex characters for logs."""
        return key_id(self._public)

    def sign(self, message: BytesLike, *, context: str) -> bytes:
        """Sign a message for one context.

        The signature is standard Ed25519 over the signing input of ``(context,
        message)`` (see the module docstring), so it verifies only with the same
        context: use a distinct context for every kind of message, for example
        ``"privkit.secagg.v1/advertise-keys"``.

        Args:
            message: the bytes to sign (typically a canonical
                :func:`privkit.wire.encode_value` encoding).
            context: a non-empty printable-ASCII label naming what is signed.

        Returns:
            The 64-byte signature.

        Raises:
            ParameterError: ``message`` is not bytes, or ``context`` is not a non-empty
                printable-ASCII ``str``.
        """
        ctx = check_context(context)
        msg = bytes_or_none(message)
        if msg is None:
            raise ParameterError(f"message must be bytes, got {type(message).__name__}")
        return self._private.sign(signing_input(ctx, msg))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NodeIdentity):
            return NotImplemented
        return hmac.compare_digest(self._public, other._public)

    def __hash__(self) -> int:
        return hash((NodeIdentity, self._public))

    def __repr__(self) -> str:
        return f"NodeIdentity(key_id={self.key_id!r})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("NodeIdentity is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("NodeIdentity is immutable")

    def __copy__(self) -> NodeIdentity:
        return self

    def __deepcopy__(self, memo: object) -> NodeIdentity:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "NodeIdentity refuses to be pickled: a pickle would carry the secret key; "
            "export it explicitly with private_bytes() if you must store it"
        )

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        self.__reduce__()

    def __getstate__(self) -> NoReturn:
        self.__reduce__()
