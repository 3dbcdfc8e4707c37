"""Homomorphic-encrypted aggregation with CKKS, BFV and packed Paillier.

Run:  python examples/he_aggregation.py   (needs the `he` extra: pip install 'privkit[he]')

Ten clients encrypt 100,000-parameter updates (20,000 for Paillier, which is
much slower than the lattice schemes). The aggregation server gets only
the scheme's public copy (`keys.public()`): it adds ciphertexts it cannot read.
A few key-holding clients decrypt the encrypted sum, and their answers must
agree. Client 9 drops out before uploading, client 2 right after.
"""

from __future__ import annotations

import time

import numpy as np

from privkit.he import BFV, CKKS, HEScheme, Paillier

N_CLIENTS = 10
LENGTH = 100_000


def run_round(
    title: str, keys: HEScheme, updates: dict[int, np.ndarray], *, holders: set[int] | None = None
) -> None:
    """One round; ``holders``: the clients with the secret key (default: all)."""
    length = next(iter(updates.values())).size
    public = keys.public()
    assert not public.can_decrypt
    server = public.server(client_ids=list(updates), length=length)  # no secret key
    clients = {
        cid: (keys if holders is None or cid in holders else public).client(client_id=cid, update=u)
        for cid, u in updates.items()
    }
    start = time.perf_counter()
    upload_bytes = 0
    out = server.start()
    while not server.done:
        replies = {}
        for cid, message in out.items():
            if cid == 9 or (cid == 2 and server.exchange == 1):
                continue  # dropped out
            reply = clients[cid].handle(message)
            if reply is not None:
                replies[cid] = reply
                upload_bytes += len(reply) if server.exchange == 0 else 0
        out = server.step(replies)
    seconds = time.perf_counter() - start
    survivors = server.survivors
    exact = np.sum([updates[c] for c in survivors], axis=0)
    error = float(np.max(np.abs(server.result() - exact)))
    tol = keys.tolerance(n_summands=len(survivors), bound=1.0)
    per_value = upload_bytes / (length * len(survivors))
    print(
        f"{title:<36} {seconds:6.2f} s {per_value:6.2f} bytes/value  "
        f"max error {error:.1e} (bound {tol:.1e})"
    )
    if error > tol:
        raise SystemExit(f"{title}: wrong aggregate")


def main() -> None:
    rng = np.random.default_rng(3)  # demo data only
    updates = {cid: np.clip(rng.normal(0.0, 0.1, LENGTH), -1, 1) for cid in range(N_CLIENTS)}
    print(f"{N_CLIENTS} clients; client 9 never uploads, client 2 leaves after uploading")
    print(f"{LENGTH:,} parameters per client:")
    run_round("CKKS, symmetric (all hold the key)", CKKS.generate(max_clients=16), updates)
    run_round(
        "CKKS, public key (only 0 holds it)",
        CKKS.generate(symmetric=False, max_clients=16),
        updates,
        holders={0},
    )
    run_round("BFV, exact fixed point", BFV.generate(max_clients=16), updates)
    small = {cid: u[:20_000] for cid, u in updates.items()}
    print("20,000 parameters per client:")
    run_round("Paillier 2048-bit, packed slots", Paillier.generate(max_clients=16), small)


if __name__ == "__main__":
    main()
