"""Suite ``e2e``: one simulated aggregation round per scheme, against plain FedAvg.

Each case is one round of ``privkit.aggregation.run_local`` with 10 clients and a
100,000-parameter update each (``--quick``: 5 clients x 5,000), in-process (no network):
every message is encoded, handed over and decoded as on a real transport.  The anchor
``fedavg`` is plain federated averaging without any protection: the numpy mean of the
same updates (what a server does once it holds every update in the clear).  Its ratio is
therefore the *price* of each scheme: ``fedavg median / privkit median``, far below 1.

Per case the info records what one round cost: bytes up and down per client, and
server and client seconds per exchange (from the warm-up round, so the timed rounds
stay free of bookkeeping).  Schemes: ``plain`` (updates in the clear through the session
API), ``secagg`` (complete graph), ``secagg+`` (4 neighbours), ``ckks``, ``bfv`` and
``paillier`` (the ``he`` extra; Paillier's round takes tens of seconds at full size, so
it runs on 20,000 parameters), and the robust rules ``median``, ``trimmed-mean`` and
``krum`` when :mod:`privkit.aggregation.robust` is present.

Untimed check: every scheme's aggregate equals the exact sum (or mean) of the updates
within the scheme's stated tolerance (robust rules: their own numpy definition).

Flower (case ``secagg via flower``, with the ``flower`` extra): the same SecAgg round
through Flower's Message API (``SecureAggregation(FedAvg, SecAgg)`` with ``privkit_mod``
on the clients) over an in-process Grid (:mod:`benchmarks.suites._flower_grid`: no
SuperLink, Ray or network), against the local path (``privkit-local``: run_local) and
Flower's own FedAvg round on the same grid (``flower-fedavg``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from benchmarks.core import Case, Check, Job, Suite
from privkit.aggregation import Plain, Scheme, run_local
from privkit.aggregation.api import ClientId
from privkit.aggregation.local import LocalResult
from privkit.secagg import SecAgg

__all__ = ["SUITE", "E2ESuite"]

F64 = npt.NDArray[np.float64]

#: (clients, parameters) of the full and the quick run.
SIZES = {False: (10, 100_000), True: (5, 5_000)}
#: Paillier's parameters per client (full, quick): its round is ~100x slower per value.
PAILLIER_LENGTH = {False: 20_000, True: 2_000}
#: Timed rounds of the slow cases in full mode.
SLOW_REPEATS = {"paillier": 2, "ckks": 3, "bfv": 3}
SEED = 7

SCHEMES = ("plain", "secagg", "secagg+", "ckks", "bfv", "paillier")
FLOWER_CASE = "secagg via flower"
ROBUST = ("median", "trimmed-mean", "krum")


def _he(name: str) -> Any:
    """The privkit.he class ``name``, or None without the ``he`` extra."""
    try:
        return getattr(importlib.import_module("privkit.he"), name)
    except ImportError:
        return None


def _flower_available() -> bool:
    try:
        importlib.import_module("flwr.serverapp")
        importlib.import_module("privkit.integrations.flower")
    except ImportError:
        return False
    return True


def _robust() -> Any:
    """privkit.aggregation.robust, or None when it is not there."""
    try:
        return importlib.import_module("privkit.aggregation.robust")
    except ImportError:
        return None


class E2ESuite(Suite):
    """One aggregation round per scheme (run_local) vs plain FedAvg (numpy mean)."""

    name: ClassVar[str] = "e2e"
    description: ClassVar[str] = (
        "one aggregation round per scheme (10 clients x 100k parameters, in-process "
        "sessions) vs plain FedAvg's numpy mean"
    )
    unit: ClassVar[str] = "parameter"
    implementations: ClassVar[tuple[str, ...]] = (
        "privkit",
        "fedavg",
        "privkit-local",
        "flower-fedavg",
    )
    anchors: ClassVar[Mapping[str, str]] = {
        "fedavg": "plain FedAvg aggregation: numpy mean of the updates, no protection",
        "privkit-local": "flower case: the same SecAgg round through run_local",
        "flower-fedavg": "flower case: Flower's FedAvg round on the same in-process grid",
    }
    repeats: ClassVar[int] = 5
    quick_repeats: ClassVar[int] = 2

    def __init__(self) -> None:
        """Create the suite; schemes are built per case in :meth:`setup`."""
        self._quick = False
        self._info: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ cases

    def _available(self) -> list[str]:
        names = [s for s in SCHEMES if s in ("plain", "secagg", "secagg+") or _he("CKKS")]
        if _robust() is not None:
            names.extend(ROBUST)
        if _flower_available():
            names.append(FLOWER_CASE)
        return names

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """One case per available scheme.

        Args:
            quick: 5 clients x 5,000 parameters instead of 10 x 100,000.

        Returns:
            The cases, named after the schemes.
        """
        self._quick = quick
        clients, length = SIZES[quick]
        out = []
        for scheme in self._available():
            n = PAILLIER_LENGTH[quick] if scheme == "paillier" else length
            repeats = None if quick else SLOW_REPEATS.get(scheme)
            out.append(
                Case(
                    scheme,
                    work=float(clients * n),
                    params={"scheme": scheme, "clients": clients, "length": n},
                    repeats=repeats,
                )
            )
        return out

    # ------------------------------------------------------------------ schemes

    def _scheme(self, name: str, clients: int) -> tuple[Scheme, Callable[[F64], F64] | None]:
        """The scheme of a case, and the robust rule's numpy reference (else None)."""
        if name == "plain":
            return Plain(), None
        if name == "secagg":
            return SecAgg(threshold=0.6, max_clients=max(clients, 2)), None
        if name == "secagg+":
            return SecAgg(threshold=0.6, neighbours=4, max_clients=max(clients, 2)), None
        if name in ("ckks", "bfv", "paillier"):
            cls = _he({"ckks": "CKKS", "bfv": "BFV", "paillier": "Paillier"}[name])
            kwargs: dict[str, Any] = {"max_clients": 16}
            if name == "paillier" and self._quick:
                # quick mode only: 1024-bit keys are not secure
                kwargs.update(n_length=1024, allow_insecure=True)
            return cls.generate(**kwargs), None
        robust = _robust()
        if name == "median":
            return robust.RobustAggregation(robust.Median()), lambda x: np.median(x, axis=0)
        if name == "trimmed-mean":
            return robust.RobustAggregation(robust.TrimmedMean(fraction=0.2)), None
        return robust.RobustAggregation(robust.Krum(f=1)), None

    @staticmethod
    def _updates(clients: int, length: int) -> dict[ClientId, F64]:
        rng = np.random.default_rng(SEED)
        return {cid: np.clip(rng.normal(0.0, 0.1, length), -1.0, 1.0) for cid in range(clients)}

    def setup(self, case: Case) -> Mapping[str, Job]:
        """Build the scheme (keys included) and the updates of ``case`` (untimed).

        Args:
            case: a case from :meth:`cases`.

        Returns:
            ``privkit``: one run_local round; ``fedavg``: the numpy mean.
        """
        name = str(case.params["scheme"])
        clients, length = int(case.params["clients"]), int(case.params["length"])
        if name == FLOWER_CASE:
            return self._flower_jobs(case, clients, length)
        scheme, _ = self._scheme(name, clients)
        updates = self._updates(clients, length)
        stacked = np.stack(list(updates.values()))
        last: list[LocalResult] = []

        def privkit_round() -> object:
            result = run_local(scheme, updates)
            if not last:
                last.append(result)  # the warm-up round's costs go into the info
            return result

        def fedavg() -> object:
            return stacked.mean(axis=0)

        def info() -> dict[str, Any]:
            if not last:
                return {}
            r = last[0]
            return {
                "bytes_up_per_client": r.bytes_up / clients,
                "bytes_down_per_client": r.bytes_down / clients,
                "bytes_up_per_parameter": r.bytes_up / (clients * max(length, 1)),
                "exchanges": [
                    {
                        "index": e.index,
                        "server_s": e.server_seconds,
                        "clients_s": e.client_seconds,
                        "bytes_up": e.bytes_up,
                        "bytes_down": e.bytes_down,
                    }
                    for e in r.exchanges
                ],
                "server_s": r.server_seconds,
                "client_s_per_client": r.client_seconds / clients,
            }

        self._info[case.name] = {"_collect": info}
        return {"privkit": privkit_round, "fedavg": fedavg}

    def _flower_jobs(self, case: Case, clients: int, length: int) -> Mapping[str, Job]:
        """The Flower path, the local path and Flower's FedAvg on the same updates."""
        from benchmarks.suites import _flower_grid

        _flower_grid.set_task_identity()
        scheme, _ = self._scheme("secagg", clients)
        updates = self._updates(clients, length)
        as32 = [updates[c].astype(np.float32) for c in range(clients)]
        stacked = np.stack(as32)
        self._info[case.name] = {
            "_collect": lambda: {
                "grid": "in-process (benchmarks.suites._flower_grid): no SuperLink, Ray or network",
                "strategy": "SecureAggregation(FedAvg(fraction_train=1.0), SecAgg(threshold=0.6))",
            }
        }
        return {
            "privkit": _flower_grid.flower_round(as32, scheme),
            "privkit-local": lambda: run_local(scheme, updates),
            "flower-fedavg": _flower_grid.flower_round(as32, None),
            "fedavg": lambda: stacked.mean(axis=0),
        }

    def case_info(self, case: Case) -> Mapping[str, Any]:
        """Bytes per client and seconds per exchange of the warm-up round."""
        entry = self._info.pop(case.name, {})
        collect = entry.get("_collect")
        return collect() if callable(collect) else {}

    # ------------------------------------------------------------------ checks

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Every scheme's aggregate is right within its tolerance (small sizes).

        Args:
            quick: unused (the checks always run at small sizes).

        Returns:
            One check per available scheme.
        """
        out = []
        clients, length = 5, 1_000
        saved = self._quick
        self._quick = True  # small keys for the HE checks
        try:
            for name in self._available():
                if name == FLOWER_CASE:
                    continue  # checked below
                scheme, reference = self._scheme(name, clients)
                updates = self._updates(clients, length)
                stacked = np.stack([updates[c] for c in range(clients)])
                result = run_local(scheme, updates)
                if reference is not None:
                    expected = reference(stacked)
                    tol = 1e-9
                elif name in ROBUST:
                    expected, tol = None, 0.0
                else:
                    exact = stacked.sum(axis=0)
                    expected = exact / clients if scheme.mean else exact
                    tol = scheme.tolerance(n_summands=clients, bound=1.0)
                if expected is None:
                    # trimmed mean / Krum: finite and within the updates' range
                    ok = bool(
                        np.all(np.isfinite(result.aggregate))
                        and np.all(result.aggregate <= stacked.max(axis=0) + 1e-12)
                        and np.all(result.aggregate >= stacked.min(axis=0) - 1e-12)
                    )
                    err = 0.0
                else:
                    err = float(np.max(np.abs(result.aggregate - expected)))
                    ok = err <= tol
                out.append(
                    Check(
                        f"aggregate_{name}",
                        ok,
                        {"clients": clients, "length": length, "max_error": err, "tol": tol},
                    )
                )
        finally:
            self._quick = saved
        if _flower_available():
            from benchmarks.suites import _flower_grid

            _flower_grid.set_task_identity()
            updates = self._updates(clients, length)
            as32 = [updates[c].astype(np.float32) for c in range(clients)]
            scheme, _ = self._scheme("secagg", clients)
            got = _flower_grid.flower_round(as32, scheme)()
            plain = _flower_grid.flower_round(as32, None)()
            err = float(np.max(np.abs(got.astype(np.float64) - plain.astype(np.float64))))
            out.append(
                Check(
                    "aggregate_secagg_via_flower_equals_fedavg",
                    err <= 1e-4,
                    {"clients": clients, "length": length, "max_error": err, "tol": 1e-4},
                )
            )
        return out

    def info(self) -> Mapping[str, Any]:
        """Suite parameters recorded in the JSON."""
        clients, length = SIZES[self._quick]
        return {
            "clients": clients,
            "parameters": length,
            "paillier_parameters": PAILLIER_LENGTH[self._quick],
            "transport": "in-process (run_local): messages encoded and decoded, no network",
            "ratio": "fedavg median / privkit median: below 1, the price of the scheme",
            "flower": f"case {FLOWER_CASE!r}: Message API over an in-process grid",
        }


SUITE = E2ESuite()
