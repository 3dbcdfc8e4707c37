"""The versioned envelope every privkit protocol message travels in.

Layout (all integers little-endian; normative text in ``docs/wire-format.md``)::

    offset  size  field
    0       4     magic  b"\\x89PKW"
    4       2     format version (u16), currently 1
    6       2     type tag (u16), 1..65535, see privkit.wire.tags
    8       16    parameter fingerprint (all zero: none)
    24      8     body length (u64), must equal len(message) - 32
    32      n     body: exactly one value in the canonical value encoding

The fingerprint binds a message to the parameters of the scheme that produced it (see
:func:`fingerprint`): a party that decodes with ``expect_fingerprint`` refuses messages
made for other parameters, instead of misreading them.

Security assumption: the bytes given to :func:`decode` are untrusted.  Every field is
checked before the body is parsed, the body is parsed by the hardened value decoder, and
only :class:`privkit.errors.DecodeError` is raised for malformed input.  Error messages
describe the header fields found and expected, never the body.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from privkit.errors import DecodeError, ParameterError
from privkit.wire.tags import tag_name
from privkit.wire.values import (
    DEFAULT_MAX_DEPTH,
    Value,
    ValueLike,
    as_byte_view,
    check_max_depth,
    decode_body,
    encode_parts,
    encode_value,
)

__all__ = [
    "FINGERPRINT_SIZE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "NO_FINGERPRINT",
    "Message",
    "decode",
    "encode",
    "fingerprint",
]

MAGIC: Final = b"\x89PKW"
"""The first four bytes of every message (the high bit catches 7-bit channels)."""
FORMAT_VERSION: Final = 1
"""The envelope / value format version this code writes and reads."""
HEADER_SIZE: Final = 32
"""Bytes before the body."""
FINGERPRINT_SIZE: Final = 16
"""Bytes of a parameter fingerprint."""
NO_FINGERPRINT: Final = bytes(FINGERPRINT_SIZE)
"""The fingerprint of a message not bound to any parameters."""

_HEADER: Final = struct.Struct("<4sHH16sQ")
assert _HEADER.size == HEADER_SIZE

_FINGERPRINT_PREFIX: Final = b"privkit.wire.fingerprint.v1\x00"


@dataclass(frozen=True)
class Message:
    """A decoded message.

    ``==`` compares bodies with ``==``, which numpy arrays do not answer with a single
    bool; to compare messages that may hold arrays, compare :meth:`to_bytes` (the
    encoding is canonical).  Messages whose body is a list or dict are not hashable.

    Attributes:
        type_tag: the type tag from the header (1..65535), a plain ``int``; compare it
            with :class:`privkit.wire.MessageType` members.
        fingerprint: the 16-byte parameter fingerprint from the header.
        body: the decoded body value.
    """

    type_tag: int
    fingerprint: bytes
    body: Value

    def to_bytes(self) -> bytes:
        """Encode this message again; equal to the bytes it was decoded from.

        Raises:
            ParameterError: as :func:`encode`.
        """
        return encode(self.type_tag, self.body, fingerprint=self.fingerprint)


def _check_type_tag(type_tag: object) -> int:
    if isinstance(type_tag, bool) or not isinstance(type_tag, int) or not 1 <= type_tag <= 0xFFFF:
        raise ParameterError(
            f"type_tag must be an int in 1..65535 (a u16 other than 0), got {type_tag!r}"
        )
    return int(type_tag)


def _check_fingerprint(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ParameterError(f"{name} must be {FINGERPRINT_SIZE} bytes, got {type(value).__name__}")
    fp = bytes(value)
    if len(fp) != FINGERPRINT_SIZE:
        raise ParameterError(f"{name} must be {FINGERPRINT_SIZE} bytes, got {len(fp)} bytes")
    return fp


def encode(type_tag: int, body: ValueLike, *, fingerprint: bytes = NO_FINGERPRINT) -> bytes:
    """Encode one message: envelope header plus canonical body.

    The body is written once into the output (arrays are not copied more than once).

    Args:
        type_tag: the message type, 1..65535; use a :class:`privkit.wire.MessageType`
            member or a tag of your own in ``0x7F00..0x7FFF``.
        body: the message content, any :data:`privkit.wire.Value` (or
            :data:`privkit.wire.ValueLike`: any sequence, mapping or numpy scalar that
            encodes like one).
        fingerprint: the 16-byte parameter fingerprint of the scheme (see
            :func:`fingerprint`); all zero when the message is not bound to parameters.

    Returns:
        The message bytes.  Canonical: ``encode(*decoded) == original`` for every message
        that :func:`decode` accepts.

    Raises:
        ParameterError: ``type_tag`` is not in 1..65535, ``fingerprint`` is not 16
            bytes, or ``body`` cannot be encoded (see :func:`privkit.wire.encode_value`).
    """
    tag = _check_type_tag(type_tag)
    fp = _check_fingerprint(fingerprint, "fingerprint")
    parts = encode_parts(body)
    length = sum(len(p) if isinstance(p, bytes) else p.nbytes for p in parts)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, tag, fp, length)
    return b"".join([header, *parts])


def _expected_types(expect_type: int | Collection[int] | None) -> frozenset[int] | None:
    if expect_type is None:
        return None
    if isinstance(expect_type, int):
        return frozenset((_check_type_tag(expect_type),))
    if isinstance(expect_type, str | bytes):
        raise ParameterError("expect_type must be an int or a collection of ints")
    return frozenset(_check_type_tag(t) for t in expect_type)


def decode(
    data: bytes | bytearray | memoryview,
    *,
    expect_type: int | Collection[int] | None = None,
    expect_fingerprint: bytes | None = None,
    max_size: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Message:
    """Decode and check one message from untrusted bytes.

    Checks, in this order: size limit, header length, magic, format version, type tag
    (non-zero, then ``expect_type``), fingerprint (``expect_fingerprint``, in constant
    time), body length, then the body itself.  The input is read through a memoryview;
    only the decoded values are copied out of it.

    Args:
        data: exactly one message.
        expect_type: the tag, or collection of tags, the caller accepts; ``None``
            accepts any tag in 1..65535 (registered or not).
        expect_fingerprint: the 16-byte fingerprint the message must carry; ``None``
            skips the check.
        max_size: refuse input longer than this many bytes before parsing anything.
        max_depth: the most nested lists/dicts allowed in the body.

    Returns:
        The :class:`Message`.

    Raises:
        DecodeError: (also a ``ValueError``) wrong magic, unsupported version, type tag
            0 or not expected, fingerprint mismatch, input over ``max_size``, truncated
            input, trailing bytes, or a malformed body.  The message says what was found
            and what was expected, and never contains the body.
        ParameterError: a bad argument: ``data`` not bytes-like, ``expect_type`` outside
            1..65535, ``expect_fingerprint`` not 16 bytes, negative ``max_size`` or
            ``max_depth``.
    """
    expected = _expected_types(expect_type)
    want_fp = (
        None
        if expect_fingerprint is None
        else _check_fingerprint(expect_fingerprint, "expect_fingerprint")
    )
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
    ):
        raise ParameterError(f"max_size must be a non-negative int or None, got {max_size!r}")
    check_max_depth(max_depth)

    buf = as_byte_view(data)
    size = len(buf)
    if max_size is not None and size > max_size:
        raise DecodeError(f"message too large: {size} bytes, max_size is {max_size}")
    if size < HEADER_SIZE:
        raise DecodeError(f"truncated message: {size} bytes, a message has at least {HEADER_SIZE}")
    magic, version, tag, fp, body_len = _HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise DecodeError(f"not a privkit message: magic {magic.hex()}, expected {MAGIC.hex()}")
    if version != FORMAT_VERSION:
        raise DecodeError(
            f"unsupported wire format version {version}; this privkit reads version "
            f"{FORMAT_VERSION}"
        )
    if tag == 0:
        raise DecodeError("invalid message type tag 0x0000; tags are 1..65535")
    if expected is not None and tag not in expected:
        wanted = ", ".join(tag_name(t) for t in sorted(expected))
        raise DecodeError(f"unexpected message type {tag_name(tag)}; expected {wanted}")
    if want_fp is not None and not hmac.compare_digest(fp, want_fp):
        raise DecodeError(
            f"fingerprint mismatch: the message was made for other parameters "
            f"(fingerprint {fp.hex()}, expected {want_fp.hex()})"
        )
    available = size - HEADER_SIZE
    if body_len > available:
        raise DecodeError(
            f"truncated message: header announces a {body_len}-byte body, "
            f"{available} bytes follow the header"
        )
    if body_len < available:
        raise DecodeError(
            f"trailing bytes after message: header announces a {body_len}-byte body, "
            f"{available} bytes follow the header"
        )
    body = decode_body(buf, HEADER_SIZE, max_depth)
    return Message(type_tag=tag, fingerprint=fp, body=body)


def fingerprint(domain: str, params: Mapping[str, ValueLike]) -> bytes:
    """Derive the 16-byte parameter fingerprint of a scheme.

    ``SHA-256(b"privkit.wire.fingerprint.v1\\x00" || u64le(len(domain)) || domain ||
    encode_value(dict(params)))[:16]``.  The domain is length-prefixed and the params
    encoding is self-delimiting, so no two distinct ``(domain, params)`` pairs share an
    input; the params encoding is canonical, so dict order does not matter.  Parameters
    are public: the fingerprint is a collision-resistant identifier (64-bit collision
    security after truncation), not a secret and not a MAC.

    Args:
        domain: printable ASCII naming the scheme and its version, e.g.
            ``"privkit.secagg.v1"``.
        params: every parameter both parties must agree on (str keys, values as for
            :func:`privkit.wire.encode_value`).

    Returns:
        16 bytes.

    Raises:
        ParameterError: ``domain`` is empty or not printable ASCII, or ``params`` cannot
            be encoded.
    """
    if (
        not isinstance(domain, str)
        or not domain
        or not domain.isascii()
        or not (domain.isprintable())
    ):
        raise ParameterError(f"domain must be a non-empty printable ASCII str, got {domain!r}")
    if not isinstance(params, Mapping):
        raise ParameterError(f"params must be a mapping, got {type(params).__name__}")
    domain_bytes = domain.encode("ascii")
    h = hashlib.sha256(_FINGERPRINT_PREFIX)
    h.update(struct.pack("<Q", len(domain_bytes)))
    h.update(domain_bytes)
    h.update(encode_value(dict(params)))
    return h.digest()[:FINGERPRINT_SIZE]
