"""Who shares secrets with whom: the complete graph (SecAgg) or a random k-regular graph (SecAgg+).

SecAgg+ (Bell et al., CCS 2020) replaces SecAgg's complete graph by a sparse one:
each client masks pairwise and secret-shares its keys only within its
*neighbourhood*, so client work and traffic grow with the degree k instead of
the number of clients n.  privkit uses a Harary graph on a random ring: the
clients are placed on a ring in a uniformly random order, and each is linked to
the ``k // 2`` (rounded up) nearest clients on each side.  For a fixed client
the set of its neighbours is then a uniformly random subset of the others, which
is what the bounds in :func:`guarantees` need, and the graph is
``degree``-connected, so removing fewer than ``degree`` clients never splits it.

The ring order comes from a 32-byte seed fed to the ChaCha20 PRG
(:mod:`privkit.prg`); SecAgg derives the seed from the session id and every
public key advertised in the round (see :mod:`privkit.secagg.protocol`), so the
server cannot choose it before the clients' keys exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privkit import prg
from privkit.errors import ParameterError

__all__ = [
    "Guarantees",
    "degree_for",
    "guarantees",
    "neighbourhoods",
    "resolve_threshold",
]


def degree_for(neighbours: int | None, n_clients: int) -> int:
    """The number of neighbours each client gets among ``n_clients``.

    Args:
        neighbours: ``None`` for the complete graph, else the requested k >= 2
            (odd k is rounded up to the next even number).
        n_clients: clients in the graph.

    Returns:
        ``n_clients - 1`` for the complete graph or when k reaches it, else
        ``2 * ceil(k / 2)``.
    """
    if neighbours is None:
        return n_clients - 1
    return min(2 * math.ceil(neighbours / 2), n_clients - 1)


def resolve_threshold(threshold: int | float, group_size: int) -> int:
    """Turn a threshold (count or fraction) into a share count for a group of holders.

    Args:
        threshold: an int t (shares needed), or a fraction in (0, 1] of ``group_size``
            (rounded up).
        group_size: the number of share holders (a client's neighbourhood plus itself).

    Returns:
        The threshold as an int in ``[2, group_size]``.

    Raises:
        ParameterError: a threshold below 2 (a single share would reveal a key),
            above the group, or not a positive number.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ParameterError(f"threshold must be an int or a float fraction, got {threshold!r}")
    if isinstance(threshold, float):
        if not 0.0 < threshold <= 1.0:
            raise ParameterError(f"a fractional threshold must be in (0, 1], got {threshold}")
        t = math.ceil(threshold * group_size - 1e-9)
    else:
        t = threshold
    if t < 2:
        raise ParameterError(
            f"threshold resolves to {t} shares for {group_size} holders; it must be at least 2, "
            "since one share alone would reveal a client's keys"
        )
    if t > group_size:
        raise ParameterError(
            f"threshold {t} exceeds the {group_size} holders of each client's shares; "
            f"use at most {group_size} (or a fraction)"
        )
    return t


def neighbourhoods(
    client_ids: Sequence[object], *, degree: int, seed: bytes
) -> list[frozenset[int]]:
    """The neighbours of every client, as positions into ``client_ids``.

    Args:
        client_ids: the clients, in canonical order (only their count and order matter).
        degree: even neighbour count (from :func:`degree_for`); ``len - 1`` gives the
            complete graph.
        seed: 32 bytes fixing the random ring order.

    Returns:
        For each position i, the frozenset of positions of its neighbours (never i).
        The relation is symmetric.

    Raises:
        ParameterError: an odd degree below ``len - 1`` or a bad seed.
    """
    n = len(client_ids)
    if degree >= n - 1:
        everyone = frozenset(range(n))
        return [everyone - {i} for i in range(n)]
    if degree % 2:
        raise ParameterError(f"a sparse graph needs an even degree, got {degree}")
    order = _ring_order(n, seed)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    half = degree // 2
    result: list[frozenset[int]] = []
    for i in range(n):
        p = int(position[i])
        result.append(frozenset(int(order[(p + d) % n]) for d in range(-half, half + 1) if d))
    return result


def _ring_order(n: int, seed: bytes) -> np.ndarray:
    """A uniformly random permutation of range(n) from the PRG (Fisher-Yates, rejection)."""
    if not isinstance(seed, bytes) or len(seed) != prg.SEED_BYTES:
        raise ParameterError(f"the graph seed must be {prg.SEED_BYTES} bytes")
    # Enough 64-bit words for the shuffle: rejection at bound b < 2^32 is rarer than 2^-32,
    # so 2n words essentially never run out; draw more if they do.
    words = prg.expand(seed, 2 * n + 64, dtype=np.uint64)
    order = np.arange(n)
    w = 0
    for i in range(n - 1, 0, -1):
        bound = i + 1
        limit = (2**64 // bound) * bound  # reject the biased top
        while True:
            if w == words.size:
                words = prg.expand(seed, 2 * words.size, dtype=np.uint64)
            r = int(words[w])
            w += 1
            if r < limit:
                break
        j = r % bound
        order[i], order[j] = order[j], order[i]
    return order


@dataclass(frozen=True)
class Guarantees:
    """What a SecAgg / SecAgg+ configuration promises (see :func:`guarantees`).

    Attributes:
        degree: neighbours per client.
        holders: share holders per client (degree + 1).
        threshold: shares needed to reconstruct a client's key.
        max_dropouts_always_ok: any set of at most this many dropouts (anywhere)
            always lets the round finish: ``holders - threshold``.
        p_round_fails: probability (union bound over clients) that some
            neighbourhood keeps fewer than ``threshold`` holders when each client
            drops independently with the given rate.
        p_privacy_breach: probability (union bound) that some neighbourhood holds
            ``threshold`` or more colluding clients when the given fraction of
            clients, placed at random, colludes with the server.
    """

    degree: int
    holders: int
    threshold: int
    max_dropouts_always_ok: int
    p_round_fails: float
    p_privacy_breach: float


def _binomial_tail_at_least(k: int, trials: int, p: float) -> float:
    """P[Binomial(trials, p) >= k]."""
    if k <= 0:
        return 1.0
    if k > trials:
        return 0.0
    return float(
        sum(math.comb(trials, j) * p**j * (1.0 - p) ** (trials - j) for j in range(k, trials + 1))
    )


def guarantees(
    *,
    n_clients: int,
    threshold: int | float,
    neighbours: int | None = None,
    dropout_rate: float = 0.1,
    collusion: float = 0.1,
) -> Guarantees:
    """The relation between degree k, threshold t, dropouts and collusion, as numbers.

    Each client's keys are shared t-of-(k+1) among its neighbourhood (itself
    included).  The round completes if every neighbourhood of a client that
    reached the masking stage keeps at least t members to the end; the server,
    with colluding clients, learns a client's individual input only if it can
    reconstruct both of that client's keys or isolate it, which needs at least t
    colluders in one neighbourhood (complete graph: t colluders overall).
    Clients dropping out and colluding are modelled as independent per client,
    with a colluder's neighbours being a random subset (true for the random
    ring); the probabilities are union bounds over the n neighbourhoods, so
    they are upper bounds.

    Args:
        n_clients: clients in the round.
        threshold: as for :class:`~privkit.secagg.SecAgg`.
        neighbours: k, or None for the complete graph.
        dropout_rate: the probability that a client drops out before unmasking.
        collusion: the fraction of clients that collude with the server.

    Returns:
        A :class:`Guarantees`.

    Raises:
        ParameterError: impossible parameters.
    """
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 2:
        raise ParameterError(f"n_clients must be an int >= 2, got {n_clients!r}")
    for name, value in (("dropout_rate", dropout_rate), ("collusion", collusion)):
        if not 0.0 <= value <= 1.0:
            raise ParameterError(f"{name} must be in [0, 1], got {value}")
    degree = degree_for(neighbours, n_clients)
    holders = degree + 1
    t = resolve_threshold(threshold, holders)
    # fails if more than holders - t of a neighbourhood drop
    p_fail_one = _binomial_tail_at_least(holders - t + 1, holders, dropout_rate)
    p_breach_one = _binomial_tail_at_least(t, holders, collusion)
    groups = 1 if neighbours is None or degree == n_clients - 1 else n_clients
    return Guarantees(
        degree=degree,
        holders=holders,
        threshold=t,
        max_dropouts_always_ok=holders - t,
        p_round_fails=min(1.0, groups * p_fail_one),
        p_privacy_breach=min(1.0, groups * p_breach_one),
    )
