"""Flower's SecAgg+ (flwr 1.41) driven as Flower's own code drives it: ``secagg``'s anchors.

Glue only.  Every step of the protocol math is a call of Flower's own
functions, in the order Flower's client mod
(``flwr.client.mod.secure_aggregation.secaggplus_mod``) and server workflow
(``flwr.server.workflow.secure_aggregation.secaggplus_workflow``) call them:

* **client masking** (:func:`mask_update`): the body of the mod's
  ``_collect_masked_vectors`` from the weighting on: ``parameters_multiply``,
  ``quantize``, ``factor_combine``, ``pseudo_rand_gen`` for the self mask and
  for each neighbour's pairwise mask, ``parameters_addition`` /
  ``parameters_subtraction``, ``parameters_mod``, ``ndarray_to_bytes``.  The
  pairwise seeds (``generate_shared_key(sk1, pk1_j)``, ECDH + HKDF) are derived
  untimed beforehand; :func:`collect_masked_vectors` instead calls the mod's
  whole stage function ``_collect_masked_vectors`` itself, which also
  decrypts the neighbours' shares, derives the pairwise seeds and
  deserialises the update;
* **server unmasking** (:func:`unmask`): the body of the workflow's
  ``unmask_stage`` after the replies arrived: ``combine_shares`` of every
  collected share list, ``pseudo_rand_gen`` of each survivor's self mask,
  ``generate_shared_key`` + ``pseudo_rand_gen`` of each dropped client's
  pairwise masks with every neighbour, ``parameters_subtraction`` /
  ``parameters_addition``, ``parameters_mod``, ``factor_extract``,
  ``dequantize``, the offset and the weight division;
* **Shamir** (:func:`shamir_split`, :func:`shamir_combine`): ``create_shares``
  and ``combine_shares`` of ``flwr.common.secure_aggregation.crypto.shamir``.

Protocol settings are Flower's ``SecAggPlusWorkflow`` defaults (clipping range
8.0, quantization range 2^22, modulus 2^32, max weight 1000.0); every client
reports ``num_examples = max_weight`` (weight ratio 1, so the weighting loses
no precision).  Neighbourhoods follow the workflow's rule: the clients in a
shuffled ring, each with the ``num_shares >> 1`` nearest on each side and
itself (``num_shares = k + 1`` for k neighbours; the complete graph for
``num_shares = c``).

This module imports flwr at import time; the suite imports it from
``prepare()`` only.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from flwr.app import ConfigRecord
from flwr.common import NDArray, Parameters, ndarray_to_bytes, ndarrays_to_parameters
from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares
from flwr.common.secure_aggregation.crypto.symmetric_encryption import (
    encrypt,
    generate_shared_key,
)
from flwr.common.secure_aggregation.ndarrays_arithmetic import (
    factor_combine,
    factor_extract,
    get_parameters_shape,
    parameters_addition,
    parameters_mod,
    parameters_multiply,
    parameters_subtraction,
)
from flwr.common.secure_aggregation.quantization import dequantize, quantize
from flwr.common.secure_aggregation.secaggplus_constants import Key
from flwr.common.secure_aggregation.secaggplus_utils import (
    pseudo_rand_gen,
    share_keys_plaintext_concat,
)
from flwr.supercore.primitives.asymmetric import bytes_to_private_key, bytes_to_public_key

__all__ = [
    "FlowerParams",
    "MaskFixture",
    "Network",
    "UnmaskFixture",
    "as_mapping",
    "collect_masked_vectors",
    "flower_version",
    "majority",
    "make_mask_fixture",
    "make_network",
    "make_unmask_fixture",
    "mask_update",
    "max_error",
    "network_round",
    "ring_neighbourhoods",
    "shamir_combine",
    "shamir_split",
    "tolerance",
    "unmask",
    "upload_bytes",
]

# The package re-exports the function ``secaggplus_mod`` under the module's own
# name, so ``from ... import secaggplus_mod`` would give the function.
secaggplus_mod: Any = importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod")
SecAggPlusState = secaggplus_mod.SecAggPlusState
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def flower_version() -> str:
    """The installed flwr version."""
    from importlib.metadata import version

    return version("flwr")


def majority(num_shares: int) -> int:
    """The reconstruction threshold used for ``num_shares`` shares: a strict majority.

    Flower's ``SecAggPlusWorkflow`` has no default threshold (it is a required
    argument); the suite uses ``num_shares // 2 + 1``: 6 of 11 for 10
    neighbours, 51 of 100 for the complete graph of 100 clients.
    """
    return num_shares // 2 + 1


@dataclass(frozen=True)
class FlowerParams:
    """The SecAgg+ settings (``SecAggPlusWorkflow`` defaults) and the reported weight."""

    clipping_range: float = 8.0
    quantization_range: int = 1 << 22
    modulus_range: int = 1 << 32
    max_weight: float = 1000.0
    num_examples: int = 1000

    def setup_config(self, *, sample_num: int, share_num: int, threshold: int) -> ConfigRecord:
        """The stage-0 ("setup") configuration the workflow sends to each client."""
        return ConfigRecord(
            {
                Key.SAMPLE_NUMBER: sample_num,
                Key.SHARE_NUMBER: share_num,
                Key.THRESHOLD: threshold,
                Key.CLIPPING_RANGE: self.clipping_range,
                Key.TARGET_RANGE: self.quantization_range,
                Key.MOD_RANGE: self.modulus_range,
                Key.MAX_WEIGHT: self.max_weight,
            }
        )

    def weighting(self) -> tuple[int, float]:
        """``(q_ratio, dq_ratio)`` exactly as ``_collect_masked_vectors`` computes them."""
        ratio = self.num_examples / self.max_weight
        q_ratio = round(ratio * self.quantization_range)
        return q_ratio, q_ratio / self.quantization_range


def ring_neighbourhoods(
    node_ids: Sequence[int], num_shares: int, *, seed: str
) -> dict[int, set[int]]:
    """The workflow's neighbour relation: a shuffled ring, ``num_shares >> 1`` each side, self.

    A copy of the comprehension in ``SecAggPlusWorkflow.setup_stage`` (it is
    inline there); the shuffle is seeded so that a run is reproducible.

    Args:
        node_ids: the sampled node ids.
        num_shares: shares per secret (``k + 1``; ``len(node_ids)`` for the
            complete graph).
        seed: seeds the shuffle (scheduling, not a secret).

    Returns:
        node id -> its neighbours, itself included.
    """
    order = list(node_ids)
    random.Random(seed).shuffle(order)
    half_share = num_shares >> 1
    count = len(order)
    return {
        nid: {order[(idx + offset) % count] for offset in range(-half_share, half_share + 1)}
        for idx, nid in enumerate(order)
    }


def upload_bytes(masked: Sequence[bytes]) -> int:
    """Bytes of a client's masked upload: the serialised arrays it sends."""
    return sum(len(b) for b in masked)


# ----------------------------------------------------------------- client masking


@dataclass
class MaskFixture:
    """One client after stages 0 and 1, holding what stage 2 needs.

    Attributes:
        nid: the client's node id.
        update: its float32 model update (one array).
        parameters: the same update as Flower's ``Parameters`` (the fit result).
        state: its ``SecAggPlusState`` after Flower's ``_setup`` and
            ``_share_keys``.
        configs: the stage-2 configuration the workflow forwards to it (the
            neighbours' encrypted shares and their sources).
        pairwise_keys: neighbour id -> ``generate_shared_key(sk1, pk1_j)``,
            derived untimed for :func:`mask_update`.
        params: the protocol settings.
    """

    nid: int
    update: F32
    parameters: Parameters
    state: Any
    configs: ConfigRecord
    pairwise_keys: dict[int, bytes]
    params: FlowerParams


def make_mask_fixture(
    update: F32, k: int, *, params: FlowerParams | None = None, threshold: int | None = None
) -> MaskFixture:
    """Bring one client with k neighbours (the complete graph of k + 1) to stage 2.

    The measured client runs Flower's own ``_setup`` (key pairs) and
    ``_share_keys`` (self-mask seed, Shamir shares of it and of its key,
    encryption to each neighbour); its neighbours run ``_setup`` only.  The
    shares the neighbours would send it are random bytes of the real length
    (their index, then 16 bytes per chunk), encrypted with Flower's
    ``encrypt`` under the real pairwise channel key: stage 2 only decrypts and
    stores them, so their content does not change its cost, and creating real
    ones would cost k Shamir splits among k + 1.

    Args:
        update: the client's update.
        k: neighbours (k + 1 clients, each the others' neighbour).
        params: protocol settings (default: Flower's defaults).
        threshold: shares to reconstruct (default: :func:`majority` of k + 1).

    Returns:
        The fixture.
    """
    p = params or FlowerParams()
    share_num = k + 1
    t = threshold if threshold is not None else majority(share_num)
    ids = list(range(1, share_num + 1))
    nid = ids[len(ids) // 2]  # a middle id, so pairwise masks are added and subtracted
    setup = p.setup_config(sample_num=share_num, share_num=share_num, threshold=t)
    states: dict[int, Any] = {}
    for i in ids:
        st = SecAggPlusState()
        st.nid = i
        secaggplus_mod._setup(st, ConfigRecord(dict(setup)))
        states[i] = st
    me = states[nid]
    keys = ConfigRecord({str(i): [states[i].pk1, states[i].pk2] for i in ids})
    secaggplus_mod._share_keys(me, keys)
    share_len_b = len(me.rd_seed_share_dict[nid])
    share_len_sk = len(me.sk1_share_dict[nid])
    position = ids.index(nid) + 1  # the index each neighbour's share for nid carries
    prefix = position.to_bytes(4, "little", signed=False)
    srcs: list[int] = []
    ciphertexts: list[bytes] = []
    for j in ids:
        if j == nid:
            continue
        channel = generate_shared_key(
            bytes_to_private_key(states[j].sk2), bytes_to_public_key(me.pk2)
        )
        plaintext = share_keys_plaintext_concat(
            j,
            nid,
            prefix + os.urandom(share_len_b - 4),
            prefix + os.urandom(share_len_sk - 4),
        )
        srcs.append(j)
        ciphertexts.append(encrypt(channel, plaintext))
    configs = ConfigRecord({Key.CIPHERTEXT_LIST: ciphertexts, Key.SOURCE_LIST: srcs})
    pairwise = {
        j: generate_shared_key(bytes_to_private_key(me.sk1), bytes_to_public_key(states[j].pk1))
        for j in srcs
    }
    return MaskFixture(
        nid=nid,
        update=update,
        parameters=ndarrays_to_parameters([update]),
        state=me,
        configs=configs,
        pairwise_keys=pairwise,
        params=p,
    )


def mask_update(fx: MaskFixture) -> list[bytes]:
    """Client masking as ``_collect_masked_vectors`` does it, from the weighting on.

    Args:
        fx: the client (pairwise seeds already derived).

    Returns:
        The serialised masked arrays (``[factor, parameters]``, int64) the mod
        would upload.
    """
    p = fx.params
    st = fx.state
    q_ratio, dq_ratio = p.weighting()
    parameters = parameters_multiply([fx.update], dq_ratio)
    quantized_parameters = quantize(parameters, st.clipping_range, st.target_range)
    quantized_parameters = factor_combine(q_ratio, quantized_parameters)
    dimensions_list: list[tuple[int, ...]] = [a.shape for a in quantized_parameters]
    private_mask = pseudo_rand_gen(st.rd_seed, st.mod_range, dimensions_list)
    quantized_parameters = parameters_addition(quantized_parameters, private_mask)
    for node_id, shared_key in fx.pairwise_keys.items():
        pairwise_mask = pseudo_rand_gen(shared_key, st.mod_range, dimensions_list)
        if st.nid > node_id:
            quantized_parameters = parameters_addition(quantized_parameters, pairwise_mask)
        else:
            quantized_parameters = parameters_subtraction(quantized_parameters, pairwise_mask)
    quantized_parameters = parameters_mod(quantized_parameters, st.mod_range)
    return [ndarray_to_bytes(arr) for arr in quantized_parameters]


def collect_masked_vectors(fx: MaskFixture) -> list[bytes]:
    """Client stage 2 in full: Flower's own ``secaggplus_mod._collect_masked_vectors``.

    Args:
        fx: the client after stages 0 and 1.

    Returns:
        The serialised masked arrays the mod would upload.
    """
    res = secaggplus_mod._collect_masked_vectors(
        fx.state, fx.configs, fx.params.num_examples, fx.parameters
    )
    return cast(list[bytes], res[Key.MASKED_PARAMETERS])


# --------------------------------------------------------------- server unmasking


@dataclass
class UnmaskFixture:
    """The server's state when the unmask stage's replies have arrived.

    Attributes:
        threshold: shares needed per secret.
        num_shares: shares per secret.
        active: the clients that uploaded a masked vector (survivors).
        dead: the clients that dropped after sharing their keys.
        neighbours: node id -> its neighbours, itself included.
        public_keys: node id -> ``[pk1, pk2]``.
        masked_vector: the sum of the survivors' masked uploads mod 2^32
            (``[factor, parameters]``, int64), as the collect stage leaves it.
        collected_shares: node id -> the shares the survivors returned for it:
            self-mask-seed shares for a survivor, shares of its first private
            key (PEM) for a dropped client.
        expected: the mean of the survivors' updates (float64), for checking.
        params: the protocol settings.
    """

    threshold: int
    num_shares: int
    active: frozenset[int]
    dead: frozenset[int]
    neighbours: dict[int, frozenset[int]]
    public_keys: dict[int, list[bytes]]
    masked_vector: list[NDArray]
    collected_shares: dict[int, list[bytes]]
    expected: F64
    params: FlowerParams = field(default_factory=FlowerParams)


def _quantized(update: F32, p: FlowerParams) -> list[NDArray]:
    """A client's ``[factor, quantized update]`` as ``_collect_masked_vectors`` builds it."""
    q_ratio, dq_ratio = p.weighting()
    parameters = parameters_multiply([update], dq_ratio)
    quantized_parameters = quantize(parameters, p.clipping_range, p.quantization_range)
    return factor_combine(q_ratio, quantized_parameters)


def make_unmask_fixture(
    *,
    n: int,
    clients: int,
    neighbours: int | None,
    dropped: int,
    threshold: int | None = None,
    params: FlowerParams | None = None,
    seed: str = "secagg",
) -> UnmaskFixture:
    """Build the server's unmask-stage inputs for ``clients`` clients, ``dropped`` dropped.

    Key pairs are Flower's (``_setup``); the neighbour relation is the
    workflow's; the dropped clients (a seeded sample) shared their keys but
    never uploaded.  The collected shares are real ``create_shares`` outputs,
    the ones the survivors hold: for each survivor its self-mask-seed shares
    held by its surviving neighbours (itself included), for each dropped
    client the shares of its first private key held by its surviving
    neighbours.

    The masked sum is computed from the terms that survive cancellation: each
    survivor's quantized update and self mask, plus its pairwise masks with
    its dropped neighbours (the pairwise masks between two survivors cancel
    in the sum).  Equal mod 2^32 to the sum of the real uploads, with
    ``clients`` self masks instead of ``clients * (k + 1)`` masks to draw.

    Args:
        n: parameters per update.
        clients: clients sampled.
        neighbours: k (``num_shares = k + 1``), or None for the complete graph.
        dropped: clients that drop after stage 1.
        threshold: shares to reconstruct (default: :func:`majority`).
        params: protocol settings (default: Flower's defaults).
        seed: seeds the ring shuffle, the dropout choice and the test updates.

    Returns:
        The fixture.

    Raises:
        ValueError: a client would keep fewer than ``threshold`` surviving
            neighbours (Flower's workflow would abort the round).
    """
    p = params or FlowerParams()
    ids = list(range(1, clients + 1))
    num_shares = clients if neighbours is None else neighbours + 1
    t = threshold if threshold is not None else majority(num_shares)
    nbrs = {nid: frozenset(s) for nid, s in ring_neighbourhoods(ids, num_shares, seed=seed).items()}
    dead = frozenset(random.Random(f"{seed}/dropped").sample(ids, dropped))
    active = frozenset(ids) - dead
    for nid in ids:
        if len(nbrs[nid] & active) < t:
            raise ValueError(f"client {nid} keeps fewer than {t} surviving neighbours")
    setup = p.setup_config(sample_num=clients, share_num=num_shares, threshold=t)
    states: dict[int, Any] = {}
    for nid in ids:
        st = SecAggPlusState()
        st.nid = nid
        secaggplus_mod._setup(st, ConfigRecord(dict(setup)))
        states[nid] = st
    public_keys = {nid: [states[nid].pk1, states[nid].pk2] for nid in ids}

    rng = np.random.default_rng(list(seed.encode()))  # test data, not a secret
    mod = p.modulus_range
    total: list[NDArray] = [np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)]
    expected = np.zeros(n, dtype=np.float64)
    collected: dict[int, list[bytes]] = {}
    for nid in sorted(active):
        update = rng.uniform(-1.0, 1.0, size=n).astype(np.float32)
        expected += update
        quantized = _quantized(update, p)
        dims = [a.shape for a in quantized]
        rd_seed = os.urandom(32)
        total = parameters_addition(total, quantized)
        total = parameters_addition(total, pseudo_rand_gen(rd_seed, mod, dims))
        for other in sorted(nbrs[nid] & dead):
            shared_key = generate_shared_key(
                bytes_to_private_key(states[nid].sk1), bytes_to_public_key(states[other].pk1)
            )
            mask = pseudo_rand_gen(shared_key, mod, dims)
            if nid > other:
                total = parameters_addition(total, mask)
            else:
                total = parameters_subtraction(total, mask)
        total = parameters_mod(total, mod)
        collected[nid] = _held_shares(create_shares(rd_seed, t, num_shares), nbrs[nid], active)
    for nid in sorted(dead):
        shares = create_shares(states[nid].sk1, t, num_shares)
        collected[nid] = _held_shares(shares, nbrs[nid], active)
    expected /= len(active)
    return UnmaskFixture(
        threshold=t,
        num_shares=num_shares,
        active=active,
        dead=dead,
        neighbours=nbrs,
        public_keys=public_keys,
        masked_vector=total,
        collected_shares=collected,
        expected=expected,
        params=p,
    )


def _held_shares(
    shares: Sequence[bytes], holders: Iterable[int], active: frozenset[int]
) -> list[bytes]:
    """The shares of one secret that surviving holders return (share i to the i-th holder)."""
    return [
        share for share, holder in zip(shares, sorted(holders), strict=True) if holder in active
    ]


def unmask(fx: UnmaskFixture) -> list[NDArray]:
    """Server unmasking as ``SecAggPlusWorkflow.unmask_stage`` does it once the shares are in.

    Like Flower, every collected share list is combined in full (not just
    ``threshold`` shares), and a dropped client's pairwise masks are
    regenerated with every neighbour (dropped ones too; those cancel).
    Flower removes the client from its own neighbour set in place; this glue
    takes the set difference instead, so the fixture can be reused.

    Args:
        fx: the server's state.

    Returns:
        The aggregate: the weighted mean of the survivors' updates (float64).

    Raises:
        ValueError: a secret has fewer shares than the threshold.
    """
    p = fx.params
    masked_vector = fx.masked_vector
    for nid, share_list in fx.collected_shares.items():
        if len(share_list) < fx.threshold:
            raise ValueError("Not enough shares to recover secret in unmask vectors stage")
        secret = combine_shares(share_list)
        if nid in fx.active:
            private_mask = pseudo_rand_gen(
                secret, p.modulus_range, get_parameters_shape(masked_vector)
            )
            masked_vector = parameters_subtraction(masked_vector, private_mask)
        else:
            for neighbor_nid in fx.neighbours[nid] - {nid}:
                shared_key = generate_shared_key(
                    bytes_to_private_key(secret),
                    bytes_to_public_key(fx.public_keys[neighbor_nid][0]),
                )
                pairwise_mask = pseudo_rand_gen(
                    shared_key, p.modulus_range, get_parameters_shape(masked_vector)
                )
                if nid > neighbor_nid:
                    masked_vector = parameters_addition(masked_vector, pairwise_mask)
                else:
                    masked_vector = parameters_subtraction(masked_vector, pairwise_mask)
    recon_parameters = parameters_mod(masked_vector, p.modulus_range)
    q_total_ratio, recon_parameters = factor_extract(recon_parameters)
    inv_dq_total_ratio = p.quantization_range / q_total_ratio
    aggregated_vector = dequantize(recon_parameters, p.clipping_range, p.quantization_range)
    offset = -(len(fx.active) - 1) * p.clipping_range
    for vec in aggregated_vector:
        vec += offset
        vec *= inv_dq_total_ratio
    return aggregated_vector


# ------------------------------------------------------------------------- Shamir


def shamir_split(secret: bytes, threshold: int, num: int) -> list[bytes]:
    """Flower's ``create_shares`` (pycryptodome's GF(2^128) Shamir per 16-byte chunk)."""
    return create_shares(secret, threshold, num)


def shamir_combine(shares: list[bytes]) -> bytes:
    """Flower's ``combine_shares`` of the given shares (all of them are used)."""
    return combine_shares(shares)


# ------------------------------------------------- a whole round, for the checks


@dataclass
class Network:
    """A small SecAgg+ round run through Flower's own client-stage functions.

    Attributes:
        states: node id -> ``SecAggPlusState``.
        neighbours: node id -> its neighbours, itself included.
        updates: node id -> its update.
        threshold: shares to reconstruct.
        num_shares: shares per secret.
        params: the protocol settings.
    """

    states: dict[int, Any]
    neighbours: dict[int, set[int]]
    updates: dict[int, F32]
    threshold: int
    num_shares: int
    params: FlowerParams


def make_network(*, n: int, clients: int, neighbours: int | None, seed: str = "check") -> Network:
    """Run stage 0 of a small round: Flower's ``_setup`` per client.

    Args:
        n: parameters per update.
        clients: clients.
        neighbours: k, or None for the complete graph.
        seed: seeds the ring shuffle and the test updates.

    Returns:
        The network after stage 0; :func:`network_round` runs the rest.
    """
    p = FlowerParams()
    ids = list(range(1, clients + 1))
    num_shares = clients if neighbours is None else neighbours + 1
    t = majority(num_shares)
    nbrs = ring_neighbourhoods(ids, num_shares, seed=seed)
    setup = p.setup_config(sample_num=clients, share_num=num_shares, threshold=t)
    states: dict[int, Any] = {}
    for nid in ids:
        st = SecAggPlusState()
        st.nid = nid
        secaggplus_mod._setup(st, ConfigRecord(dict(setup)))
        states[nid] = st
    rng = np.random.default_rng(list(seed.encode()))  # test data, not a secret
    updates = {nid: rng.uniform(-1.0, 1.0, size=n).astype(np.float32) for nid in ids}
    return Network(states, nbrs, updates, t, num_shares, p)


def network_round(net: Network, dropped: Iterable[int]) -> tuple[UnmaskFixture, list[bytes]]:
    """Finish the round through Flower's client functions; return the server's unmask inputs.

    Stage 1 (``_share_keys``) for every client, the workflow's forwarding of
    ciphertexts, stage 2 (``_collect_masked_vectors``) for the survivors,
    the workflow's sum of their uploads (``bytes_to_ndarray``,
    ``parameters_addition``, ``parameters_mod``), then stage 3 (``_unmask``)
    for the survivors and the workflow's collection of their shares.

    Args:
        net: the network after :func:`make_network`.
        dropped: clients that drop after stage 1.

    Returns:
        The :class:`UnmaskFixture` the workflow would hold, and one survivor's
        serialised upload.
    """
    from flwr.common import bytes_to_ndarray

    dead = frozenset(dropped)
    ids = sorted(net.states)
    active = frozenset(ids) - dead
    fwd_srcs: dict[int, list[int]] = {nid: [] for nid in ids}
    fwd_ctxts: dict[int, list[bytes]] = {nid: [] for nid in ids}
    for nid in ids:
        st = net.states[nid]
        keys = ConfigRecord(
            {str(j): [net.states[j].pk1, net.states[j].pk2] for j in sorted(net.neighbours[nid])}
        )
        res = secaggplus_mod._share_keys(st, keys)
        for dst, ct in zip(
            cast(list[int], res[Key.DESTINATION_LIST]),
            cast(list[bytes], res[Key.CIPHERTEXT_LIST]),
            strict=True,
        ):
            fwd_srcs[dst].append(nid)
            fwd_ctxts[dst].append(ct)
    masked: list[NDArray] | None = None
    sample = b""
    for nid in sorted(active):
        configs = ConfigRecord(
            {Key.CIPHERTEXT_LIST: fwd_ctxts[nid], Key.SOURCE_LIST: fwd_srcs[nid]}
        )
        res = secaggplus_mod._collect_masked_vectors(
            net.states[nid],
            configs,
            net.params.num_examples,
            ndarrays_to_parameters([net.updates[nid]]),
        )
        blobs = cast(list[bytes], res[Key.MASKED_PARAMETERS])
        sample = sample or b"".join(blobs)
        vec = [bytes_to_ndarray(b) for b in blobs]
        masked = vec if masked is None else parameters_addition(masked, vec)
    assert masked is not None
    masked = parameters_mod(masked, net.params.modulus_range)
    collected: dict[int, list[bytes]] = {nid: [] for nid in ids}
    for nid in sorted(active):
        nb = net.neighbours[nid]
        res = secaggplus_mod._unmask(
            net.states[nid],
            ConfigRecord(
                {
                    Key.ACTIVE_NODE_ID_LIST: sorted(nb & active),
                    Key.DEAD_NODE_ID_LIST: sorted(nb & dead),
                }
            ),
        )
        for owner, share in zip(
            cast(list[int], res[Key.NODE_ID_LIST]),
            cast(list[bytes], res[Key.SHARE_LIST]),
            strict=True,
        ):
            collected[owner].append(share)
    expected = np.zeros_like(next(iter(net.updates.values())), dtype=np.float64)
    for nid in sorted(active):
        expected += net.updates[nid]
    expected /= len(active)
    fixture = UnmaskFixture(
        threshold=net.threshold,
        num_shares=net.num_shares,
        active=active,
        dead=dead,
        neighbours={nid: frozenset(s) for nid, s in net.neighbours.items()},
        public_keys={nid: [net.states[nid].pk1, net.states[nid].pk2] for nid in ids},
        masked_vector=masked,
        collected_shares=collected,
        expected=expected,
        params=net.params,
    )
    return fixture, [sample]


def max_error(aggregate: Sequence[NDArray], expected: F64) -> float:
    """Largest absolute difference between Flower's aggregate and the exact mean."""
    return float(np.max(np.abs(np.asarray(aggregate[0], dtype=np.float64) - expected)))


def tolerance(p: FlowerParams) -> float:
    """Quantization error bound of the mean: one quantization step (stochastic rounding)."""
    return 2.0 * p.clipping_range / p.quantization_range


def as_mapping(fx: UnmaskFixture) -> Mapping[str, int]:
    """Counts describing an unmask fixture (for the JSON)."""
    return {
        "clients": len(fx.active) + len(fx.dead),
        "dropped": len(fx.dead),
        "num_shares": fx.num_shares,
        "threshold": fx.threshold,
        "shares_combined": sum(len(v) for v in fx.collected_shares.values()),
        "pairwise_masks_regenerated": sum(len(fx.neighbours[d]) - 1 for d in fx.dead),
        "self_masks_regenerated": len(fx.active),
    }
