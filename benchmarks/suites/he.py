"""HE aggregation: privkit's CKKS, BFV and packed Paillier against raw TenSEAL and phe.

Cases (full sizes; ``--quick`` shrinks them, see :meth:`HESuite.cases`); every
case is one whole round of c clients with n float64 values each, end to end:
every client encrypts and serializes its upload, the server deserializes and
adds the uploads and serializes the sum, one key holder decrypts it.

* ``paillier 10x100k``: privkit's packed Paillier (2048-bit n) against phe,
  one value per ciphertext.  phe takes hours for the whole round, so
  ``phe-sample`` times the same round on a sample of each client's first
  values; the case's ``info`` extrapolates it linearly to the case size, and
  the speed target's ``min_ratio`` is scaled by the sample fraction (see
  :data:`PHE_SAMPLE`).
* ``ckks 10x100k``, ``ckks 10x1M``: privkit's CKKS against raw TenSEAL CKKS
  with its common default parameters (N = 8192, [60, 40, 40, 60], 2^40).
* ``bfv 10x100k``: privkit's BFV against raw TenSEAL BFV (N = 8192, plain
  modulus 1032193).

privkit's sessions are one-shot, so its jobs are :class:`OneShot` (fresh
sessions per call, keys generated once per case, untimed).  The warm-up call
of every job is measured for peak memory and its result compared with the
exact sum; upload bytes per value come from one client's upload.  Until
``privkit.he.CKKS`` / ``BFV`` / ``Paillier`` import, their rows are left out
(``reference_required = False``) and the anchors still run.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from benchmarks.core import Case, Check, Job, OneShot, Suite, SuiteUnavailableError, Target
from benchmarks.suites._memory import probe_jobs

__all__ = ["SUITE", "HESuite"]

F64 = npt.NDArray[np.float64]
Inspect = Callable[[object], None]

CLIENTS_FULL = 10
CLIENTS_QUICK = 3
N_QUICK = 2_000
#: phe values per client timed in the ``phe-sample`` row (full, quick).
PHE_SAMPLE = {False: 50, True: 5}
#: Paillier modulus bits (full, quick); quick mode's 1024 bits are insecure.
PAILLIER_BITS = {False: 2048, True: 1024}
#: The issue's goals.
PAILLIER_SPEEDUP = 100.0
PAILLIER_UPLOAD_RATIO = 100.0
CKKS_BYTES_RATIO = 0.5
CKKS_TIME_SLACK = 1.1
#: Values per client for the upload-size checks (a few ciphertexts of each scheme).
CHECK_N = 16_384
#: Rounds per case in full mode (one call is seconds to a minute).
FULL_REPEATS = {"paillier": 2, "ckks-100k": 3, "ckks-1M": 2, "bfv": 3}

#: Case scheme -> privkit.he class name.
_SCHEMES = {"ckks": "CKKS", "bfv": "BFV", "paillier": "Paillier"}


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k"


def _case_name(scheme: str, clients: int, n: int) -> str:
    return f"{scheme} {clients}x{_label(n)}"


def _full_cases() -> list[tuple[str, int, int, int]]:
    """(scheme, clients, n, repeats) of the full run."""
    return [
        ("paillier", CLIENTS_FULL, 100_000, FULL_REPEATS["paillier"]),
        ("ckks", CLIENTS_FULL, 100_000, FULL_REPEATS["ckks-100k"]),
        ("ckks", CLIENTS_FULL, 1_000_000, FULL_REPEATS["ckks-1M"]),
        ("bfv", CLIENTS_FULL, 100_000, FULL_REPEATS["bfv"]),
    ]


def _paillier_min_ratio(sample: int, n: int) -> float:
    """Raw ``phe-sample / privkit`` ratio equivalent to ``PAILLIER_SPEEDUP`` end to end.

    phe's round is linear in n (c·n encryptions, (c-1)·n additions, n
    decryptions), so its extrapolated time is ``sample time x n / sample`` and
    ``extrapolated / privkit >= 100`` is ``sample time / privkit >= 100 x
    sample / n``.
    """
    return PAILLIER_SPEEDUP * sample / n


def _updates(ids: Sequence[int], n: int, seed: int) -> dict[int, F64]:
    """Test updates in [-1, 1) (not secrets; numpy's generator is fine)."""
    rng = np.random.default_rng(seed)
    return {cid: rng.uniform(-1.0, 1.0, size=n) for cid in ids}


def _self_timed(fn: Callable[[], object], sink: list[float]) -> Callable[[], object]:
    """Wrap ``fn`` so that each call appends its own duration to ``sink``.

    Used in the Paillier case only, to extrapolate phe's median in
    :meth:`HESuite.case_info` (the runner's times are not visible to a suite);
    the wrapper adds two clock reads to a call of seconds.
    """

    def run() -> object:
        start = time.perf_counter()
        result = fn()
        sink.append(time.perf_counter() - start)
        return result

    return run


def _generate(cls: Any, **kwargs: Any) -> Any:
    """``cls.generate(**kwargs)`` asking for one decryptor; without it if refused."""
    try:
        return cls.generate(decryptors=1, **kwargs)
    except TypeError:
        return cls.generate(**kwargs)


def _privkit_round(keys: Any, updates: Mapping[int, F64], n: int) -> OneShot:
    """One privkit HE round: fresh sessions per call (untimed), the round timed."""
    server_scheme = keys.public()
    ids = list(updates)

    def prepare() -> Callable[[], object]:
        server = server_scheme.server(client_ids=ids, length=n)
        clients = {cid: keys.client(client_id=cid, update=updates[cid]) for cid in ids}

        def run() -> object:
            out = server.start()
            while not server.done:
                replies = {}
                for cid, message in out.items():
                    reply = clients[cid].handle(message)
                    if reply is not None:
                        replies[cid] = reply
                out = server.step(replies)
            return server.result()

        return run

    return OneShot(prepare)


def _upload_bytes(keys: Any, vector: F64) -> int:
    """Bytes of one client's privkit upload (its ciphertext chunks)."""
    return sum(len(chunk) for chunk in keys.encrypt(vector))


class HESuite(Suite):
    """One HE aggregation round: privkit's CKKS, BFV, Paillier against TenSEAL and phe."""

    name = "he"
    description = (
        "HE aggregation round (encrypt, add, decrypt): privkit CKKS/BFV/Paillier vs "
        "raw TenSEAL defaults and phe"
    )
    unit = "round"
    reference = "privkit"
    implementations = ("privkit", "tenseal-default", "phe-sample")
    anchors: ClassVar[Mapping[str, str]] = {
        "tenseal-default": (
            "raw TenSEAL doing the round's work: CKKS N=8192, coeff [60,40,40,60], scale 2^40 "
            "(ckks cases) or BFV N=8192, plain modulus 1032193, floats x 2^12 (bfv case); "
            "public-key encryption, one vector per 4096 (CKKS) / 8192 (BFV) values, "
            "serialize, server deserializes + adds + serializes the sum, key holder decrypts"
        ),
        "phe-sample": (
            "phe 1.5 (gmpy2), one value per ciphertext, the same round on a SAMPLE of each "
            "client's first values (info.phe.sample_per_client), NOT the case size: its time "
            "is the sample's; info.phe.extrapolated_s scales it linearly to the case size and "
            "the target's min_ratio is scaled by sample / n"
        ),
    }
    targets = (
        Target(
            vs="phe-sample",
            case=_case_name("paillier", CLIENTS_FULL, 100_000),
            min_ratio=_paillier_min_ratio(PHE_SAMPLE[False], 100_000),
        ),
        Target(
            vs="tenseal-default",
            case=_case_name("ckks", CLIENTS_FULL, 1_000_000),
            min_ratio=1 / CKKS_TIME_SLACK,
        ),
        Target(
            vs="tenseal-default",
            case=_case_name("ckks", CLIENTS_FULL, 100_000),
            min_ratio=1 / CKKS_TIME_SLACK,
        ),
    )
    repeats = 3
    quick_repeats = 3
    reference_required = False

    def __init__(self) -> None:
        """Create the suite; nothing is imported until :meth:`prepare`."""
        self._ts: Any = None
        self._phe: Any = None
        self._anchors: Any = None
        self._schemes: dict[str, Any] = {}
        self._missing: dict[str, str] = {}
        self._quick = False
        self._info: dict[str, dict[str, Any]] = {}
        self._tenseal_contexts: dict[str, tuple[Any, Any]] = {}
        self._self_times: dict[str, dict[str, list[float]]] = {}

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Import TenSEAL and phe (required) and privkit's HE schemes (each optional).

        Raises:
            SuiteUnavailableError: tenseal or phe (the ``he`` extra) cannot be imported.
        """
        anchors = importlib.import_module("benchmarks.suites._he_anchors")
        try:
            self._ts = anchors.load("tenseal")
            self._phe = anchors.load("phe")
        except ImportError as exc:
            raise SuiteUnavailableError(
                f"the HE anchors cannot be imported ({type(exc).__name__}: {exc}); "
                "install them: pip install 'privkit[he]'"
            ) from exc
        self._anchors = anchors
        self._missing = {}
        self._schemes = {}
        for scheme in _SCHEMES.values():
            cls = self._optional_scheme(scheme)
            if cls is not None:
                self._schemes[scheme] = cls
        for scheme, why in self._missing.items():
            print(
                f"he: privkit.he.{scheme} cannot be imported ({why}); its rows are left out",
                file=sys.stderr,
            )

    def _optional_scheme(self, scheme: str) -> Any:
        """``privkit.he.<scheme>`` if it imports; else note why and return None."""
        try:
            module = importlib.import_module("privkit.he")
        except Exception as exc:  # ImportError, or a native extension's own check
            self._missing[scheme] = f"{type(exc).__name__}: {exc}"
            return None
        cls = getattr(module, scheme, None)
        if cls is None or not hasattr(cls, "generate"):
            self._missing[scheme] = f"privkit.he has no {scheme} with generate()"
            return None
        return cls

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """The rounds (quick: 3 clients x 2,000 values, 1024-bit Paillier).

        Args:
            quick: smoke-test sizes.

        Returns:
            ``paillier CxN``, ``ckks CxN`` (two sizes in full mode), ``bfv CxN``.
        """
        self._quick = quick
        rows = (
            [(s, CLIENTS_QUICK, N_QUICK, None) for s in ("paillier", "ckks", "bfv")]
            if quick
            else _full_cases()
        )
        out: list[Case] = []
        for scheme, clients, n, repeats in rows:
            params: dict[str, Any] = {
                "scheme": scheme,
                "clients": clients,
                "n": n,
                "values": clients * n,
                "dtype": "float64",
            }
            if scheme == "paillier":
                params["n_length"] = PAILLIER_BITS[quick]
                params["phe_sample_per_client"] = PHE_SAMPLE[quick]
            out.append(Case(_case_name(scheme, clients, n), 1.0, params, repeats))
        return out

    def _tenseal(self, kind: str) -> tuple[Any, Any]:
        """The raw TenSEAL contexts of ``kind`` ("ckks" or "bfv"), made once."""
        if kind not in self._tenseal_contexts:
            make = (
                self._anchors.tenseal_ckks_context
                if kind == "ckks"
                else self._anchors.tenseal_bfv_context
            )
            self._tenseal_contexts[kind] = make(self._ts)
        return self._tenseal_contexts[kind]

    def _keys(self, scheme: str, *, n_length: int | None = None) -> Any:
        """Key-holder privkit scheme for ``scheme`` (ckks, bfv, paillier), or None.

        Paillier gets the mode's modulus size unless ``n_length`` is given.
        """
        cls = self._schemes.get(_SCHEMES[scheme])
        if cls is None:
            return None
        if scheme != "paillier":
            return _generate(cls)
        bits = PAILLIER_BITS[self._quick] if n_length is None else n_length
        kwargs: dict[str, Any] = {
            "n_length": bits,
            "max_clients": CLIENTS_QUICK if self._quick else CLIENTS_FULL,
            "clip": 1.0,
        }
        if bits < PAILLIER_BITS[False]:
            kwargs["allow_insecure"] = True
        return _generate(cls, **kwargs)

    def setup(self, case: Case) -> Mapping[str, Job]:
        """Build the inputs and keys of ``case`` (untimed) and one job per implementation.

        Args:
            case: a case from :meth:`cases`.

        Returns:
            Implementation name -> job (privkit's is a :class:`OneShot`).
        """
        scheme = str(case.params["scheme"])
        clients, n = int(case.params["clients"]), int(case.params["n"])
        updates = _updates(range(clients), n, seed=clients * 1_000_003 + n)
        exact = np.sum(np.stack(list(updates.values())), axis=0)
        info: dict[str, Any] = {"peak_memory_bytes": {}, "max_abs_error": {}}
        self._info[case.name] = info
        jobs: dict[str, Job] = {}
        inspect: dict[str, Inspect] = {}

        def error_against(target: F64, name: str) -> Inspect:
            def check(result: object) -> None:
                got = np.asarray(result, dtype=np.float64).reshape(-1)
                info["max_abs_error"][name] = (
                    float(np.max(np.abs(got - target))) if got.shape == target.shape else None
                )

            return check

        times: dict[str, list[float]] = {"privkit": [], "phe-sample": []}
        keys = self._keys(scheme)
        if keys is not None:
            round_job = _privkit_round(keys, updates, n)
            if scheme == "paillier":
                jobs["privkit"] = OneShot(
                    lambda: _self_timed(round_job.prepare(), times["privkit"])
                )
            else:
                jobs["privkit"] = round_job
            inspect["privkit"] = error_against(exact, "privkit")
            info["privkit_upload_bytes_per_value"] = _upload_bytes(keys, updates[0]) / n
            info["privkit_decryptors"] = getattr(keys, "_decryptors", None)
        else:
            info["privkit_not_run"] = self._missing.get(_SCHEMES[scheme], "unavailable")

        an = self._anchors
        if scheme in ("ckks", "bfv"):
            contexts = self._tenseal(scheme)
            job = (an.ckks_job if scheme == "ckks" else an.bfv_job)(self._ts, contexts, updates)
            jobs["tenseal-default"] = job
            inspect["tenseal-default"] = error_against(exact, "tenseal-default")
            info["tenseal_upload_bytes_per_value"] = (
                an.tenseal_upload_bytes(self._ts, contexts, updates[0], bfv=scheme == "bfv") / n
            )
        else:
            sample = min(int(case.params["phe_sample_per_client"]), n)
            phe_keys = an.phe_keys(self._phe, int(case.params["n_length"]))
            samples = {cid: u[:sample].tolist() for cid, u in updates.items()}
            jobs["phe-sample"] = _self_timed(an.phe_job(phe_keys, samples), times["phe-sample"])
            self._self_times[case.name] = times
            inspect["phe-sample"] = error_against(exact[:sample], "phe-sample")
            info["phe"] = {
                "sample_per_client": sample,
                "n_length": phe_keys.n_length,
                "upload_bytes_per_value": an.phe_bytes_per_value(phe_keys),
                "extrapolation": f"linear: sample time x {n} / {sample}",
                "label": f"phe (extrapolated from {sample} values per client)",
            }
            if self._quick:
                info["insecure_quick_keys"] = (
                    f"{phe_keys.n_length}-bit Paillier moduli (quick mode only; full runs use "
                    f"{PAILLIER_BITS[False]})"
                )
        return probe_jobs(jobs, info, inspect)

    # ------------------------------------------------------------------ checks

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Upload-size goals: Paillier >= 100x smaller than phe, CKKS <= 0.5x TenSEAL.

        Only for the privkit schemes that import (a missing one is noted in
        ``suite_info.unavailable``, not failed).

        Both at full security (2048-bit Paillier for privkit and phe, in
        quick mode too: packing density depends on the modulus size).

        Args:
            quick: quick mode (same checks).

        Returns:
            ``paillier_upload_vs_phe`` and ``ckks_upload_vs_tenseal`` where runnable.
        """
        self._quick = quick
        vector = _updates([0], CHECK_N, seed=7)[0]
        out: list[Check] = []
        an = self._anchors
        bits = PAILLIER_BITS[False]  # the goal is at 2048 bits, in quick mode too
        keys = self._keys("paillier", n_length=bits)
        if keys is not None:
            phe_bpv = an.phe_bytes_per_value(an.phe_keys(self._phe, bits))
            privkit_bpv = _upload_bytes(keys, vector) / CHECK_N
            ratio = phe_bpv / privkit_bpv
            out.append(
                Check(
                    "paillier_upload_vs_phe",
                    ratio >= PAILLIER_UPLOAD_RATIO,
                    {
                        "n": CHECK_N,
                        "n_length": bits,
                        "phe_bytes_per_value": phe_bpv,
                        "privkit_bytes_per_value": privkit_bpv,
                        "ratio": ratio,
                        "min_ratio": PAILLIER_UPLOAD_RATIO,
                    },
                )
            )
        keys = self._keys("ckks")
        if keys is not None:
            raw = an.tenseal_upload_bytes(self._ts, self._tenseal("ckks"), vector, bfv=False)
            tenseal_bpv = raw / CHECK_N
            privkit_bpv = _upload_bytes(keys, vector) / CHECK_N
            ratio = privkit_bpv / tenseal_bpv
            out.append(
                Check(
                    "ckks_upload_vs_tenseal",
                    ratio <= CKKS_BYTES_RATIO,
                    {
                        "n": CHECK_N,
                        "tenseal_bytes_per_value": tenseal_bpv,
                        "privkit_bytes_per_value": privkit_bpv,
                        "ratio": ratio,
                        "max_ratio": CKKS_BYTES_RATIO,
                    },
                )
            )
        return out

    # ------------------------------------------------------------------ results

    def case_info(self, case: Case) -> Mapping[str, Any]:
        """Memory, errors, upload sizes and (Paillier) phe's extrapolation for ``case``."""
        info = self._info.pop(case.name, {})
        times = self._self_times.pop(case.name, None)
        if times is not None and "phe" in info:
            n, sample = int(case.params["n"]), int(info["phe"]["sample_per_client"])
            timed = {k: v[1:] for k, v in times.items()}  # the first call is the warm-up
            if timed["phe-sample"]:
                sample_s = statistics.median(timed["phe-sample"])
                extrapolated = sample_s * n / sample
                info["phe"]["sample_median_s"] = sample_s
                info["phe"]["extrapolated_s"] = extrapolated
                if timed["privkit"]:
                    privkit_s = statistics.median(timed["privkit"])
                    info["phe"]["privkit_median_s"] = privkit_s
                    info["phe"]["speedup_vs_extrapolated"] = extrapolated / privkit_s
                privkit_bpv = info.get("privkit_upload_bytes_per_value")
                if privkit_bpv:
                    info["phe"]["upload_ratio"] = (
                        info["phe"]["upload_bytes_per_value"] / privkit_bpv
                    )
        return info

    def info(self) -> Mapping[str, Any]:
        """Suite parameters recorded in the JSON."""
        return {
            "tenseal": getattr(self._ts, "__version__", None),
            "phe": getattr(self._phe, "__version__", None),
            "clients": CLIENTS_QUICK if self._quick else CLIENTS_FULL,
            "updates": "float64 uniform in [-1, 1), seeded per case; the same for every row",
            "round": (
                "each client encrypts + serializes its update, the server deserializes + adds "
                "+ serializes the sum, one key holder decrypts; privkit through its sessions "
                "(server from keys.public(), clients from the key holder, decryptors=1)"
            ),
            "paillier_n_length": PAILLIER_BITS[self._quick],
            "phe_sample_per_client": PHE_SAMPLE[self._quick],
            "paillier_target": (
                f"privkit >= {PAILLIER_SPEEDUP:g}x phe end to end, checked on the raw "
                "phe-sample / privkit ratio with min_ratio = 100 x sample / n"
            ),
            "unit": "round (work = 1; the phe-sample row's round is its sample)",
            "unavailable": dict(self._missing),
        }


SUITE = HESuite()
