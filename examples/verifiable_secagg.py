"""Verifiable secure aggregation: anyone can check the server's sum against commitments.

Run:  python examples/verifiable_secagg.py   (once privkit is installed)

Six clients hold 100,000-parameter updates. Before the round each one commits to
its fixed-point-encoded update with a Pedersen commitment (privkit.zk.pedersen on
ristretto255) and signs it for this round. They then run two SecAgg rounds: one
sums the updates, the other sums the commitments' blindings (split into 16-bit
limbs, summed exactly). Client 2 drops out before sharing its keys and client 4
right after uploading. The server publishes the sum, the survivors and the summed
blinding; a third party, holding only the published bytes, checks that the
survivors' commitments add up to a commitment to that sum. Then a cheating server
quietly leaves client 0's update out of the sum and is caught.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from privkit.aggregation import run_local
from privkit.clientid import ClientId
from privkit.errors import VerificationError
from privkit.identity import NodeIdentity, Roster
from privkit.secagg import SecAgg
from privkit.zk import verifiable as v

N_CLIENTS = 6
LENGTH = 100_000
MAX_CLIENTS = 16
DROPOUTS = {1: [2], 3: [4]}  # exchange index -> clients that stop answering from then on
ROUND_ID = b"example-round-1"


def publish_and_verify(
    claim_bytes: bytes, commitment_bytes: list[bytes], scheme: SecAgg, roster: Roster
) -> None:
    """The third party: decode what was published and verify it (raises if it does not)."""
    claim = v.AggregateClaim.from_bytes(claim_bytes, max_length=LENGTH, max_survivors=MAX_CLIENTS)
    records = [v.ClientCommitment.from_bytes(b) for b in commitment_bytes]
    v.verify_aggregate(claim, records, encoding=scheme.encoding, roster=roster)


def main() -> None:
    rng = np.random.default_rng(11)  # demo data only: no secret comes from numpy
    updates: dict[ClientId, npt.NDArray[np.float64]] = {
        cid: rng.normal(0.0, 0.05, LENGTH) for cid in range(N_CLIENTS)
    }
    identities = {cid: NodeIdentity.generate() for cid in updates}
    roster = Roster({cid: ident.public_key for cid, ident in identities.items()})
    scheme = SecAgg(threshold=0.5, clip=1.0, max_clients=MAX_CLIENTS)
    blinding = v.blinding_scheme(MAX_CLIENTS, threshold=0.5)
    print(f"{N_CLIENTS} clients x {LENGTH:,} parameters; dropouts {DROPOUTS}")
    print(f"encoding: {scheme.encoding!r}")

    # 1. every client commits to its encoded update and signs the commitment
    t0 = time.perf_counter()
    published: list[bytes] = []
    limbs: dict[ClientId, npt.NDArray[np.float64]] = {}
    for cid, update in updates.items():
        record, opening = v.commit_client_update(
            update,
            round_id=ROUND_ID,
            client_id=cid,
            encoding=scheme.encoding,
            identity=identities[cid],
        )
        published.append(record.to_bytes())
        limbs[cid] = v.blinding_limbs(opening.blinding)  # secret: only into the secure sum
    t_commit = time.perf_counter() - t0
    print(f"  commitments: {t_commit:.2f} s for all clients (generators derived once)")

    # 2.-3. two secure sums: the updates and the blinding limbs, same dropouts
    t0 = time.perf_counter()
    result = run_local(scheme, updates, dropouts=DROPOUTS)
    limb_result = run_local(blinding, limbs, dropouts=DROPOUTS)
    t_secagg = time.perf_counter() - t0
    print(
        f"  SecAgg rounds: {t_secagg:.2f} s; survivors {list(result.survivors)}; "
        f"blinding round {limb_result.bytes_up / 1e3:.1f} kB up"
    )

    # 4. the server publishes its claim
    claim = v.make_claim(
        ROUND_ID,
        aggregate=result.aggregate,
        survivors=result.survivors,
        blinding_limb_sum=limb_result.aggregate,
        blinding_survivors=limb_result.survivors,
    )
    exact = np.sum([np.clip(updates[c], -1.0, 1.0) for c in result.survivors], axis=0)
    error = float(np.max(np.abs(claim.aggregate - exact)))
    if error > scheme.encoding.max_error(len(result.survivors)) or 2 in result.survivors:
        raise SystemExit("secure aggregation returned a wrong result")

    # 5. a third party verifies from the published bytes alone
    t0 = time.perf_counter()
    try:
        publish_and_verify(claim.to_bytes(), published, scheme, roster)
    except VerificationError as exc:
        raise SystemExit(f"the honest aggregate did not verify: {exc}") from None
    t_verify = time.perf_counter() - t0
    print(f"  honest aggregate verified in {t_verify:.2f} s")

    # a cheating server drops client 0's update but still lists it as a survivor
    dropped = claim.aggregate - scheme.encoding.decode(scheme.encoding.encode(updates[0]))
    cheat = v.AggregateClaim(ROUND_ID, claim.survivors, dropped, claim.blinding_sum)
    try:
        publish_and_verify(cheat.to_bytes(), published, scheme, roster)
    except VerificationError as exc:
        print(f"  cheating aggregator caught: {exc}")
    else:
        raise SystemExit("a cheating aggregator was not caught")
    print("\nverifiable aggregation OK: the sum matches what the survivors committed to")


if __name__ == "__main__":
    main()
