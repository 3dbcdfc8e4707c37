"""privkit.wire: the versioned, canonical wire format of every privkit protocol message.

A message is a 32-byte envelope header (magic, format version, type tag, parameter
fingerprint, body length) followed by one *value* in a canonical, self-describing binary
encoding that carries ``None``, bools, 64-bit ints, floats, bytes, strings, lists, dicts
with string keys and numpy arrays (as raw little-endian bytes).  Never pickle.

>>> from privkit import wire
>>> msg = wire.encode(wire.MessageType.TEST, {"round": 3})
>>> wire.decode(msg, expect_type=wire.MessageType.TEST).body
{'round': 3}

Security assumption: bytes handed to :func:`decode` / :func:`decode_value` are
untrusted.  They raise only :class:`privkit.errors.DecodeError` on malformed input, never
hang, never recurse, and never allocate more than a small multiple of the input size.
The normative specification is ``docs/wire-format.md``.
"""

from __future__ import annotations

from privkit.wire.envelope import (
    FINGERPRINT_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    NO_FINGERPRINT,
    Message,
    decode,
    encode,
    fingerprint,
)
from privkit.wire.tags import MessageType
from privkit.wire.values import Value, ValueLike, decode_value, encode_value

__all__ = [
    "FINGERPRINT_SIZE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "NO_FINGERPRINT",
    "Message",
    "MessageType",
    "Value",
    "ValueLike",
    "decode",
    "decode_value",
    "encode",
    "encode_value",
    "fingerprint",
]
