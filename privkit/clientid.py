"""Client ids: the one definition every layer of privkit shares.

A client's identity in a round is exactly an ``int`` (not ``bool``, not a numpy
integer) in ``[-2**63, 2**64)`` -- the range the wire format carries -- or a ``str``
that encodes as UTF-8.  Their canonical order is integers ascending, then strings
ascending.  Ids are public: they travel in the clear and may appear in error
messages.  Like :mod:`privkit.errors`, this module imports nothing from privkit's
other layers, so every layer can use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from privkit.errors import ParameterError

__all__ = [
    "ClientId",
    "check_client_id",
    "check_client_ids",
    "client_id_problem",
    "client_id_sort_key",
    "describe_client_id",
    "is_client_id",
]

ClientId: TypeAlias = int | str
"""A client's identity in a round: exactly an ``int`` (not ``bool``) or a ``str``.

Ints must fit the wire format (``-2**63 <= id < 2**64``).  Ids are public: they travel
in the clear and may appear in error messages.
"""

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1
_SHOW_MAX = 40


def describe_client_id(client_id: object) -> str:
    """Return a short printable rendering of a (possibly invalid) client id for messages.

    Args:
        client_id: anything, typically a mapping key the caller passed.

    Returns:
        ``repr(client_id)``, shortened to at most about 40 characters.
    """
    try:
        text = repr(client_id)
    except Exception:  # a hostile key with a broken __repr__
        text = f"<{type(client_id).__name__}>"
    if len(text) > _SHOW_MAX:
        text = text[: _SHOW_MAX - 3] + "..."
    return text


def is_client_id(value: object) -> bool:
    """Whether ``value`` is a valid :data:`ClientId` (exact int in range, or str)."""
    if type(value) is str:
        return True
    return type(value) is int and _INT_MIN <= value <= _INT_MAX


def client_id_problem(client_id: object) -> str | None:
    """Why ``client_id`` is not a valid :data:`ClientId`, or ``None`` when it is."""
    if type(client_id) is str:
        try:
            client_id.encode("utf-8")
        except UnicodeEncodeError:
            return (
                "client id is not valid Unicode (it holds a lone surrogate); "
                "ids must be encodable as UTF-8"
            )
        return None
    if type(client_id) is int:
        if not _INT_MIN <= client_id <= _INT_MAX:
            return (
                f"client id {describe_client_id(client_id)} is out of range; integer ids "
                "must lie in [-2**63, 2**64)"
            )
        return None
    return (
        f"client id {describe_client_id(client_id)} has type {type(client_id).__name__}; "
        "client ids must be exactly int or str"
    )


def check_client_id(client_id: object) -> ClientId:
    """Validate one client id.

    Args:
        client_id: the candidate id.

    Returns:
        The id, unchanged.

    Raises:
        ParameterError: it is not exactly an ``int`` in ``[-2**63, 2**64)`` or a ``str``
            (``bool``, numpy integers and other subclasses are refused so that ``1``,
            ``True`` and ``numpy.int64(1)`` can never be confused).
    """
    problem = client_id_problem(client_id)
    if problem is not None:
        raise ParameterError(problem)
    assert isinstance(client_id, int | str)
    return client_id


def client_id_sort_key(client_id: ClientId) -> tuple[int, int, str]:
    """The canonical order of client ids: integers ascending, then strings ascending.

    Args:
        client_id: a valid client id.

    Returns:
        A key for :func:`sorted`.
    """
    if isinstance(client_id, str):
        return (1, 0, client_id)
    return (0, client_id, "")


def check_client_ids(client_ids: Iterable[object]) -> tuple[ClientId, ...]:
    """Validate the client ids of a round.

    Args:
        client_ids: the ids; any iterable (a ``str`` is refused: it would be read as
            one id per character).

    Returns:
        The ids as a tuple in canonical order (:func:`client_id_sort_key`).

    Raises:
        ParameterError: no ids, an invalid id (see :func:`check_client_id`), or the same
            id twice.
    """
    if isinstance(client_ids, str | bytes):
        raise ParameterError("client_ids must be an iterable of ids, not a single str/bytes")
    try:
        items = list(client_ids)
    except TypeError:
        raise ParameterError(
            f"client_ids must be an iterable of ids, got {type(client_ids).__name__}"
        ) from None
    ids = [check_client_id(c) for c in items]
    if not ids:
        raise ParameterError("client_ids is empty; a round needs at least one client")
    if len(set(ids)) != len(ids):
        seen: set[ClientId] = set()
        for c in ids:
            if c in seen:
                raise ParameterError(f"client id {describe_client_id(c)} appears twice")
            seen.add(c)
    return tuple(sorted(ids, key=client_id_sort_key))
