"""privkit.zk.merkle: RFC 6962 / RFC 9162 Merkle trees and inclusion proofs.

Known-answer vectors: the Certificate Transparency reference vectors, transcribed by hand
as data (hex / base64 strings) from the test constants of the Go module
github.com/transparency-dev/merkle v0.0.2 (formerly in google/certificate-transparency
and google/trillian): ``testonly/constants.go`` (LeafInputs, NodeHashes, RootHashes,
EmptyRootHash), ``testonly/reference_test.go`` (TestRefInclusionProof),
``proof/verify_test.go`` (inclusionProofs, where leaf numbers are 1-based),
``rfc6962/rfc6962_test.go`` (TestRFC6962Hasher) and ``compact/range_test.go``
(TestGetRootHashGolden: leaf i is the two bytes ``i & 0xff, (i >> 8) & 0xff``).
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privkit.errors import DecodeError, ParameterError, PrivkitError
from privkit.wire.values import encode_value
from privkit.zk.merkle import (
    EMPTY_ROOT,
    HASH_BYTES,
    MAX_PROOF_BYTES,
    InclusionProof,
    MerkleTree,
    audit_path_length,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    verify_inclusion,
)

# --------------------------------------------------------------------------- vectors

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# Root of the tree over CT_LEAVES[:n], for n = 0..8.
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# The nodes of the full 8-leaf tree, level by level (level 0 = leaf hashes).
CT_NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# (index, size, audit path) from TestRefInclusionProof; verify_test.go's inclusionProofs
# table (1-based leaf numbers there) holds the same paths.
CT_PATHS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# TestGetRootHashGolden: (size, root in standard base64), leaf i = u16le(i).
CT_GOLDEN_ROOTS = [
    (10, "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4="),
    (15, "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI="),
    (16, "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE="),
    (100, "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY="),
    (255, "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0="),
    (256, "qFI0t/tZ1MdOYgyPpPzHFiZVw86koScXy9q3FU5casA="),
    (1000, "RXrgb8xHd55Y48FbfotJwCbV82Kx22LZfEbmBGAvwlQ="),
    (4095, "cWRFdQhPcjn9WyBXE/r1f04ejxIm5lvg40DEpRBVS0w="),
    (4096, "6uU/phfHg1n/GksYT6TO9aN8EauMCCJRl3dIK0HDs2M="),
]

# TestRFC6962Hasher: (leaf data, leaf hash).
CT_LEAF_HASHES = [
    (b"", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (b"L123456", "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"),
]


def golden_leaves(n: int) -> list[bytes]:
    return [bytes([i & 0xFF, (i >> 8) & 0xFF]) for i in range(n)]


# --------------------------------------------------------------------------- reference
# The RFC 6962 section 2.1 definitions, recursively and literally (slow, obvious).


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _split(n)
    return hashlib.sha256(b"\x01" + ref_root(leaves[:k]) + ref_root(leaves[k:])).digest()


def ref_path(index: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*ref_path(index, leaves[:k]), ref_root(leaves[k:])]
    return [*ref_path(index - k, leaves[k:]), ref_root(leaves[:k])]


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("n", range(len(CT_ROOTS)))
def test_ct_roots(n: int) -> None:
    tree = MerkleTree(CT_LEAVES[:n])
    assert tree.size == n == len(tree)
    assert tree.root.hex() == CT_ROOTS[n]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT == MerkleTree([]).root


@pytest.mark.parametrize(("leaf", "expected"), CT_LEAF_HASHES)
def test_ct_leaf_hashes(leaf: bytes, expected: str) -> None:
    assert leaf_hash(leaf).hex() == expected


def test_ct_node_levels() -> None:
    level = [leaf_hash(leaf) for leaf in CT_LEAVES]
    for expected in CT_NODES:
        assert [h.hex() for h in level] == expected
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    tree = MerkleTree(CT_LEAVES)
    assert [tree.leaf_hash(i).hex() for i in range(8)] == CT_NODES[0]


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_ct_audit_paths(index: int, size: int, path: list[str]) -> None:
    tree = MerkleTree(CT_LEAVES[:size])
    proof = tree.inclusion_proof(index)
    assert (proof.index, proof.size) == (index, size)
    assert [h.hex() for h in proof.path] == path
    assert verify_inclusion(bytes.fromhex(CT_ROOTS[size]), CT_LEAVES[index], proof)
    hand_made = InclusionProof(index, size, tuple(bytes.fromhex(h) for h in path))
    assert hand_made == proof
    assert verify_inclusion(bytes.fromhex(CT_ROOTS[size]), CT_LEAVES[index], hand_made)


@pytest.mark.parametrize(("size", "root"), CT_GOLDEN_ROOTS)
def test_ct_golden_roots(size: int, root: str) -> None:
    assert MerkleTree(golden_leaves(size)).root == base64.b64decode(root)


def test_every_proof_of_the_ct_trees_verifies() -> None:
    for size in range(1, 9):
        root = bytes.fromhex(CT_ROOTS[size])
        tree = MerkleTree(CT_LEAVES[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index)
            assert verify_inclusion(root, CT_LEAVES[index], proof)
            # The well-known corruptions of CT's verify tests all fail.
            assert not verify_inclusion(root, b"WrongLeaf", proof)
            assert not verify_inclusion(EMPTY_ROOT, CT_LEAVES[index], proof)
            for i in range(len(proof.path)):
                flipped = list(proof.path)
                flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
                bad = InclusionProof(index, size, tuple(flipped))
                assert not verify_inclusion(root, CT_LEAVES[index], bad)


# --------------------------------------------------------------------------- properties

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=40)


@given(leaves=st.lists(st.binary(max_size=12), max_size=40))
def test_root_matches_the_rfc_definition(leaves: list[bytes]) -> None:
    assert MerkleTree(leaves).root == ref_root(leaves)


@given(leaves=leaf_lists)
def test_every_index_verifies(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    for index, leaf in enumerate(leaves):
        proof = tree.inclusion_proof(index)
        assert list(proof.path) == ref_path(index, leaves)
        assert len(proof.path) == audit_path_length(index, len(leaves))
        assert verify_inclusion(tree.root, leaf, proof)
        assert root_from_inclusion(leaf_hash(leaf), proof) == tree.root
        assert InclusionProof.from_bytes(proof.to_bytes()) == proof


def sides(index: int, size: int) -> list[bool]:
    """For each audit path element, whether it is hashed in on the left (RFC 9162)."""
    out = []
    fn, sn = index, size - 1
    while sn:
        if fn & 1 or fn != sn:
            out.append(bool(fn & 1))
        fn >>= 1
        sn >>= 1
    return out


def test_a_size_with_the_same_sides_is_not_detected_by_the_proof() -> None:
    """Documented limitation of RFC 9162 proofs: index 0 of sizes 3 and 4 hash their
    two path elements on the same sides, so (root, size) must be trusted together."""
    leaves = [b"\x00", b"", b""]
    tree = MerkleTree(leaves)
    path = tree.inclusion_proof(0).path
    assert sides(0, 3) == sides(0, 4)
    assert verify_inclusion(tree.root, b"\x00", InclusionProof(0, 4, path))


def _rejects(root: bytes, leaf: bytes, index: int, size: int, path: tuple[bytes, ...]) -> bool:
    """A tampered proof is rejected: either it cannot be built or it does not verify."""
    try:
        proof = InclusionProof(index, size, path)
    except ParameterError:
        return True
    return not verify_inclusion(root, leaf, proof)


@given(leaves=leaf_lists, data=st.data())
def test_tampering_fails(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = tree.inclusion_proof(index)
    root, leaf, path = tree.root, leaves[index], proof.path
    # Another leaf value.
    other = data.draw(st.binary(max_size=12).filter(lambda b: b != leaf), label="other")
    assert _rejects(root, other, index, n, path)
    # Another index (the leaf value at that index differs or the path does).
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != index), label="j")
        if leaves[j] != leaf or ref_path(j, leaves) != list(path):
            assert _rejects(root, leaf, j, n, path)
    # Another size: rejected unless the claimed size puts the same path hashes on the
    # same sides (then the computation is identical, which is why a verifier must take
    # the size from the same trusted source as the root; see the module docstring).
    size = data.draw(st.integers(1, 2 * n + 2).filter(lambda s: s != n), label="size")
    if index < size and sides(index, size) != sides(index, n):
        assert _rejects(root, leaf, index, size, path)
    # A modified path element.
    if path:
        i = data.draw(st.integers(0, len(path) - 1), label="element")
        bit = data.draw(st.integers(0, 8 * HASH_BYTES - 1), label="bit")
        changed = bytearray(path[i])
        changed[bit // 8] ^= 1 << (bit % 8)
        assert _rejects(root, leaf, index, n, (*path[:i], bytes(changed), *path[i + 1 :]))
        # A dropped, duplicated or reordered element.
        assert _rejects(root, leaf, index, n, path[:-1])
        assert _rejects(root, leaf, index, n, (*path, path[-1]))
        if len(path) > 1 and path[0] != path[1]:
            assert _rejects(root, leaf, index, n, (path[1], path[0], *path[2:]))
    # A different root.
    assert not verify_inclusion(hashlib.sha256(root).digest(), leaf, proof)
    assert not verify_inclusion(root[:-1], leaf, proof)


@given(leaves=st.lists(st.binary(max_size=12), min_size=2, max_size=40), data=st.data())
def test_a_node_cannot_pass_for_a_leaf(leaves: list[bytes], data: st.DataObject) -> None:
    """Second-preimage resistance: the 64 bytes of an inner node's children, offered as
    a leaf at the node's position in a shorter proof, do not verify, because leaves
    are hashed with 0x00 and nodes with 0x01."""
    tree = MerkleTree(leaves)
    n = len(leaves)
    # The root's two children, presented as a single leaf of a "one-leaf" tree.
    k = _split(n)
    children = ref_root(leaves[:k]) + ref_root(leaves[k:])
    assert leaf_hash(children) != tree.root
    assert not verify_inclusion(tree.root, children, InclusionProof(0, 1, ()))
    # The first two leaves' hashes offered as one leaf in a tree of half the width.
    pair = leaf_hash(leaves[0]) + leaf_hash(leaves[1])
    if n >= 2:
        path = tuple(ref_path(0, leaves)[1:])
        size = data.draw(st.integers(1, n), label="size")
        assert _rejects(tree.root, pair, 0, size, path)


def test_leaf_and_node_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(a + b) == hashlib.sha256(b"\x00" + a + b).digest()
    assert leaf_hash(a + b) != node_hash(a, b)


def test_large_tree_sizes() -> None:
    # Sizes around powers of two, checked against the recursive definition.
    for n in (31, 32, 33, 63, 64, 65, 127, 129):
        leaves = golden_leaves(n)
        tree = MerkleTree(leaves)
        assert tree.root == ref_root(leaves)
        for index in (0, n // 2, n - 1):
            proof = tree.inclusion_proof(index)
            assert list(proof.path) == ref_path(index, leaves)
            assert verify_inclusion(tree.root, leaves[index], proof)


def test_audit_path_length_for_huge_trees() -> None:
    assert audit_path_length(0, 1) == 0
    assert audit_path_length(0, 2**64 - 1) == 64
    assert audit_path_length(2**64 - 2, 2**64 - 1) == 63
    assert audit_path_length(2**63, 2**63 + 1) == 1


# --------------------------------------------------------------------------- serialization


def test_proof_encoding_layout() -> None:
    proof = MerkleTree(CT_LEAVES[:3]).inclusion_proof(2)
    raw = proof.to_bytes()
    assert raw == encode_value({"index": 2, "path": proof.path[0], "size": 3})
    assert InclusionProof.from_bytes(bytearray(raw)) == proof
    assert InclusionProof.from_bytes(memoryview(raw)) == proof


def test_largest_proof_fits_the_limit() -> None:
    proof = InclusionProof(0, 2**64 - 1, tuple(bytes([i]) * 32 for i in range(64)))
    raw = proof.to_bytes()
    assert len(raw) <= MAX_PROOF_BYTES
    assert InclusionProof.from_bytes(raw) == proof


MALFORMED = [
    b"",
    b"\x00",
    encode_value(None),
    encode_value([1, 2, 3]),
    encode_value({"index": 0, "size": 1}),
    encode_value({"index": 0, "size": 1, "path": b"", "extra": 1}),
    encode_value({"index": 0, "size": 0, "path": b""}),
    encode_value({"index": 1, "size": 1, "path": b""}),
    encode_value({"index": -1, "size": 1, "path": b""}),
    encode_value({"index": True, "size": 1, "path": b""}),
    encode_value({"index": 0, "size": True, "path": b""}),
    encode_value({"index": 0, "size": 1.0, "path": b""}),
    encode_value({"index": 0, "size": 1, "path": "x"}),
    encode_value({"index": 0, "size": 1, "path": [b""]}),
    encode_value({"index": 0, "size": 1, "path": b"\x00" * 32}),
    encode_value({"index": 0, "size": 2, "path": b""}),
    encode_value({"index": 0, "size": 2, "path": b"\x00" * 31}),
    encode_value({"index": 0, "size": 2, "path": b"\x00" * 64}),
    encode_value({"index": 0, "size": 2, "path": b"\x00" * 32}) + b"\x00",
    b"\x09" + b"\xff" * 8,
    b"\x00" * (MAX_PROOF_BYTES + 1),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_proofs_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        InclusionProof.from_bytes(raw)


@given(raw=st.binary(max_size=200))
def test_random_bytes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        proof = InclusionProof.from_bytes(raw)
    except DecodeError as exc:
        message = str(exc)
    else:
        assert proof.to_bytes() == raw
        return
    assert "internal decoder error" not in message


@given(leaves=leaf_lists, data=st.data())
def test_truncations_and_bit_flips_of_encodings(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    proof = tree.inclusion_proof(data.draw(st.integers(0, len(leaves) - 1)))
    raw = proof.to_bytes()
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    with pytest.raises(DecodeError):
        InclusionProof.from_bytes(raw[:cut])
    bit = data.draw(st.integers(0, 8 * len(raw) - 1), label="bit")
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    try:
        other = InclusionProof.from_bytes(bytes(flipped))
    except DecodeError:
        return
    assert other != proof
    assert other.to_bytes() == bytes(flipped)


# --------------------------------------------------------------------------- misuse


def test_bad_arguments_raise_parameter_error() -> None:
    tree = MerkleTree([b"a", b"b", b"c"])
    with pytest.raises(ParameterError):
        MerkleTree(b"abc")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        MerkleTree(["abc"])  # type: ignore[list-item]
    for index in (-1, 3, True, 1.0):
        with pytest.raises(ParameterError):
            tree.inclusion_proof(index)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        MerkleTree([]).inclusion_proof(0)
    with pytest.raises(ParameterError):
        InclusionProof(0, 0, ())
    with pytest.raises(ParameterError):
        InclusionProof(0, 2, (b"\x00" * 31,))
    with pytest.raises(ParameterError):
        InclusionProof(0, 2, b"\x00" * 32)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        verify_inclusion(tree.root, "a", tree.inclusion_proof(0))  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        verify_inclusion(tree.root, b"a", (0, 3, ()))  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        node_hash(b"\x00" * 32, b"\x00")
    with pytest.raises(ValueError, match="index"):
        tree.inclusion_proof(7)
    assert issubclass(ParameterError, PrivkitError)


def test_wrong_leaf_digest_length_gives_none() -> None:
    proof = MerkleTree([b"a", b"b"]).inclusion_proof(0)
    assert root_from_inclusion(b"\x00" * 31, proof) is None


def test_repr_and_inputs_are_copied() -> None:
    leaf = bytearray(b"mutable")
    tree = MerkleTree([leaf, memoryview(b"x")])
    root = tree.root
    leaf[0] ^= 1
    assert tree.root == root
    assert "size=2" in repr(tree)


def test_docstring_examples() -> None:
    import doctest

    import privkit.zk.merkle

    result = doctest.testmod(privkit.zk.merkle)
    assert result.attempted >= 2
    assert result.failed == 0
