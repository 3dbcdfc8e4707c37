"""The abstract types every aggregation scheme of privkit implements.

A :class:`Scheme` is an immutable configuration (public parameters, tolerance, dropout
threshold).  It hands out *sessions*: one :class:`ServerSession` per round on the
aggregator and one :class:`ClientSession` per client and round.  Sessions are sans-I/O
state machines: they take bytes and return bytes, and never open sockets, threads or
files, so the caller owns the transport::

    server = scheme.server(client_ids=ids, length=n)
    clients = {i: scheme.client(client_id=i, update=updates[i]) for i in ids}
    out = server.start()
    while not server.done:
        replies = {}
        for cid, msg in out.items():
            if alive(cid):
                reply = clients[cid].handle(msg)
                if reply is not None:
                    replies[cid] = reply
        out = server.step(replies)       # a client missing from replies dropped out
    aggregate = server.result()          # float64 vector: the sum (or the mean)

Security assumption: every byte string a session receives is untrusted.  A session
rejects a malformed message with :class:`~privkit.errors.DecodeError` and a well-formed
message it must not accept (wrong session, wrong exchange, wrong sender) with
:class:`~privkit.errors.ProtocolError`; what each scheme protects beyond that (the
confidentiality of updates) is stated in its own threat model.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from privkit import wire
from privkit.clientid import (
    ClientId,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
    describe_client_id,
    is_client_id,
)
from privkit.errors import ParameterError
from privkit.wire import Value

__all__ = [
    "ClientId",
    "ClientSession",
    "Scheme",
    "ServerSession",
    "check_client_id",
    "check_client_ids",
    "client_id_sort_key",
    "describe_client_id",
    "is_client_id",
]


class ServerSession(abc.ABC):
    """The aggregator's side of one round: a sans-I/O state machine.

    Life cycle: :meth:`start` once, then :meth:`step` with the replies of each exchange
    until :attr:`done`, then :meth:`result`.  Exchanges are numbered from 0: the
    messages returned by :meth:`start` belong to exchange 0, those returned by the k-th
    call of :meth:`step` to exchange k.

    Security assumption: replies are untrusted bytes.  A bad reply makes :meth:`step`
    raise before any state changes; when too few clients remain the session fails
    cleanly (every later call raises :class:`~privkit.errors.ProtocolError`); it never
    returns a wrong result.
    """

    @abc.abstractmethod
    def start(self) -> dict[ClientId, bytes]:
        """Open the round.

        Returns:
            The messages of exchange 0, by recipient.

        Raises:
            ProtocolError: the session was already started or has failed.
        """

    @abc.abstractmethod
    def step(self, replies: Mapping[ClientId, bytes | None]) -> dict[ClientId, bytes]:
        """Consume the replies of the current exchange and produce the next messages.

        A client that was sent a message in the current exchange and is missing from
        ``replies`` (or maps to ``None``) has dropped out: it is never contacted again.

        Args:
            replies: reply bytes by the client id they arrived from.

        Returns:
            The messages of the next exchange by recipient; an empty dict once the round
            is :attr:`done`.

        Raises:
            DecodeError: a reply is malformed, truncated, of the wrong type or made for
                other parameters.  Nothing changed: drop that reply (its key is the
                exception's ``client_id`` attribute) and call again.
            ProtocolError: a reply must not be accepted (unknown client, a client not
                contacted in this exchange, wrong sender, replay, another session); its
                ``client_id`` names it and nothing changed.  Or: :meth:`start` was not
                called, the round is done or failed, or too few clients remain, in
                which case the session is now failed.
        """

    @property
    @abc.abstractmethod
    def done(self) -> bool:
        """Whether the round finished successfully and :meth:`result` is available."""

    @abc.abstractmethod
    def result(self) -> npt.NDArray[np.float64]:
        """The aggregate.

        Returns:
            A new 1-D float64 array of the session's length: the sum of the survivors'
            updates, or their mean when the scheme was built with ``mean=True``.

        Raises:
            ProtocolError: the round is not done (or has failed).
        """

    @property
    @abc.abstractmethod
    def survivors(self) -> tuple[ClientId, ...]:
        """The clients whose updates are in the aggregate, in canonical order.

        Raises:
            ProtocolError: the round is not done.
        """

    @property
    @abc.abstractmethod
    def exchange(self) -> int:
        """The index of the exchange whose replies :meth:`step` expects next.

        0 before and right after :meth:`start`; k after k calls of :meth:`step`.
        """


class ClientSession(abc.ABC):
    """One client's side of one round: a sans-I/O state machine.

    Security assumption: messages are untrusted bytes.  A bad message makes
    :meth:`handle` raise and leaves the session as it was.
    """

    @abc.abstractmethod
    def handle(self, message: bytes) -> bytes | None:
        """Process one message from the server.

        Args:
            message: the bytes the server addressed to this client.

        Returns:
            The reply to send back, or ``None`` when there is nothing to send.

        Raises:
            DecodeError: the message is malformed, truncated, of the wrong type or made
                for other parameters; nothing changed.
            ProtocolError: the message must not be accepted (another session, a replay,
                a later exchange, addressed to another client, the session is done or
                failed); nothing changed.
            ParameterError: the request cannot be served with this client's update
                (for example the server asks for another length).
        """

    @property
    @abc.abstractmethod
    def done(self) -> bool:
        """Whether this client has nothing more to do in the round."""

    @property
    @abc.abstractmethod
    def client_id(self) -> ClientId:
        """This client's id."""


class Scheme(abc.ABC):
    """An aggregation scheme: public parameters plus a factory of protocol sessions.

    Subclasses set :attr:`name` (a printable ASCII identifier including a version, e.g.
    ``"privkit.plain.v1"``), implement :meth:`params`, :meth:`server`,
    :meth:`client`, :meth:`tolerance` and :meth:`min_survivors`, and override
    :attr:`mean` and :attr:`input_bound` when they differ from the defaults.  Scheme
    objects are immutable and may be shared by any number of sessions.

    Security assumption: every session of a scheme binds its messages to
    :attr:`fingerprint`, so parties configured with different parameters refuse each
    other's messages instead of misreading them.
    """

    name: ClassVar[str]
    """The scheme's identifier: the domain of its fingerprint."""

    @abc.abstractmethod
    def params(self) -> dict[str, Value]:
        """The public parameters both sides must agree on.

        Returns:
            A new dict of wire values; it determines :attr:`fingerprint`.
        """

    @property
    def fingerprint(self) -> bytes:
        """The 16-byte parameter fingerprint, ``wire.fingerprint(name, params())``.

        Raises:
            ParameterError: :attr:`name` is not printable ASCII or the parameters cannot
                be encoded.
        """
        name = getattr(type(self), "name", None)
        if not isinstance(name, str):
            raise ParameterError(f"{type(self).__name__} must set the class attribute 'name'")
        return wire.fingerprint(name, self.params())

    @property
    def mean(self) -> bool:
        """Whether :meth:`ServerSession.result` is the mean over survivors, not the sum."""
        return False

    @property
    def input_bound(self) -> float | None:
        """The largest ``|x|`` per coordinate accepted without clipping; ``None``: no limit."""
        return None

    @abc.abstractmethod
    def server(self, *, client_ids: Iterable[ClientId], length: int) -> ServerSession:
        """Create the aggregator's session for one round.

        Args:
            client_ids: the clients invited to the round (distinct valid ids).
            length: the number of coordinates of every update.

        Returns:
            A new, unstarted :class:`ServerSession`.

        Raises:
            ParameterError: invalid ids, an invalid length, or fewer clients than
                :meth:`min_survivors` requires.
        """

    @abc.abstractmethod
    def client(self, *, client_id: ClientId, update: object) -> ClientSession:
        """Create one client's session for one round.

        Args:
            client_id: this client's id, as the server knows it.
            update: anything :func:`privkit.encoding.flatten` accepts.  Its flattened
                length must equal the server's length; the session refuses with
                :class:`~privkit.errors.ParameterError` when it learns the length.

        Returns:
            A new :class:`ClientSession`.

        Raises:
            ParameterError: invalid id or an update the scheme cannot take.
        """

    @abc.abstractmethod
    def tolerance(self, *, n_summands: int, bound: float) -> float:
        """Bound the error of the aggregate.

        Args:
            n_summands: the number of updates aggregated (the survivors).
            bound: every input coordinate satisfies ``|x| <= bound``.

        Returns:
            The largest absolute per-coordinate difference between :meth:`result` and
            the exact sum (or exact mean, when :attr:`mean`); 0.0 for exact schemes.

        Raises:
            ParameterError: negative ``n_summands`` or ``bound``.
        """

    @abc.abstractmethod
    def min_survivors(self, n_clients: int) -> int:
        """The fewest clients that must stay until the end for a round to complete.

        Args:
            n_clients: the number of clients invited.

        Returns:
            A positive int; may exceed ``n_clients``, in which case :meth:`server`
            refuses that many clients.
        """

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params().items()))
        return f"{type(self).__name__}({inner})"
