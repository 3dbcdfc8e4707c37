"""The roster of a federation: which public key speaks for which client id.

A :class:`Roster` is an immutable mapping from client ids to 32-byte Ed25519 public
keys.  Protocols in authenticated mode (SecAgg's, for one) look the sender of a signed
message up in the roster and verify its signature with :meth:`Roster.verify`.

What a roster proves: a message that verifies under ``roster.verify(cid, ...)`` was
signed, for that context, by whoever holds the private key admitted for ``cid``.

What it does not prove: that the node is honest.  An admitted node can still sign
false data (a malformed or poisoned update); that is the business of ``privkit.zk`` and
robust aggregation.  Nor does it decide who is admitted: admission (which public key
belongs to which participant) happens out of band, and a roster is only as trustworthy
as the channel it came from.  Compare :attr:`Roster.fingerprint` with the other parties
over an authenticated channel to confirm that everybody holds the same roster.

Every id has exactly one key and every key exactly one id: the same key under two ids
is refused, so one key pair cannot pose as several nodes (a Sybil defence; it does not
stop one person from generating several key pairs, which only admission can).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, NoReturn, final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from privkit import wire
from privkit.clientid import ClientId, client_id_problem, client_id_sort_key, describe_client_id
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.identity.node import (
    PUBLIC_KEY_BYTES,
    BytesLike,
    bytes_or_none,
    check_context,
    key_id,
    load_public_key,
    verify_loaded,
)
from privkit.wire import Value

__all__ = ["ROSTER_FORMAT", "ClientId", "Roster"]

ROSTER_FORMAT: Final = "privkit.identity.roster.v1"
"""The ``"format"`` field of :meth:`Roster.to_dict`, and the domain of its fingerprint."""


@final
class Roster(Mapping[ClientId, bytes]):
    """The admitted nodes of a federation: an immutable map of client id to public key.

    ``Roster({1: pk1, "carol": pk2})`` builds one from any mapping; :meth:`admit` and
    :meth:`remove` return new rosters.  Iteration, :attr:`ids`, :meth:`to_dict` and
    :attr:`fingerprint` follow the canonical id order (ints ascending, then strs), so
    they do not depend on the order entries were added in.  As a ``Mapping``,
    ``roster[cid]`` raises ``KeyError`` for an unknown id; protocol code should call
    :meth:`public_key` or :meth:`verify`, which refuse an unknown node with
    :class:`~privkit.errors.ProtocolError`.

    Security assumptions: see the module docstring.  Every key is checked when it is
    admitted: 32 bytes, a canonical Ed25519 point, not of small order (such keys let
    anyone forge signatures).  Rosters hold public data only, yet are not picklable
    either: privkit never pickles; use :meth:`to_dict` with :mod:`privkit.wire`.
    """

    __slots__ = ("_fingerprint", "_ids", "_keys", "_loaded")

    _keys: dict[ClientId, bytes]
    _loaded: dict[ClientId, Ed25519PublicKey]
    _ids: tuple[ClientId, ...]
    _fingerprint: bytes

    def __init__(self, members: Mapping[ClientId, BytesLike] | None = None) -> None:
        """Build a roster.

        Args:
            members: client id to 32-byte raw Ed25519 public key; ``None`` or empty for
                an empty roster.

        Raises:
            ParameterError: ``members`` is not a mapping, an id is not a valid client id
                (exactly ``int`` in ``[-2**63, 2**64)`` or ``str``), a key is not a
                valid Ed25519 public key, or the same key appears under two ids.
        """
        if members is None:
            members = {}
        if not isinstance(members, Mapping):
            raise ParameterError(
                f"a Roster is built from a mapping of client id to public key, got "
                f"{type(members).__name__}"
            )
        loaded: dict[ClientId, tuple[bytes, Ed25519PublicKey]] = {}
        owner: dict[bytes, ClientId] = {}
        for cid, pk in members.items():
            problem = client_id_problem(cid)
            if problem is not None:
                raise ParameterError(problem)
            entry = _load_or_raise(cid, pk)
            _check_unique(owner, cid, entry[0], ParameterError)
            loaded[cid] = entry
        self._init(loaded)

    def _init(self, entries: Mapping[ClientId, tuple[bytes, Ed25519PublicKey]]) -> None:
        ids = tuple(sorted(entries, key=client_id_sort_key))
        keys = {cid: entries[cid][0] for cid in ids}
        members: list[Value] = [[cid, keys[cid]] for cid in ids]
        set_ = object.__setattr__
        set_(self, "_ids", ids)
        set_(self, "_keys", keys)
        set_(self, "_loaded", {cid: entries[cid][1] for cid in ids})
        set_(self, "_fingerprint", wire.fingerprint(ROSTER_FORMAT, {"members": members}))

    @classmethod
    def _trusted(cls, entries: Mapping[ClientId, tuple[bytes, Ed25519PublicKey]]) -> Roster:
        """A roster from entries that were already checked (no second validation)."""
        roster = object.__new__(cls)
        roster._init(entries)
        return roster

    def _entries(self) -> dict[ClientId, tuple[bytes, Ed25519PublicKey]]:
        return {cid: (self._keys[cid], self._loaded[cid]) for cid in self._ids}

    # ------------------------------------------------------------------ mapping protocol

    def __getitem__(self, client_id: ClientId) -> bytes:
        if client_id_problem(client_id) is not None or client_id not in self._keys:
            raise KeyError(client_id)
        return self._keys[client_id]

    def __contains__(self, client_id: object) -> bool:
        return client_id_problem(client_id) is None and client_id in self._keys

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[ClientId]:
        return iter(self._ids)

    @property
    def ids(self) -> tuple[ClientId, ...]:
        """The admitted client ids in canonical order (ints ascending, then strs)."""
        return self._ids

    # ------------------------------------------------------------------ protocol use

    def public_key(self, client_id: ClientId) -> bytes:
        """The public key admitted for a client.

        Args:
            client_id: the client, typically the claimed sender of a message.

        Returns:
            Its 32-byte raw Ed25519 public key.

        Raises:
            ProtocolError: ``client_id`` is not in the roster (or is not a valid id at
                all); the error's ``client_id`` attribute holds it.
        """
        self._require(client_id)
        return self._keys[client_id]

    def verify(
        self, client_id: ClientId, message: BytesLike, signature: BytesLike, *, context: str
    ) -> None:
        """Check that ``signature`` was made by ``client_id``'s admitted key.

        Args:
            client_id: the claimed signer.
            message: the signed message (untrusted).
            signature: the 64-byte signature (untrusted).
            context: the context it must have been signed for (see
                :meth:`privkit.identity.NodeIdentity.sign`).

        Returns:
            ``None``; the signature is valid when no exception is raised.

        Raises:
            ProtocolError: ``client_id`` is not in the roster: an unknown node is
                refused before any signature is looked at.
            VerificationError: the signature is not 64 bytes, the message is not bytes,
                or the signature does not verify under the key admitted for
                ``client_id`` for this context.
            ParameterError: ``context`` is not a non-empty printable-ASCII ``str``.
        """
        ctx = check_context(context)
        self._require(client_id)
        verify_loaded(
            self._loaded[client_id],
            message,
            signature,
            ctx,
            f"client {describe_client_id(client_id)} (key {key_id(self._keys[client_id])})",
        )

    def _require(self, client_id: object) -> None:
        problem = client_id_problem(client_id)
        if problem is not None:
            raise ProtocolError(f"unknown node: {problem}", client_id=client_id)
        if client_id not in self._keys:
            raise ProtocolError(
                f"unknown node: client {describe_client_id(client_id)} is not in the roster; only "
                "admitted nodes may take part",
                client_id=client_id,
            )

    # ------------------------------------------------------------------ new rosters

    def admit(self, client_id: ClientId, public_key: BytesLike) -> Roster:
        """A new roster with one more node; this one is unchanged.

        Args:
            client_id: the new node's id.
            public_key: its 32-byte raw Ed25519 public key.

        Returns:
            The new :class:`Roster`.

        Raises:
            ParameterError: ``client_id`` is invalid or already admitted (to change a
                node's key, :meth:`remove` it first), ``public_key`` is not a valid
                Ed25519 public key, or it is already admitted under another id.
        """
        problem = client_id_problem(client_id)
        if problem is not None:
            raise ParameterError(problem)
        if client_id in self._keys:
            raise ParameterError(
                f"client {describe_client_id(client_id)} is already in the roster; remove it first "
                "to replace its key"
            )
        entry = _load_or_raise(client_id, public_key)
        owner = {pk: cid for cid, pk in self._keys.items()}
        _check_unique(owner, client_id, entry[0], ParameterError)
        entries = self._entries()
        entries[client_id] = entry
        return Roster._trusted(entries)

    def remove(self, client_id: ClientId) -> Roster:
        """A new roster without one node; this one is unchanged.

        Args:
            client_id: the node to remove.

        Returns:
            The new :class:`Roster`.

        Raises:
            ParameterError: ``client_id`` is not in the roster.
        """
        if client_id not in self:
            raise ParameterError(
                f"cannot remove client {describe_client_id(client_id)}: it is not in the roster"
            )
        entries = self._entries()
        del entries[client_id]
        return Roster._trusted(entries)

    # ------------------------------------------------------------------ wire form

    def to_dict(self) -> dict[str, Value]:
        """The roster as a :mod:`privkit.wire` value.

        Returns:
            ``{"format": "privkit.identity.roster.v1", "members": [[id, public_key],
            ...]}`` with members in canonical id order; encode it with
            :func:`privkit.wire.encode_value` or as a message body.
        """
        members: list[Value] = [[cid, self._keys[cid]] for cid in self._ids]
        return {"format": ROSTER_FORMAT, "members": members}

    @classmethod
    def from_dict(cls, data: object) -> Roster:
        """Load a roster from :meth:`to_dict`'s form, as decoded from untrusted bytes.

        Accepts exactly what :meth:`to_dict` produces (lists may also be tuples), so a
        roster has one wire form and ``Roster.from_dict(r.to_dict()) == r``.

        Args:
            data: the decoded value.

        Returns:
            The :class:`Roster`.

        Raises:
            DecodeError: ``data`` is not a dict with exactly the keys ``"format"`` and
                ``"members"``, the format is not ``"privkit.identity.roster.v1"``, a
                member is not an ``[id, public_key]`` pair, an id is invalid, a key is
                not a valid Ed25519 public key, the members are not in strictly
                increasing canonical id order, or a key appears twice.
        """
        if not isinstance(data, Mapping):
            raise DecodeError(f"a roster is a dict, got {type(data).__name__}")
        if len(data) != 2 or "format" not in data or "members" not in data:
            shown = ", ".join(sorted(describe_client_id(k) for k in data))
            raise DecodeError(
                f"a roster has exactly the keys 'format' and 'members', got {{{shown}}}"
            )
        fmt = data["format"]
        if type(fmt) is not str or fmt != ROSTER_FORMAT:
            raise DecodeError(
                f"roster format is {describe_client_id(fmt)}, expected {ROSTER_FORMAT!r}"
            )
        members = data["members"]
        if not isinstance(members, list | tuple):
            raise DecodeError(f"roster members must be a list, got {type(members).__name__}")
        entries: dict[ClientId, tuple[bytes, Ed25519PublicKey]] = {}
        owner: dict[bytes, ClientId] = {}
        previous: ClientId | None = None
        for index, member in enumerate(members):
            if not isinstance(member, list | tuple) or len(member) != 2:
                raise DecodeError(f"roster member {index} is not an [id, public_key] pair")
            cid, pk = member
            problem = client_id_problem(cid)
            if problem is not None:
                raise DecodeError(f"roster member {index}: {problem}")
            if previous is not None and client_id_sort_key(previous) >= client_id_sort_key(cid):
                raise DecodeError(
                    f"roster member {index}: client {describe_client_id(cid)} is out of canonical "
                    f"order or repeated (after {describe_client_id(previous)}); members are sorted "
                    "by id, ints ascending, then strs"
                )
            if not isinstance(pk, bytes):
                raise DecodeError(
                    f"roster member {index}: public key must be bytes, got {type(pk).__name__}"
                )
            loaded = load_public_key(pk, check_point=True)
            if loaded is None:
                raise DecodeError(f"roster member {index}: {_key_problem(cid, pk)}")
            _check_unique(owner, cid, loaded[0], DecodeError)
            entries[cid] = loaded
            previous = cid
        return cls._trusted(entries)

    @property
    def fingerprint(self) -> bytes:
        """16 bytes identifying this roster's content (ids and keys, not their order).

        ``privkit.wire.fingerprint("privkit.identity.roster.v1", {"members": ...})``
        over the canonical member list.  Parties that hold equal rosters get equal
        fingerprints; compare them over an authenticated channel to confirm everybody
        admitted the same nodes with the same keys.
        """
        return self._fingerprint

    # ------------------------------------------------------------------ object protocol

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Roster):
            return NotImplemented
        return self._ids == other._ids and self._keys == other._keys

    def __hash__(self) -> int:
        return hash((Roster, self._fingerprint))

    def __repr__(self) -> str:
        return f"Roster(members={len(self._ids)}, fingerprint={self._fingerprint.hex()!r})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Roster is immutable; admit() and remove() return new rosters")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Roster is immutable; admit() and remove() return new rosters")

    def __copy__(self) -> Roster:
        return self

    def __deepcopy__(self, memo: object) -> Roster:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "privkit never pickles: send a Roster as Roster.to_dict() through privkit.wire "
            "and load it with Roster.from_dict()"
        )

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        self.__reduce__()

    def __getstate__(self) -> NoReturn:
        self.__reduce__()


def _key_problem(client_id: object, public_key: object) -> str:
    data = bytes_or_none(public_key)
    if data is None:
        return (
            f"public key of client {describe_client_id(client_id)} must be "
            f"{PUBLIC_KEY_BYTES} bytes, "
            f"got {type(public_key).__name__}"
        )
    size = len(data)
    if size != PUBLIC_KEY_BYTES:
        return (
            f"public key of client {describe_client_id(client_id)} must be "
            f"{PUBLIC_KEY_BYTES} bytes, "
            f"got {size} bytes"
        )
    return (
        f"public key of client {describe_client_id(client_id)} is not a valid Ed25519 public key "
        "(not a canonical curve point, or a point of small order)"
    )


def _load_or_raise(client_id: ClientId, public_key: object) -> tuple[bytes, Ed25519PublicKey]:
    loaded = load_public_key(public_key, check_point=True)
    if loaded is None:
        raise ParameterError(_key_problem(client_id, public_key))
    return loaded


def _check_unique(
    owner: dict[bytes, ClientId],
    client_id: ClientId,
    public_key: bytes,
    error: type[ParameterError] | type[DecodeError],
) -> None:
    """Record ``public_key`` as ``client_id``'s, refusing a key already owned by another id."""
    other = owner.get(public_key)
    if other is not None:
        raise error(
            f"public key {key_id(public_key)} is admitted under two ids, "
            f"{describe_client_id(other)} and {describe_client_id(client_id)}; "
            "one node has one identity"
        )
    owner[public_key] = client_id
