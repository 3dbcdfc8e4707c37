"""The privkit exception hierarchy.

Every exception privkit raises derives from :class:`PrivkitError`, which is never
raised itself.  Each subclass also inherits the builtin exception that fits, so
``except ValueError`` keeps working for callers that do not know privkit.

Messages say what was wrong and what would be right; they never contain secret
material (keys, seeds, shares, plaintext updates).
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "DecodeError",
    "NativeError",
    "ParameterError",
    "PrivacyBudgetExceededError",
    "PrivkitError",
    "ProtocolError",
    "VerificationError",
]


class PrivkitError(Exception):
    """Base class of all privkit errors; never raised directly."""

    def __new__(cls, *args: object, **kwargs: object) -> PrivkitError:
        if cls is PrivkitError:
            raise TypeError("PrivkitError is abstract: raise one of its subclasses")
        return super().__new__(cls, *args)


class ParameterError(PrivkitError, ValueError):
    """A parameter or argument is invalid or the combination cannot work."""


class DecodeError(PrivkitError, ValueError):
    """Bytes could not be decoded: malformed, truncated, wrong version or type.

    Attributes:
        client_id: the client whose message could not be decoded, when a
            session knows it (so a transport can drop that reply and go on).
    """

    def __init__(self, message: str, *, client_id: object = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class VerificationError(PrivkitError, ValueError):
    """A proof, commitment opening, MAC or signature did not verify."""


class ProtocolError(PrivkitError, RuntimeError):
    """A protocol session received a message it must not accept, or cannot finish.

    Attributes:
        client_id: the client whose message caused the error, when there is one.
    """

    def __init__(self, message: str, *, client_id: object = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class PrivacyBudgetExceededError(PrivkitError, RuntimeError):
    """The requested operation would spend more privacy budget than allowed."""


class BackendUnavailableError(PrivkitError, ImportError):
    """An optional backend (extra) needed by this feature is not installed."""


class NativeError(PrivkitError, RuntimeError):
    """The C extension returned a failure status."""
