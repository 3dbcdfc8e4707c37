"""The registry of message type tags carried in the wire envelope.

A type tag is an unsigned 16-bit integer at offset 6 of every envelope; it says which
protocol message the body is.  Tag ``0`` is invalid and never appears on the wire.  The
high byte names the subsystem that owns the tag, the low byte the message within it:

==========  ===========================================================
Range       Owner
==========  ===========================================================
``0x0000``  invalid
``0x01xx``  ``privkit.aggregation`` (the plain reference scheme)
``0x02xx``  ``privkit.secagg`` (SecAgg / SecAgg+)
``0x03xx``  ``privkit.he`` (CKKS, BFV, Paillier)
``0x04xx``  ``privkit.zk`` (commitments and proofs)
``0x05xx``  ``privkit.ledger`` / ``privkit.identity``
``0x06xx``  ``privkit.dp``
``0x7Fxx``  reserved for tests and for user-defined schemes
others      unassigned; reserved for future privkit subsystems
==========  ===========================================================

A subsystem adds its tags to :class:`MessageType` here, in its own range, and never
reuses or renumbers a published tag.  :func:`privkit.wire.decode` accepts any tag in
``1..65535`` (user schemes pick theirs in ``0x7Fxx`` without registering them here);
restrict what you accept with its ``expect_type`` argument.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "RANGE_AGGREGATION",
    "RANGE_DP",
    "RANGE_HE",
    "RANGE_LEDGER",
    "RANGE_SECAGG",
    "RANGE_USER",
    "RANGE_ZK",
    "MessageType",
    "tag_name",
]

RANGE_AGGREGATION: Final = range(0x0100, 0x0200)
"""Tags of privkit.aggregation (the plain reference scheme)."""
RANGE_SECAGG: Final = range(0x0200, 0x0300)
"""Tags of privkit.secagg."""
RANGE_HE: Final = range(0x0300, 0x0400)
"""Tags of privkit.he."""
RANGE_ZK: Final = range(0x0400, 0x0500)
"""Tags of privkit.zk."""
RANGE_LEDGER: Final = range(0x0500, 0x0600)
"""Tags of privkit.ledger and privkit.identity."""
RANGE_DP: Final = range(0x0600, 0x0700)
"""Tags of privkit.dp."""
RANGE_USER: Final = range(0x7F00, 0x8000)
"""Tags reserved for tests and user-defined schemes."""


class MessageType(IntEnum):
    """Registered message type tags (u16).  See the module docstring for the ranges."""

    PLAIN_REQUEST = 0x0101
    """Plain reference scheme: server asks a client for its update."""
    PLAIN_UPDATE = 0x0102
    """Plain reference scheme: a client's update, in the clear."""
    SHAMIR_SHARE = 0x0201
    """One Shamir share (privkit.sharing.shamir.Share.to_bytes); secret material."""
    SECAGG_ADVERTISE = 0x0210
    """SecAgg exchange 0, server to client: the roster; asks for public keys."""
    SECAGG_KEYS = 0x0211
    """SecAgg exchange 0, client to server: the client's two X25519 public keys."""
    SECAGG_SHARE_REQUEST = 0x0212
    """SecAgg exchange 1, server to client: the neighbours' public keys."""
    SECAGG_SHARES = 0x0213
    """SecAgg exchange 1, client to server: encrypted key shares for each neighbour."""
    SECAGG_MASK_REQUEST = 0x0214
    """SecAgg exchange 2, server to client: the shares addressed to this client."""
    SECAGG_MASKED_INPUT = 0x0215
    """SecAgg exchange 2, client to server: the masked update (ring elements)."""
    SECAGG_CONSISTENCY_REQUEST = 0x0216
    """SecAgg authenticated mode, server to client: the survivors to sign."""
    SECAGG_CONSISTENCY = 0x0217
    """SecAgg authenticated mode, client to server: a signature over the survivors."""
    SECAGG_UNMASK_REQUEST = 0x0218
    """SecAgg last exchange, server to client: who survived and who dropped."""
    SECAGG_UNMASK = 0x0219
    """SecAgg last exchange, client to server: self-mask or key shares, never both."""
    HE_REQUEST = 0x0301
    """HE exchange 0, server to client: asks for the encrypted update."""
    HE_CIPHERTEXTS = 0x0302
    """HE exchange 0, client to server: the update's ciphertext chunks."""
    HE_DECRYPT_REQUEST = 0x0303
    """HE exchange 1, server to a key holder: the encrypted sum to decrypt."""
    HE_DECRYPTED = 0x0304
    """HE exchange 1, key holder to server: the decrypted sum."""
    IDENTITY_SEALED = 0x0501
    """privkit.identity: a signed envelope (signer key, round, nonce, inner type, body,
    signature) with replay protection; see privkit.identity.envelope."""
    IDENTITY_ROSTER = 0x0502
    """privkit.identity: a roster file (Roster.to_dict()); public data."""
    DP_ROUND = 0x0601
    """ClientDP exchange 0, server to client: the round's DP parameters around the inner
    scheme's first request."""
    TEST = 0x7F00
    """For tests and examples."""


def tag_name(tag: int) -> str:
    """Describe a type tag for messages: ``"0x0101 (PLAIN_REQUEST)"`` or ``"0x7f42"``.

    Args:
        tag: any integer.

    Returns:
        The tag in hex, followed by its registered name when it has one.
    """
    try:
        return f"0x{tag:04x} ({MessageType(tag).name})"
    except ValueError:
        return f"0x{tag:04x}"
