"""Secure aggregation with dropouts: the server learns the sum and nothing else.

Run:  make demo   (or: python examples/secure_sum.py once privkit is installed)

Twelve clients hold 1,000,000-parameter updates. They run SecAgg
(privkit.secagg.SecAgg, Bonawitz et al. 2017) through privkit's in-process
driver: X25519 key agreement, Shamir-shared keys, ChaCha20 masks from the C
kernel. Client 3 drops out before sharing its keys and client 8 right after
uploading its masked update; the round still completes, client 8's update is
counted, client 3's is not, and the result equals the plain sum of the
survivors' (clipped, fixed-point) updates. Then the same round runs as
SecAgg+ (each client masks with 6 random neighbours instead of all 11).
"""

from __future__ import annotations

import numpy as np

from privkit.aggregation import LocalResult, run_local
from privkit.secagg import SecAgg, guarantees

N_CLIENTS = 12
LENGTH = 1_000_000
DROPOUTS = {1: [3], 3: [8]}  # exchange index -> clients that stop answering from then on
PLUS_THRESHOLD, PLUS_NEIGHBOURS = 0.5, 6  # SecAgg+: 4 of each client's 7 share holders


def report(title: str, scheme: SecAgg, result: LocalResult, updates: dict[int, np.ndarray]) -> None:
    clip = scheme.encoding.clip
    exact = np.sum([np.clip(updates[c], -clip, clip) for c in result.survivors], axis=0)
    error = float(np.max(np.abs(result.aggregate - exact)))
    bound = scheme.encoding.max_error(len(result.survivors))
    print(f"\n{title}")
    print(f"  survivors: {list(result.survivors)}")
    for ex in result.exchanges:
        print(
            f"  exchange {ex.index}: {ex.bytes_down / 1e6:8.2f} MB down, "
            f"{ex.bytes_up / 1e6:8.2f} MB up, server {ex.server_seconds * 1e3:7.1f} ms, "
            f"clients {ex.client_seconds * 1e3:7.1f} ms"
        )
    upload = max(ex.bytes_up for ex in result.exchanges) / (LENGTH * len(result.survivors))
    print(f"  masked upload: {upload:.3f} bytes per parameter")
    print(f"  max |secure sum - exact sum| = {error:.2e} (fixed-point bound {bound:.2e})")
    if error > bound or 3 in result.survivors or 8 not in result.survivors:
        raise SystemExit("secure aggregation returned a wrong result")


def main() -> None:
    rng = np.random.default_rng(7)  # demo data only: no secret comes from numpy
    updates = {cid: rng.normal(0.0, 0.05, LENGTH) for cid in range(N_CLIENTS)}

    secagg = SecAgg(threshold=0.6, clip=1.0)
    print(f"{N_CLIENTS} clients x {LENGTH:,} parameters; dropouts {DROPOUTS}")
    print(f"encoding: {secagg.encoding!r}")
    report(
        "SecAgg (complete graph, 8 of 12 shares)",
        secagg,
        run_local(secagg, updates, dropouts=DROPOUTS),
        updates,
    )

    plus = SecAgg(threshold=PLUS_THRESHOLD, neighbours=PLUS_NEIGHBOURS, clip=1.0)
    g = guarantees(
        n_clients=N_CLIENTS,
        threshold=PLUS_THRESHOLD,
        neighbours=PLUS_NEIGHBOURS,
        dropout_rate=0.1,
        collusion=0.1,
    )
    print(
        f"\nSecAgg+ k={g.degree}: {g.threshold} of {g.holders} shares per neighbourhood, "
        f"any {g.max_dropouts_always_ok} dropouts survivable, "
        f"P(round fails) <= {g.p_round_fails:.1e} at 10% dropout"
    )
    report("SecAgg+ (6 neighbours)", plus, run_local(plus, updates, dropouts=DROPOUTS), updates)
    print("\nsecure aggregation OK: the server learned the sums and nothing else")


if __name__ == "__main__":
    main()
