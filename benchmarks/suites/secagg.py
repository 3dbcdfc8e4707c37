"""SecAgg / SecAgg+: privkit's protocol against Flower's own SecAgg+ functions, same process.

Cases (full sizes; ``--quick`` shrinks them, see :meth:`SecAggSuite.cases`):

* ``client k=10``, ``client k=100``: one client's masking of a 1,000,000-parameter
  float32 update with k neighbours (k + 1 clients, complete graph).  privkit:
  the client session's ``handle()`` of its exchange-2 message, which returns
  the masked upload.  Flower: the body of its client mod's stage 2 from the
  quantization on (``flower-secaggplus``, pairwise seeds derived beforehand),
  and the mod's whole stage function ``_collect_masked_vectors``
  (``flower-secaggplus-stage2``: also decrypts the neighbours' shares and
  derives the pairwise seeds).  ``floor-mask-expansion``: privkit's ChaCha20
  kernel expanding k + 1 masks of n words into one accumulator, the least
  any masking can cost (``privkit.prg.mask_add``, one seed repeated).
* ``server k=10 c=100``, ``server complete c=100``: the server's unmasking for
  100 clients of which 10 dropped after sharing their keys (never uploaded),
  SecAgg+ with 10 neighbours (threshold 6 of 11) and the complete graph
  (threshold 51 of 100).  privkit: ``step()`` on the exchange-3 replies.
  Flower: its workflow's unmask stage once the shares are in (Shamir combine
  of every collected share list, mask regeneration, subtraction, dequantize).
* ``shamir split n=100``, ``shamir combine n=100``: one 32-byte secret split
  into 100 shares with threshold 51, and combined from 51 of them.

Every Flower step is a call of Flower's own function (see
:mod:`benchmarks.suites._secagg_flower`).  privkit's sessions are one-shot, so
the privkit jobs are :class:`~benchmarks.core.OneShot`: each call gets a fresh
round driven, untimed, up to the timed exchange.  The warm-up call of every
job is measured for peak memory and its result checked (upload size, error of
the aggregate); both land in the case's ``info``.

Until ``privkit.secagg`` / ``privkit.sharing.shamir`` import, their rows are
left out and the Flower anchors still run (``reference_required = False``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from benchmarks.core import Case, Check, Job, OneShot, Suite, SuiteUnavailableError, Target
from benchmarks.suites._memory import probe_jobs

__all__ = ["SUITE", "SecAggSuite"]

N_FULL = 1_000_000
N_QUICK = 1_000
CLIENT_KS_FULL = (10, 100)
CLIENT_KS_QUICK = (4,)
SERVER_CLIENTS_FULL = 100
SERVER_CLIENTS_QUICK = 10
SERVER_K_FULL = 10
SERVER_K_QUICK = 4
#: Rounds of the complete-graph server case in full mode (Flower takes minutes per call).
COMPLETE_REPEATS_FULL = 3
SHAMIR_PARTIES_FULL = 100
SHAMIR_PARTIES_QUICK = 10
SECRET_BYTES = 32

F32 = npt.NDArray[np.float32]
#: Looks at a job's warm-up result (upload size, error of the aggregate).
Inspect = Callable[[object], None]


def majority(count: int) -> int:
    """The threshold used throughout: a strict majority of the share holders."""
    return count // 2 + 1


def _dropped(clients: int) -> int:
    """Clients that drop out of a server case: 10%."""
    return max(1, clients // 10)


def _updates(ids: Sequence[int], n: int, seed: int) -> dict[int, F32]:
    """Test updates in [-1, 1) (not secrets; numpy's generator is fine)."""
    rng = np.random.default_rng(seed)
    return {cid: rng.uniform(-1.0, 1.0, size=n).astype(np.float32) for cid in ids}


# ----------------------------------------------------------------- privkit driving


def _drive(
    server: Any, clients: Mapping[int, Any], *, until: int, dropped: frozenset[int]
) -> dict[Any, bytes]:
    """Run a privkit round until the server expects the replies of exchange ``until``.

    Clients in ``dropped`` answer nothing from exchange 2 on (they never upload
    a masked input).

    Returns:
        The server's messages of exchange ``until``.
    """
    out: dict[Any, bytes] = server.start()
    while server.exchange < until:
        exchange = server.exchange
        replies: dict[Any, bytes] = {}
        for cid, message in out.items():
            if exchange >= 2 and cid in dropped:
                continue
            reply = clients[cid].handle(message)
            if reply is not None:
                replies[cid] = reply
        out = server.step(replies)
        if server.done:
            raise RuntimeError(f"the round ended at exchange {exchange}, before {until}")
    return out


class SecAggSuite(Suite):
    """SecAgg client masking, server unmasking and Shamir: privkit against Flower's SecAgg+."""

    name = "secagg"
    description = (
        "SecAgg(+): client masking, server unmasking under dropouts, Shamir; "
        "privkit vs Flower's own SecAgg+ functions"
    )
    unit = "op"
    reference = "privkit"
    implementations = (
        "privkit",
        "flower-secaggplus",
        "flower-secaggplus-stage2",
        "floor-mask-expansion",
    )
    anchors: ClassVar[Mapping[str, str]] = {
        "flower-secaggplus": (
            "Flower 1.41's own SecAgg+ functions called as its client mod / server workflow "
            "call them: client = quantize, self mask, k pairwise masks (pseudo_rand_gen, "
            "MT19937), mod, ndarray_to_bytes (pairwise seeds derived untimed); server = "
            "combine_shares of every collected share list, mask regeneration, subtraction, "
            "dequantize; shamir = create_shares / combine_shares"
        ),
        "flower-secaggplus-stage2": (
            "client cases: Flower's whole client stage 2, secaggplus_mod._collect_masked_"
            "vectors (also decrypts the neighbours' shares, derives the k pairwise seeds by "
            "ECDH P-384 + HKDF, deserialises the update)"
        ),
        "floor-mask-expansion": (
            "not an anchor: privkit.prg.mask_add expanding k + 1 masks (one seed repeated) of "
            "n uint32 words into one accumulator, default threads: the floor of client masking"
        ),
    }
    targets = (
        Target(vs="flower-secaggplus", case="client k=100", min_ratio=6.0),
        Target(vs="floor-mask-expansion", case="client k=100", min_ratio=1 / 1.3),
        Target(vs="flower-secaggplus", case="server k=10 c=100", min_ratio=10.0),
        Target(vs="flower-secaggplus", case="server complete c=100", min_ratio=50.0),
    )
    repeats = 9
    quick_repeats = 3
    reference_required = False

    def __init__(self) -> None:
        """Create the suite; nothing is imported until :meth:`prepare`."""
        self._flower: Any = None
        self._secagg: Any = None
        self._shamir: Any = None
        self._prg: Any = None
        self._missing: dict[str, str] = {}
        self._quick = False
        self._info: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Import Flower (required) and privkit's SecAgg, Shamir and PRG (each optional).

        Raises:
            SuiteUnavailableError: flwr (the ``flower`` extra) cannot be imported.
        """
        try:
            self._flower = importlib.import_module("benchmarks.suites._secagg_flower")
        except ImportError as exc:
            raise SuiteUnavailableError(
                f"Flower's SecAgg+ cannot be imported ({type(exc).__name__}: {exc}); "
                "install the anchor: pip install 'privkit[flower]'"
            ) from exc
        self._missing = {}
        self._secagg = self._optional("privkit.secagg", "SecAgg")
        self._shamir = self._optional("privkit.sharing.shamir", "split")
        self._prg = self._optional("privkit.prg", "mask_add")
        for module, why in self._missing.items():
            print(
                f"secagg: {module} cannot be imported ({why}); its rows are left out",
                file=sys.stderr,
            )

    def _optional(self, module: str, attribute: str) -> Any:
        """Import ``module`` if it has ``attribute``; else note why not and return None."""
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # ImportError, or a native extension's own import check
            self._missing[module] = f"{type(exc).__name__}: {exc}"
            return None
        if not hasattr(mod, attribute):
            self._missing[module] = f"it has no {attribute}"
            return None
        return mod

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """The client, server and Shamir cases (quick: n = 1,000, 10 clients, 10 parties).

        Args:
            quick: smoke-test sizes.

        Returns:
            ``client k=K``, ``server k=K c=C``, ``server complete c=C``,
            ``shamir split n=P``, ``shamir combine n=P``.
        """
        self._quick = quick
        n = N_QUICK if quick else N_FULL
        out: list[Case] = []
        for k in CLIENT_KS_QUICK if quick else CLIENT_KS_FULL:
            out.append(
                Case(
                    f"client k={k}",
                    work=1.0,
                    params={
                        "kind": "client",
                        "n": n,
                        "k": k,
                        "clients": k + 1,
                        "threshold": majority(k + 1),
                        "dtype": "float32",
                    },
                )
            )
        c = SERVER_CLIENTS_QUICK if quick else SERVER_CLIENTS_FULL
        k = SERVER_K_QUICK if quick else SERVER_K_FULL
        base = {"kind": "server", "n": n, "clients": c, "dropped": _dropped(c)}
        out.append(
            Case(
                f"server k={k} c={c}",
                work=1.0,
                params={**base, "k": k, "threshold": majority(k + 1)},
            )
        )
        out.append(
            Case(
                f"server complete c={c}",
                work=1.0,
                params={**base, "k": None, "threshold": majority(c)},
                repeats=None if quick else COMPLETE_REPEATS_FULL,
            )
        )
        parties = SHAMIR_PARTIES_QUICK if quick else SHAMIR_PARTIES_FULL
        for op in ("split", "combine"):
            out.append(
                Case(
                    f"shamir {op} n={parties}",
                    work=1.0,
                    params={
                        "kind": f"shamir-{op}",
                        "parties": parties,
                        "threshold": majority(parties),
                        "secret_bytes": SECRET_BYTES,
                    },
                )
            )
        return out

    def setup(self, case: Case) -> Mapping[str, Job]:
        """Build the inputs of ``case`` (untimed) and one job per available implementation.

        Args:
            case: a case from :meth:`cases`.

        Returns:
            Implementation name -> job; privkit's are :class:`OneShot` for the
            protocol cases.
        """
        info: dict[str, Any] = {"peak_memory_bytes": {}}
        self._info[case.name] = info
        inspect: dict[str, Inspect] = {}
        kind = case.params["kind"]
        if kind == "client":
            jobs = self._setup_client(case, info, inspect)
        elif kind == "server":
            jobs = self._setup_server(case, info, inspect)
        else:
            jobs = self._setup_shamir(case, info)
        return probe_jobs(jobs, info, inspect)

    # ---------------------------------------------------------- client masking

    def _setup_client(
        self, case: Case, info: dict[str, Any], inspect: dict[str, Inspect]
    ) -> dict[str, Job]:
        """Client masking: privkit's exchange-2 ``handle()``, Flower's stage 2, the floor."""
        fl = self._flower
        n = int(case.params["n"])
        k = int(case.params["k"])
        t = int(case.params["threshold"])
        ids = list(range(1, k + 2))
        me = ids[len(ids) // 2]
        update = _updates([me], n, seed=k)[me]
        uploads: dict[str, float] = {}
        info["upload_bytes_per_parameter"] = uploads
        jobs: dict[str, Job] = {}

        if self._secagg is not None:
            scheme = self._secagg.SecAgg(threshold=t, neighbours=None)
            updates = _updates([i for i in ids if i != me], n, seed=k + 1)
            updates[me] = update

            def prepare_privkit() -> Callable[[], object]:
                server = scheme.server(client_ids=ids, length=n)
                clients = {cid: scheme.client(client_id=cid, update=updates[cid]) for cid in ids}
                out = _drive(server, clients, until=2, dropped=frozenset())
                client, message = clients[me], out[me]
                return lambda: client.handle(message)

            jobs["privkit"] = OneShot(prepare_privkit)
            info["privkit_scheme"] = {"threshold": t, "neighbours": None, "clients": k + 1}

        fx = fl.make_mask_fixture(update, k, threshold=t)
        jobs["flower-secaggplus"] = lambda: fl.mask_update(fx)
        jobs["flower-secaggplus-stage2"] = lambda: fl.collect_masked_vectors(fx)

        if self._prg is not None:
            mask_add = self._prg.mask_add
            acc = np.zeros(n, dtype=np.uint32)
            seeds = os.urandom(32) * (k + 1)
            signs = np.ones(k + 1, dtype=np.int8)

            def run_floor() -> object:
                mask_add(acc, seeds, signs)
                return acc

            jobs["floor-mask-expansion"] = run_floor

        def upload_size(name: str) -> Inspect:
            def look(result: object) -> None:
                if isinstance(result, bytes):  # privkit: the encoded reply
                    uploads[name] = len(result) / n
                else:  # Flower: the serialised arrays of the ConfigRecord
                    uploads[name] = fl.upload_bytes(result) / n

            return look

        for name in ("privkit", "flower-secaggplus", "flower-secaggplus-stage2"):
            inspect[name] = upload_size(name)
        return jobs

    # -------------------------------------------------------- server unmasking

    def _setup_server(
        self, case: Case, info: dict[str, Any], inspect: dict[str, Inspect]
    ) -> dict[str, Job]:
        """Server unmasking: privkit's exchange-3 ``step()`` and Flower's unmask stage."""
        fl = self._flower
        n = int(case.params["n"])
        c = int(case.params["clients"])
        dropped = int(case.params["dropped"])
        k = case.params["k"]
        t = int(case.params["threshold"])
        errors: dict[str, float | None] = {}
        info["max_abs_error"] = errors
        jobs: dict[str, Job] = {}

        fx = fl.make_unmask_fixture(
            n=n, clients=c, neighbours=k, dropped=dropped, threshold=t, seed=case.name
        )
        info["flower"] = dict(fl.as_mapping(fx))
        info["flower_tolerance"] = fl.tolerance(fx.params)

        def look_flower(result: object) -> None:
            errors["flower-secaggplus"] = fl.max_error(result, fx.expected)

        jobs["flower-secaggplus"] = lambda: fl.unmask(fx)
        inspect["flower-secaggplus"] = look_flower

        if self._secagg is not None:
            scheme = self._secagg.SecAgg(threshold=t, neighbours=k)
            ids = list(range(1, c + 1))
            gone = frozenset(sorted(fx.dead))  # the same clients drop as in Flower's round
            updates = _updates(ids, n, seed=c + (k or 0))
            expected = np.zeros(n, dtype=np.float64)
            for cid in ids:
                if cid not in gone:
                    expected += updates[cid]
            tolerance = float(scheme.tolerance(n_summands=c - len(gone), bound=1.0))
            info["privkit_tolerance"] = tolerance

            def prepare_privkit() -> Callable[[], object]:
                server = scheme.server(client_ids=ids, length=n)
                clients = {cid: scheme.client(client_id=cid, update=updates[cid]) for cid in ids}
                out = _drive(server, clients, until=3, dropped=gone)
                replies = {
                    cid: clients[cid].handle(message)
                    for cid, message in out.items()
                    if cid not in gone
                }
                del clients, out

                def run() -> object:
                    server.step(replies)
                    return server

                return run

            def look_privkit(result: object) -> None:
                server = cast(Any, result)
                if not server.done:
                    errors["privkit"] = None
                    return
                total = np.asarray(server.result(), dtype=np.float64)
                errors["privkit"] = float(np.max(np.abs(total - expected)))

            jobs["privkit"] = OneShot(prepare_privkit)
            inspect["privkit"] = look_privkit
            info["privkit_scheme"] = {"threshold": t, "neighbours": k, "clients": c}
        return jobs

    # ------------------------------------------------------------------ Shamir

    def _setup_shamir(self, case: Case, info: dict[str, Any]) -> dict[str, Job]:
        """Shamir split or combine of one 32-byte secret among ``parties``."""
        fl = self._flower
        parties = int(case.params["parties"])
        t = int(case.params["threshold"])
        secret = os.urandom(SECRET_BYTES)
        split = case.params["kind"] == "shamir-split"
        jobs: dict[str, Job] = {}
        if split:
            jobs["flower-secaggplus"] = lambda: fl.shamir_split(secret, t, parties)
        else:
            flower_shares = fl.shamir_split(secret, t, parties)[:t]
            jobs["flower-secaggplus"] = lambda: fl.shamir_combine(flower_shares)
        if self._shamir is not None:
            shamir = self._shamir
            if split:
                jobs["privkit"] = lambda: shamir.split(secret, threshold=t, n=parties)
            else:
                privkit_shares = shamir.split(secret, threshold=t, n=parties)[:t]
                jobs["privkit"] = lambda: shamir.combine(privkit_shares)
        info["shares_combined" if not split else "shares_made"] = t if not split else parties
        return jobs

    # ------------------------------------------------------------------ checks

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Untimed cross-checks of the Flower glue and of privkit, at small sizes.

        Args:
            quick: unused (the checks are small in both modes).

        Returns:
            ``flower_mask_glue_equals_mod`` (the masking glue's upload equals
            the mod's ``_collect_masked_vectors`` byte for byte, same
            stochastic-rounding seed), ``flower_round_end_to_end`` (a round
            through Flower's own client-stage functions, 2 of 10 clients
            dropped, ring k=4 and complete graph, unmasked by the glue: the
            mean within one quantization step), ``flower_unmask_fixture``
            (the server fixture builder's round unmasks to the mean),
            ``flower_shamir_roundtrip``; with privkit: ``privkit_secagg_sum``,
            ``privkit_upload_bytes_per_parameter`` (<= 4 bytes per parameter,
            the growth of the exchange-2 reply per added parameter) and
            ``privkit_shamir_roundtrip``.
        """
        fl = self._flower
        out: list[Check] = []
        n = 1_000
        update = _updates([1], n, seed=7)[1]
        fx = fl.make_mask_fixture(update, 4)
        np.random.seed(12345)  # Flower's stochastic rounding draws from numpy's global RNG
        glue = fl.mask_update(fx)
        np.random.seed(12345)
        mod = fl.collect_masked_vectors(fx)
        out.append(
            Check(
                "flower_mask_glue_equals_mod",
                glue == mod,
                {"n": n, "k": 4, "upload_bytes": fl.upload_bytes(glue)},
            )
        )

        errors: dict[str, float] = {}
        for label, k in (("ring k=4", 4), ("complete", None)):
            net = fl.make_network(n=n, clients=10, neighbours=k, seed=f"check/{label}")
            round_fx, _ = fl.network_round(net, dropped=[3, 7])
            errors[label] = fl.max_error(fl.unmask(round_fx), round_fx.expected)
        tol = fl.tolerance(fl.FlowerParams())
        out.append(
            Check(
                "flower_round_end_to_end",
                all(e <= tol for e in errors.values()),
                {"n": n, "clients": 10, "dropped": 2, "max_abs_error": errors, "tolerance": tol},
            )
        )

        fixture_errors: dict[str, float] = {}
        for label, k in (("ring k=4", 4), ("complete", None)):
            ufx = fl.make_unmask_fixture(
                n=n, clients=10, neighbours=k, dropped=2, seed=f"check/{label}"
            )
            fixture_errors[label] = fl.max_error(fl.unmask(ufx), ufx.expected)
        out.append(
            Check(
                "flower_unmask_fixture",
                all(e <= tol for e in fixture_errors.values()),
                {"n": n, "clients": 10, "dropped": 2, "max_abs_error": fixture_errors},
            )
        )

        parties = SHAMIR_PARTIES_QUICK if quick else SHAMIR_PARTIES_FULL
        t = majority(parties)
        secret = os.urandom(SECRET_BYTES)
        shares = fl.shamir_split(secret, t, parties)
        out.append(
            Check(
                "flower_shamir_roundtrip",
                fl.shamir_combine(shares[-t:]) == secret,
                {"parties": parties, "threshold": t},
            )
        )

        if self._secagg is not None:
            out += self._privkit_secagg_checks()
        if self._shamir is not None:
            shamir = self._shamir
            pk_shares = shamir.split(secret, threshold=t, n=parties)
            out.append(
                Check(
                    "privkit_shamir_roundtrip",
                    shamir.combine(pk_shares[-t:]) == secret
                    and shamir.combine(pk_shares[:t]) == secret,
                    {"parties": parties, "threshold": t},
                )
            )
        return out

    def _privkit_secagg_checks(self) -> list[Check]:
        """privkit's SecAgg sums under dropouts, and its upload per parameter."""
        secagg = self._secagg
        local = importlib.import_module("privkit.aggregation")
        out: list[Check] = []
        n = 1_000
        ids = list(range(1, 11))
        updates = _updates(ids, n, seed=11)
        detail: dict[str, Any] = {"n": n, "clients": 10, "dropped_at_exchange_2": [3, 7]}
        ok = True
        for label, k in (("ring k=4", 4), ("complete", None)):
            scheme = secagg.SecAgg(threshold=majority((k or 9) + 1), neighbours=k)
            res = local.run_local(scheme, updates, dropouts={2: [3, 7]})
            want = sum(np.asarray(updates[i], dtype=np.float64) for i in res.survivors)
            err = float(np.max(np.abs(np.asarray(res.aggregate) - want)))
            tol = float(scheme.tolerance(n_summands=len(res.survivors), bound=1.0))
            detail[label] = {
                "max_abs_error": err,
                "tolerance": tol,
                "survivors": len(res.survivors),
            }
            ok = ok and err <= tol and len(res.survivors) == 8
        out.append(Check("privkit_secagg_sum", ok, detail))

        sizes: dict[int, int] = {}
        for length in (1_000, 1_000 + (1 << 16)):
            scheme = secagg.SecAgg(threshold=2, neighbours=None)
            three = [1, 2, 3]
            server = scheme.server(client_ids=three, length=length)
            ups = _updates(three, length, seed=length)
            clients = {cid: scheme.client(client_id=cid, update=ups[cid]) for cid in three}
            msgs = _drive(server, clients, until=2, dropped=frozenset())
            sizes[length] = len(clients[1].handle(msgs[1]))
        (n1, s1), (n2, s2) = sorted(sizes.items())
        per_param = (s2 - s1) / (n2 - n1)
        out.append(
            Check(
                "privkit_upload_bytes_per_parameter",
                per_param <= 4.0,
                {
                    "bytes_per_added_parameter": per_param,
                    "upload_bytes": {str(k): v for k, v in sizes.items()},
                    "limit": 4.0,
                },
            )
        )
        return out

    # -------------------------------------------------------------------- JSON

    def case_info(self, case: Case) -> Mapping[str, Any]:
        """Memory and sizes measured in the case's warm-up calls, and Flower's counts."""
        return self._info.pop(case.name, {})

    def info(self) -> Mapping[str, Any]:
        """Suite parameters recorded in the JSON."""
        fl = self._flower
        params = fl.FlowerParams() if fl is not None else None
        return {
            "flwr": fl.flower_version() if fl is not None else None,
            "n": N_QUICK if self._quick else N_FULL,
            "threshold_rule": "strict majority of the share holders: holders // 2 + 1",
            "dropouts": (
                "10% of the clients (seeded sample) drop after sharing their keys: they never "
                "upload a masked input; the same clients in privkit's and Flower's rounds"
            ),
            "flower_settings": (
                {
                    "clipping_range": params.clipping_range,
                    "quantization_range": params.quantization_range,
                    "modulus_range": params.modulus_range,
                    "max_weight": params.max_weight,
                    "num_examples": params.num_examples,
                }
                if params is not None
                else None
            ),
            "privkit_settings": "SecAgg defaults (clip=1.0, bits=32, unauthenticated)",
            "complete_graph_repeats": None if self._quick else COMPLETE_REPEATS_FULL,
            "memory": (
                "peak RSS growth (VmHWM reset via /proc/self/clear_refs, after gc and "
                "malloc_trim) during each job's untimed warm-up call"
            ),
            "unavailable": dict(self._missing),
        }


SUITE = SecAggSuite()
