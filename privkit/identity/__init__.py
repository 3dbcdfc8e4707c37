"""privkit.identity: node signing keys and the roster of admitted nodes.

What protocols need for an *authenticated mode*: every node holds a
:class:`NodeIdentity` (an Ed25519 signing key), the federation agrees on a
:class:`Roster` (client id to public key), and a receiver checks who sent a message with
:meth:`Roster.verify`.  Signatures are standard Ed25519 (RFC 8032, through the
``cryptography`` package) over a domain-separated encoding of ``(context, message)``, so
a signature made for one context never verifies for another.

>>> from privkit.identity import NodeIdentity, Roster
>>> alice = NodeIdentity.generate()
>>> roster = Roster({"alice": alice.public_key})
>>> sig = alice.sign(b"hello", context="example/greeting")
>>> roster.verify("alice", b"hello", sig, context="example/greeting")

Security assumptions: a verified signature proves that the holder of the admitted key
signed the message for that context; it says nothing about whether the content is
honest, and admission itself (which key belongs to whom) happens out of band.  Private
keys leave a :class:`NodeIdentity` only through :meth:`NodeIdentity.private_bytes`;
they are never pickled, printed or put in error messages.  See ``docs/identity.md``.
"""

from __future__ import annotations

from privkit.identity.envelope import NONCE_BYTES, SEALED_FORMAT, ReplayCache, open_sealed, seal
from privkit.identity.keyfile import (
    load_identity,
    load_public_key_file,
    load_roster,
    save_identity,
    save_public_key,
    save_roster,
)
from privkit.identity.node import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    NodeIdentity,
    key_id,
    verify,
)
from privkit.identity.roster import ROSTER_FORMAT, ClientId, Roster

__all__ = [
    "NONCE_BYTES",
    "PUBLIC_KEY_BYTES",
    "ROSTER_FORMAT",
    "SEALED_FORMAT",
    "SIGNATURE_BYTES",
    "ClientId",
    "NodeIdentity",
    "ReplayCache",
    "Roster",
    "key_id",
    "load_identity",
    "load_public_key_file",
    "load_roster",
    "open_sealed",
    "save_identity",
    "save_public_key",
    "save_roster",
    "seal",
    "verify",
]
