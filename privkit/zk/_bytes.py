"""The bytes-like inputs privkit.zk accepts, and their one conversion to ``bytes``."""

from __future__ import annotations

from typing import TypeAlias

from privkit.errors import ParameterError

__all__ = ["BytesLike", "as_bytes"]

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""What the functions of privkit.zk accept where they take bytes."""


def as_bytes(value: object, what: str) -> bytes:
    """``value`` as ``bytes``.

    Args:
        value: bytes, bytearray or memoryview.
        what: the argument's name, for the error message.

    Returns:
        An immutable copy (or ``value`` itself when it is already ``bytes``).

    Raises:
        ParameterError: ``value`` is not bytes-like (or is a released memoryview).
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        try:
            return bytes(value)
        except (TypeError, ValueError, BufferError):  # e.g. a released memoryview
            pass
    raise ParameterError(
        f"{what} must be bytes, bytearray or memoryview, got {type(value).__name__}"
    )
