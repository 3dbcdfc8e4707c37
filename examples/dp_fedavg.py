"""DP-FedAvg: federated averaging with client-level differential privacy.

Run:  python examples/dp_fedavg.py

A population of 64 clients each holds a small linear-regression data set.  Every
round, each client is sampled independently with probability q = 0.25 (Poisson
sampling, from the ChaCha20 stream: the sample must stay secret for the amplification
to hold), trains locally for a few gradient steps, and sends its model *update*
through ``privkit.dp.ClientDP``:

1. SecAgg + distributed discrete Gaussian (Kairouz et al. 2021): each client clips its
   update, rounds it to SecAgg's fixed-point grid and adds its share of discrete
   Gaussian noise, so the server only ever sees a fully noised sum;
2. Plain + central Gaussian noise (McMahan et al. 2018): the trusted server adds
   the noise after summing the clipped updates.

An accountant records every round; the example prints epsilon (at delta = 1e-5) per
round and checks itself: the loss must fall, epsilon must grow, and each round's
mechanism must be the one ClientDP announced.  It exits non-zero on failure.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from privkit.aggregation import Plain, Scheme, run_local
from privkit.aggregation.api import ClientId
from privkit.dp.accounting import Accountant, make_accountant
from privkit.dp.client import ClientDP
from privkit.dp.noise import ChaChaStream
from privkit.secagg import SecAgg

POPULATION = 64
SAMPLE_RATE = 0.25
ROUNDS = 6
DIM = 8
CLIP = 0.5
NOISE_MULTIPLIER = 0.8
DELTA = 1e-5
LOCAL_STEPS, LOCAL_LR, SERVER_LR = 5, 0.1, 1.0


def make_data(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    true_w = rng.normal(0.0, 1.0, DIM)
    clients = []
    for _ in range(POPULATION):
        x = rng.normal(0.0, 1.0, (20, DIM))
        clients.append((x, x @ true_w + rng.normal(0.0, 0.1, 20)))
    return true_w, clients


def loss(w: np.ndarray, clients: list[tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean([np.mean((x @ w - y) ** 2) for x, y in clients]))


def local_update(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    local = w.copy()
    for _ in range(LOCAL_STEPS):
        local -= LOCAL_LR * 2.0 * x.T @ (x @ local - y) / len(y)
    delta: np.ndarray = local - w
    return delta


def train(
    title: str,
    scheme: ClientDP,
    accountant: Accountant,
    clients: list[tuple[np.ndarray, np.ndarray]],
) -> bool:
    print(f"\n{title}")
    w = np.zeros(DIM)
    start = loss(w, clients)
    sampler = ChaChaStream()  # secret Poisson sampling of the round's clients
    previous_eps = 0.0
    ok = True
    done = 0
    for r in range(1, ROUNDS + 1):
        chosen = np.flatnonzero(sampler.uniform(POPULATION) < SAMPLE_RATE)
        if len(chosen) < scheme.min_survivors(len(chosen)):
            # Rare (p < 1e-3): too few sampled clients to carry the full noise.  The
            # round is skipped; the (public) survivor count reveals as much anyway.
            print(f"  round {r}: only {len(chosen)} clients sampled; round skipped")
            continue
        updates: dict[ClientId, np.ndarray] = {int(c): local_update(w, *clients[c]) for c in chosen}
        result = run_local(scheme, updates)
        # DP-FedAvg divides by the *expected* number of clients (a public constant), so
        # the sensitivity does not depend on who was sampled.
        w += SERVER_LR * result.aggregate / (SAMPLE_RATE * POPULATION)
        eps = accountant.get_epsilon(DELTA)
        print(
            f"  round {r}: {len(chosen):2d} clients, loss {loss(w, clients):8.4f}, "
            f"epsilon {eps:6.3f} (delta {DELTA:g})"
        )
        ok &= eps > previous_eps and math.isfinite(eps)
        done += 1
        previous_eps = eps
    final = loss(w, clients)
    ok &= final < 0.5 * start and accountant.num_releases == done >= ROUNDS - 1
    print(f"  loss {start:.3f} -> {final:.3f}; {accountant.num_releases} rounds accounted")
    return ok


def main() -> None:
    rng = np.random.default_rng(5)  # demo data only: no secret comes from numpy
    _, clients = make_data(rng)

    # 1. SecAgg + distributed discrete Gaussian.  The fixed-point clip (4.0) leaves room
    #    for the noise shares; ClientDP refuses rounds that could be clamped.
    rdp = make_accountant("rdp", target_delta=DELTA)
    inner: Scheme = SecAgg(threshold=0.6, clip=4.0)
    distributed = ClientDP(
        inner,
        clip=CLIP,
        noise_multiplier=NOISE_MULTIPLIER,
        mode="distributed",
        noise_shares=6,
        accountant=rdp,
        sample_rate=SAMPLE_RATE,
    )
    ok = train(
        "SecAgg + distributed discrete Gaussian (server sees only noised sums)",
        distributed,
        rdp,
        clients,
    )

    # 2. Plain + central Gaussian noise (the server is trusted with the noise).
    prv = make_accountant("prv", target_delta=DELTA)
    central = ClientDP(
        Plain(),
        clip=CLIP,
        noise_multiplier=NOISE_MULTIPLIER,
        accountant=prv,
        sample_rate=SAMPLE_RATE,
    )
    ok &= train("Plain + central Gaussian noise (trusted server)", central, prv, clients)

    if not ok:
        print("DP-FedAvg example FAILED")
        sys.exit(1)
    print("\nDP-FedAvg OK")


if __name__ == "__main__":
    main()
