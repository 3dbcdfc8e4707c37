"""Merkle tree commitments to a list of byte strings, with inclusion proofs (RFC 9162).

The tree is the Merkle Tree Hash of RFC 6962 section 2.1 / RFC 9162 section 2.1.1, with
SHA-256 and leaf/node domain separation::

    MTH({})       = SHA-256()                                  (the empty string)
    MTH({d0})     = SHA-256(0x00 || d0)                        (leaf hash)
    MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  (node hash)

where ``k`` is the largest power of two smaller than ``n``.  The root commits to the
number of leaves, their order and their contents.  An :class:`InclusionProof` for leaf
``index`` of a tree of ``size`` leaves is the RFC's audit path (the sibling hashes from
the leaf up to the root), and :func:`verify_inclusion` is the verification algorithm of
RFC 9162 section 2.1.3.2.  The roots and audit paths are byte-for-byte those of
Certificate Transparency, so CT's published test vectors are this module's tests.

Security properties (see ``docs/zk-commitments.md``): the root is **binding** to the
whole leaf list under the collision resistance of SHA-256, and an inclusion proof for a
leaf that is not at that index of the committed list requires a SHA-256 collision.  The
``0x00`` / ``0x01`` prefixes keep leaf hashes and node hashes apart, so an inner node
cannot be passed off as a leaf (the second-preimage attack on unprefixed Merkle trees).
The proof does not by itself pin down the tree size: for some pairs of sizes (index 0 of
sizes 3 and 4, say) the path hashes combine on the same sides, so the same proof verifies
under either size.  Take the size from the same trusted source as the root (sign or
commit to the pair), as RFC 9162's signed tree heads do.
A Merkle root is **not hiding**: it is a deterministic function of the leaves, so
low-entropy leaves can be guessed from it.  Commit to leaves that are themselves hiding
commitments (:mod:`privkit.zk.hashcommit`) when the leaves are secret.

Security assumptions: roots, leaves and proofs handed to :func:`verify_inclusion` are
untrusted and yield ``False`` when they do not verify; :meth:`InclusionProof.from_bytes`
checks the input size before parsing and raises only :class:`~privkit.errors.DecodeError`
on malformed bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from privkit.errors import DecodeError, ParameterError
from privkit.wire.values import decode_value, encode_value
from privkit.zk._bytes import BytesLike, as_bytes

__all__ = [
    "EMPTY_ROOT",
    "HASH_BYTES",
    "LEAF_PREFIX",
    "MAX_PROOF_BYTES",
    "MAX_TREE_SIZE",
    "NODE_PREFIX",
    "InclusionProof",
    "MerkleTree",
    "audit_path_length",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "verify_inclusion",
]

HASH_BYTES: Final = 32
"""Bytes of every hash in a tree (SHA-256)."""
LEAF_PREFIX: Final = b"\x00"
"""Prefix of a leaf hash's input (RFC 6962)."""
NODE_PREFIX: Final = b"\x01"
"""Prefix of an inner node hash's input (RFC 6962)."""
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string."""
MAX_TREE_SIZE: Final = (1 << 64) - 1
"""The most leaves a proof may claim (sizes travel as unsigned 64-bit integers)."""
_MAX_PATH: Final = 64
# An encoded proof: dict header 9, three keys (8 + 5/4/4) and values (9 each for ints,
# 9 + 32 * 64 for the path) stay far below this; longer input is refused unparsed.
MAX_PROOF_BYTES: Final = 4096
"""The longest encoded :class:`InclusionProof` that :meth:`InclusionProof.from_bytes` parses."""
_PROOF_KEYS: Final = frozenset({"index", "size", "path"})


def leaf_hash(leaf: BytesLike) -> bytes:
    """The hash of one leaf: ``SHA-256(0x00 || leaf)``.

    Args:
        leaf: the leaf's bytes (any length).

    Returns:
        :data:`HASH_BYTES` bytes.

    Raises:
        ParameterError: ``leaf`` is not bytes-like.
    """
    return hashlib.sha256(LEAF_PREFIX + as_bytes(leaf, "leaf")).digest()


def node_hash(left: BytesLike, right: BytesLike) -> bytes:
    """The hash of an inner node: ``SHA-256(0x01 || left || right)``.

    Args:
        left: the left child's hash.
        right: the right child's hash.

    Returns:
        :data:`HASH_BYTES` bytes.

    Raises:
        ParameterError: a child is not bytes-like or not :data:`HASH_BYTES` bytes.
    """
    a = as_bytes(left, "left")
    b = as_bytes(right, "right")
    if len(a) != HASH_BYTES or len(b) != HASH_BYTES:
        raise ParameterError(
            f"child hashes must be {HASH_BYTES} bytes each, got {len(a)} and {len(b)}"
        )
    return hashlib.sha256(NODE_PREFIX + a + b).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(f"{what} must be an int in [{low}, {high}], got {value!r}")
    return value


def audit_path_length(index: int, size: int) -> int:
    """The number of hashes in the audit path of leaf ``index`` in a tree of ``size``.

    Args:
        index: the leaf's position, ``0 <= index < size``.
        size: the number of leaves, ``1 <= size <= MAX_TREE_SIZE``.

    Returns:
        The path length (0 for a one-leaf tree; at most 64).

    Raises:
        ParameterError: ``size`` or ``index`` out of range.
    """
    _check_int(size, "size", 1, MAX_TREE_SIZE)
    _check_int(index, "index", 0, size - 1)
    length = 0
    fn, sn = index, size - 1
    while sn:
        if fn & 1 or fn != sn:  # this node has a sibling at this level
            length += 1
        fn >>= 1
        sn >>= 1
    return length


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 9162 inclusion proof (audit path) for one leaf of a Merkle tree.

    Attributes:
        index: the leaf's position, ``0 <= index < size``.
        size: the number of leaves in the tree whose root the proof leads to.
        path: the sibling hashes from the leaf's level up to the root, each
            :data:`HASH_BYTES` bytes; exactly :func:`audit_path_length` of them.
    """

    index: int
    size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        expected = audit_path_length(self.index, self.size)
        given: object = self.path  # typed as a tuple, but callers may pass any sequence
        if isinstance(given, str | bytes | bytearray | memoryview) or not isinstance(
            given, Sequence
        ):
            raise ParameterError(
                f"path must be a sequence of {HASH_BYTES}-byte hashes, got {type(given).__name__}"
            )
        path = tuple(as_bytes(h, "path element") for h in given)
        if len(path) != expected:
            raise ParameterError(
                f"the audit path of leaf {self.index} in a tree of {self.size} has "
                f"{expected} hashes, got {len(path)}"
            )
        for h in path:
            if len(h) != HASH_BYTES:
                raise ParameterError(f"every path element must be {HASH_BYTES} bytes, got {len(h)}")
        object.__setattr__(self, "path", path)

    def to_bytes(self) -> bytes:
        """Serialize the proof as a canonical :mod:`privkit.wire` value.

        The value is the dict ``{"index": u64, "path": bytes, "size": u64}`` where
        ``path`` is the concatenation of the audit path's hashes (32 bytes each).

        Returns:
            The encoded proof (at most :data:`MAX_PROOF_BYTES` bytes).
        """
        return encode_value({"index": self.index, "size": self.size, "path": b"".join(self.path)})

    @classmethod
    def from_bytes(cls, data: BytesLike) -> InclusionProof:
        """Decode a proof written by :meth:`to_bytes`, from untrusted bytes.

        Args:
            data: exactly one encoded proof.

        Returns:
            The proof.

        Raises:
            DecodeError: longer than :data:`MAX_PROOF_BYTES`, not a canonical wire
                value, not a dict with exactly the keys ``index``, ``size``, ``path``,
                a size outside ``1..2**64 - 1``, an index not below the size, or a path
                whose length is not 32 times the audit path length for that index and
                size.
            ParameterError: ``data`` is not bytes-like.
        """
        raw = as_bytes(data, "data")
        if len(raw) > MAX_PROOF_BYTES:
            raise DecodeError(
                f"an encoded inclusion proof is at most {MAX_PROOF_BYTES} bytes, got {len(raw)}"
            )
        value = decode_value(raw, max_depth=1)
        if not isinstance(value, dict) or set(value) != _PROOF_KEYS:
            found = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise DecodeError(
                f"an inclusion proof must be a dict with the keys index, path, size; got {found}"
            )
        index, size, path = value["index"], value["size"], value["path"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_TREE_SIZE:
            raise DecodeError(f"an inclusion proof's size must be in 1..2**64-1, got {size!r}")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise DecodeError(
                f"an inclusion proof's index must be in 0..size-1 = {size - 1}, got {index!r}"
            )
        if not isinstance(path, bytes):
            raise DecodeError(f"an inclusion proof's path must be bytes, got {type(path).__name__}")
        expected = audit_path_length(index, size)
        if len(path) != expected * HASH_BYTES:
            raise DecodeError(
                f"the audit path of leaf {index} in a tree of {size} is "
                f"{expected * HASH_BYTES} bytes ({expected} hashes), got {len(path)}"
            )
        hashes = tuple(path[i : i + HASH_BYTES] for i in range(0, len(path), HASH_BYTES))
        return cls(index, size, hashes)


class MerkleTree:
    """An RFC 6962 Merkle tree over a list of byte strings, kept in memory.

    Building hashes every leaf once and every inner node once (``2n - 1`` SHA-256
    calls) and keeps all ``2n - 1`` hashes, so that proofs cost no hashing.

    >>> tree = MerkleTree([b"a", b"b", b"c"])
    >>> proof = tree.inclusion_proof(2)
    >>> verify_inclusion(tree.root, b"c", proof)
    True

    Args:
        leaves: the leaves, in order (bytes-like; copied).

    Raises:
        ParameterError: a leaf is not bytes-like.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[BytesLike]) -> None:
        if isinstance(leaves, str | bytes | bytearray | memoryview):
            raise ParameterError(
                f"leaves must be an iterable of byte strings, not a single {type(leaves).__name__}"
            )
        level = [leaf_hash(leaf) for leaf in leaves]
        levels = [level]
        # Pair nodes level by level; an unpaired last node moves up unchanged.  This is
        # the RFC's split at the largest power of two below n, computed bottom-up.
        while len(level) > 1:
            paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
            levels.append(level)
        self._levels: list[list[bytes]] = levels

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle Tree Hash (:data:`EMPTY_ROOT` for no leaves)."""
        top = self._levels[-1]
        return top[0] if top else EMPTY_ROOT

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index`` (``SHA-256(0x00 || leaf)``).

        Raises:
            ParameterError: ``index`` is not in ``0..size - 1``.
        """
        _check_int(index, "index", 0, self.size - 1)
        return self._levels[0][index]

    def inclusion_proof(self, index: int) -> InclusionProof:
        """The audit path of leaf ``index`` (RFC 6962 section 2.1.1).

        Args:
            index: the leaf's position, ``0 <= index < size``.

        Returns:
            The proof, which :func:`verify_inclusion` accepts against :attr:`root`.

        Raises:
            ParameterError: ``index`` is not in ``0..size - 1`` (or the tree is empty).
        """
        if self.size == 0:
            raise ParameterError("the empty tree has no leaves to prove inclusion of")
        _check_int(index, "index", 0, self.size - 1)
        path = []
        i = index
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i >>= 1
        return InclusionProof(index, self.size, tuple(path))

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"MerkleTree(size={self.size}, root={self.root.hex()[:16]}...)"


def root_from_inclusion(leaf_digest: BytesLike, proof: InclusionProof) -> bytes | None:
    """The root an inclusion proof leads to from a leaf hash (RFC 9162 section 2.1.3.2).

    Args:
        leaf_digest: the leaf's hash (:func:`leaf_hash` of the leaf).
        proof: the proof.

    Returns:
        The root the audit path computes, or ``None`` when the proof is inconsistent
        with its index and size or ``leaf_digest`` is not :data:`HASH_BYTES` bytes.

    Raises:
        ParameterError: ``leaf_digest`` is not bytes-like or ``proof`` is not an
            :class:`InclusionProof`.
    """
    if not isinstance(proof, InclusionProof):
        raise ParameterError(f"proof must be an InclusionProof, got {type(proof).__name__}")
    r = as_bytes(leaf_digest, "leaf_digest")
    if len(r) != HASH_BYTES or not 0 <= proof.index < proof.size:
        return None
    fn, sn = proof.index, proof.size - 1
    for p in proof.path:
        if len(p) != HASH_BYTES or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(root: BytesLike, leaf: BytesLike, proof: InclusionProof) -> bool:
    """Check that ``leaf`` is leaf ``proof.index`` of the tree of ``proof.size`` leaves
    whose root is ``root`` (RFC 9162 section 2.1.3.2).

    Args:
        root: the trusted root (untrusted bytes are fine: a wrong length fails).
        leaf: the leaf's data (hashed here with :func:`leaf_hash`).
        proof: the inclusion proof.

    Returns:
        ``True`` if and only if the proof verifies; the final comparison is
        :func:`hmac.compare_digest`.

    Raises:
        ParameterError: an argument has the wrong type.
    """
    expected = as_bytes(root, "root")
    computed = root_from_inclusion(leaf_hash(leaf), proof)
    if computed is None or len(expected) != HASH_BYTES:
        return False
    return hmac.compare_digest(expected, computed)
