"""Suite ``zk``: Pedersen commitments and multi-scalar multiplication on ristretto255.

privkit's C Pippenger (:mod:`privkit.zk.pedersen`, :func:`privkit.zk.group.msm`) against
the way a Python user would do the same job with libsodium today: a term-by-term loop
through ``rbcl`` (libsodium's ``crypto_scalarmult_ristretto255`` per term, then
``crypto_core_ristretto255_add`` into the running sum; both work on 32-byte encodings, so
every call decodes its inputs and encodes its output).

Cases (``--quick``: ``pedersen n=10^3`` and ``msm full n=2^10``):

* ``pedersen n=10^4``, ``n=10^5``, ``n=10^6``: a commitment to n int16 values (seeded
  numpy draw, uniform over the whole int16 range) plus a blinding.  ``privkit`` is
  ``pedersen.commit(values, blinding, generators=gens)``: the small-scalar MSM over the
  cached, decoded generators plus the constant-time ``r * H``.  The generators
  (``Generators.derive(n)``, hash-to-group) are derived in ``setup``, untimed; the seconds
  it took are in the case's ``info``.
* ``msm full n=2^16``, ``n=2^20``: ``msm(scalars, points)`` with uniformly random full
  scalars and random points (``PointArray.from_uniform_bytes`` of random bytes), both made
  untimed in ``setup``.

**The anchor is extrapolated.**  The libsodium loop costs ~55 µs per term, about a minute
for 10^6 terms, so the ``libsodium-loop-sample`` row times the same loop on a **sample**:
the first ``k`` terms (:data:`SAMPLE`, 2,000; plus the blinding term in the Pedersen
cases), on the same generators / points and values.  The loop is linear in the number of
terms, so the case's ``info.libsodium`` extrapolates it: ``extrapolated_s = sample median x
terms / sample terms`` (label ``libsodium-loop (extrapolated from 2000 terms)``), with
``speedup_vs_extrapolated`` = extrapolated / privkit median.  The speed target is checked on
the raw ``libsodium-loop-sample / privkit`` ratio with ``min_ratio`` scaled by the same
fraction (as the ``he`` suite does for phe).  The scalars' and points' 32-byte encodings the
loop needs are made untimed, so the anchor is charged only for libsodium's calls and the
Python loop around them.

Checks (untimed, before the timing): privkit's commitment to 200 values (edge values
included) equals the libsodium loop's; privkit's MSM of 200 full scalars (0, 1, l - 1,
2^252 included) over 200 points (a repeat and a negation included) equals both
libsodium's and privkit's own sum of constant-time scalar multiplications.  Full runs add
two **absolute** checks, labelled so: privkit's 10^6-value commitment in <= 1 s and its
full-scalar MSM at 2^20 in <= 6 µs per point, each the median of three timed calls on one
core (privkit's MSM is single-threaded).
"""

from __future__ import annotations

import gc
import importlib
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from benchmarks.core import Case, Check, Job, Suite, SuiteUnavailableError, Target

__all__ = ["SUITE", "ZKSuite"]

#: Terms of the libsodium loop timed per call (full, quick); the rest is extrapolated.
SAMPLE = {False: 2_000, True: 250}
#: Pedersen vector lengths (full, quick).
PEDERSEN_N = {False: (10_000, 100_000, 1_000_000), True: (1_000,)}
#: MSM sizes as powers of two (full, quick).
MSM_LOG2 = {False: (16, 20), True: (10,)}
#: The issue's goals: privkit >= 80x the libsodium loop at 10^6 values; absolute limits.
PEDERSEN_SPEEDUP = 80.0
PEDERSEN_TARGET_N = 1_000_000
PEDERSEN_LIMIT_S = 1.0
MSM_TARGET_LOG2 = 20
MSM_LIMIT_US = 6.0
#: Calls timed by each absolute check (the median is compared with the limit).
ABSOLUTE_RUNS = 3
#: Size of the correctness cross-checks.
CHECK_N = 200
#: Rounds per case in full mode where one call is expensive.
FULL_REPEATS = {"msm full n=2^20": 3}
SEED = 20_261_122

_ANCHOR = "libsodium-loop-sample"
_I16 = npt.NDArray[np.int16]


def _pow10(n: int) -> str:
    exp = len(str(n)) - 1
    return f"10^{exp}" if n == 10**exp else str(n)


def pedersen_case_name(n: int) -> str:
    """``"pedersen n=10^6"`` for ``n = 10**6``."""
    return f"pedersen n={_pow10(n)}"


def msm_case_name(log2: int) -> str:
    """``"msm full n=2^20"`` for ``log2 = 20``."""
    return f"msm full n=2^{log2}"


def pedersen_min_ratio(sample: int, n: int) -> float:
    """Raw ``sample / privkit`` ratio equivalent to ``PEDERSEN_SPEEDUP`` on the whole loop.

    The whole loop has ``n + 1`` terms (the blinding is one more scalar multiplication
    and addition), the sample ``sample + 1``; ``extrapolated / privkit >= 80`` is
    ``sample time / privkit >= 80 x (sample + 1) / (n + 1)``.
    """
    return PEDERSEN_SPEEDUP * (sample + 1) / (n + 1)


def _int16_values(n: int, seed: int) -> _I16:
    """n int16 values uniform over the whole int16 range (test data, not secrets)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-(2**15), 2**15, size=n, dtype=np.int16)


def _self_timed(fn: Callable[[], object], sink: list[float]) -> Callable[[], object]:
    """Wrap ``fn`` so that each call appends its own duration to ``sink``.

    The runner's times are not visible to a suite; :meth:`ZKSuite.case_info` needs the
    medians to extrapolate.  Two clock reads on a call of milliseconds.
    """

    def run() -> object:
        start = time.perf_counter()
        result = fn()
        sink.append(time.perf_counter() - start)
        return result

    return run


def _median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    """Median and raw seconds of ``runs`` calls of ``fn``, the garbage collector paused."""
    times: list[float] = []
    for _ in range(runs):
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            if gc_was_enabled:
                gc.enable()
    return statistics.median(times), times


def libsodium_loop(
    sodium: Any, scalars: Sequence[bytes], points: Sequence[bytes]
) -> Callable[[], bytes]:
    """The anchor: ``sum(s_i * P_i)`` term by term through libsodium's byte API.

    Args:
        sodium: the ``rbcl`` module.
        scalars: canonical 32-byte scalars (at least one).
        points: 32-byte ristretto255 encodings, as many as ``scalars``.

    Returns:
        A job returning the encoded sum.  Zero scalars use the ``allow_scalar_zero``
        variant (libsodium's plain one refuses to return the identity).
    """
    mul = sodium.crypto_scalarmult_ristretto255_allow_scalar_zero
    add = sodium.crypto_core_ristretto255_add
    pairs = list(zip(scalars, points, strict=True))
    if not pairs:
        raise ValueError("the libsodium loop needs at least one term")
    first, rest = pairs[0], pairs[1:]

    def run() -> bytes:
        acc: bytes = mul(*first)
        for s, p in rest:
            acc = add(acc, mul(s, p))
        return acc

    return run


class ZKSuite(Suite):
    """Pedersen commitments and full-scalar MSM: privkit's Pippenger vs a libsodium loop."""

    name = "zk"
    description = (
        "ristretto255 Pedersen commitment to n int16 values + blinding, and full-scalar MSM: "
        "privkit (C Pippenger) vs a term-by-term libsodium loop (rbcl), extrapolated from a sample"
    )
    unit = "op"
    reference = "privkit"
    implementations = ("privkit", _ANCHOR)
    anchors: ClassVar[Mapping[str, str]] = {
        _ANCHOR: (
            "libsodium (rbcl) term by term: crypto_scalarmult_ristretto255 of each encoded "
            "point by its scalar, crypto_core_ristretto255_add into the running sum (byte API: "
            "each call decodes and encodes), on a SAMPLE of the first info.libsodium."
            "sample_terms terms (plus the blinding term in pedersen cases), NOT the case size: "
            "its time is the sample's; info.libsodium.extrapolated_s scales it linearly to the "
            "case and the target's min_ratio is scaled by the same fraction"
        ),
    }
    targets = (
        Target(
            vs=_ANCHOR,
            case=pedersen_case_name(PEDERSEN_TARGET_N),
            min_ratio=pedersen_min_ratio(SAMPLE[False], PEDERSEN_TARGET_N),
        ),
    )
    repeats = 7
    quick_repeats = 3

    def __init__(self) -> None:
        """Create the suite; privkit.zk and rbcl are imported in :meth:`prepare`."""
        self._sodium: Any = None
        self._group: Any = None
        self._pedersen: Any = None
        self._quick = False
        self._info: dict[str, dict[str, Any]] = {}
        self._times: dict[str, dict[str, list[float]]] = {}
        self._msm_inputs: dict[int, tuple[list[Any], Any, float]] = {}
        self._generator_seconds: dict[int, float] = {}

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Import privkit.zk and rbcl (libsodium's ristretto255).

        Raises:
            SuiteUnavailableError: privkit.zk.pedersen or rbcl cannot be imported.
        """
        try:
            self._group = importlib.import_module("privkit.zk.group")
            self._pedersen = importlib.import_module("privkit.zk.pedersen")
        except Exception as exc:  # ImportError, or the native extension's own check
            raise SuiteUnavailableError(
                f"privkit.zk cannot be imported ({type(exc).__name__}: {exc})"
            ) from exc
        try:
            self._sodium = importlib.import_module("rbcl")
        except ImportError as exc:
            raise SuiteUnavailableError(
                f"rbcl (libsodium's ristretto255, the anchor) cannot be imported ({exc}); "
                "install it: pip install rbcl"
            ) from exc

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """Pedersen commitments, then full-scalar MSMs.

        Args:
            quick: ``pedersen n=10^3`` and ``msm full n=2^10`` only.

        Returns:
            The cases, each one commitment or one MSM per call (work = 1).
        """
        self._quick = quick
        sample = SAMPLE[quick]
        out: list[Case] = []
        for n in PEDERSEN_N[quick]:
            params = {"kind": "pedersen", "n": n, "dtype": "int16", "sample_terms": min(sample, n)}
            out.append(Case(pedersen_case_name(n), 1.0, params))
        for log2 in MSM_LOG2[quick]:
            n = 1 << log2
            name = msm_case_name(log2)
            params = {"kind": "msm", "n": n, "scalars": "full", "sample_terms": min(sample, n)}
            out.append(Case(name, 1.0, params, None if quick else FULL_REPEATS.get(name)))
        return out

    def _generators(self, n: int) -> Any:
        """``Generators.derive(n)`` (cached by privkit), the first derivation's time noted."""
        start = time.perf_counter()
        gens = self._pedersen.Generators.derive(n)
        self._generator_seconds.setdefault(n, time.perf_counter() - start)
        return gens

    def _msm_data(self, n: int) -> tuple[list[Any], Any, float]:
        """(scalars, prepared points, seconds to make them) for an MSM of size n, cached.

        Scalars: 64 random bytes each reduced mod l (uniform).  Points: the one-way map of
        64 random bytes each, in one C call.  Seeded, so a run is reproducible.
        """
        if n not in self._msm_inputs:
            start = time.perf_counter()
            rng = np.random.default_rng(SEED + n)
            raw = rng.bytes(64 * n)
            reduce = self._group.Scalar.reduce_bytes
            scalars = [reduce(raw[i : i + 64]) for i in range(0, 64 * n, 64)]
            points = self._group.PointArray.from_uniform_bytes(rng.bytes(64 * n))
            self._msm_inputs[n] = (scalars, points, time.perf_counter() - start)
        return self._msm_inputs[n]

    def setup(self, case: Case) -> Mapping[str, Job]:
        """Make the inputs of ``case`` (untimed) and the two jobs.

        Args:
            case: a case from :meth:`cases`.

        Returns:
            ``privkit`` and ``libsodium-loop-sample`` (both self-timed for
            :meth:`case_info`).
        """
        n, k = int(case.params["n"]), int(case.params["sample_terms"])
        times: dict[str, list[float]] = {"privkit": [], _ANCHOR: []}
        self._times[case.name] = times
        info: dict[str, Any] = {}
        self._info[case.name] = info
        if case.params["kind"] == "pedersen":
            privkit_job, anchor_job = self._pedersen_jobs(n, k, info)
            terms, sample_terms = n + 1, k + 1
            what = f"{k} value terms + the blinding term"
        else:
            privkit_job, anchor_job = self._msm_jobs(n, k, info)
            terms, sample_terms = n, k
            what = f"{k} terms"
        info["libsodium"] = {
            "sample_terms": k,
            "label": (
                f"libsodium-loop (extrapolated from {k} terms)"
                if k < n
                else f"libsodium-loop (all {k} terms, not extrapolated)"
            ),
            "method": (
                f"the loop over the first {what} is timed; linear extrapolation: sample "
                f"median x {terms} / {sample_terms} terms"
            ),
        }
        return {
            "privkit": _self_timed(privkit_job, times["privkit"]),
            _ANCHOR: _self_timed(anchor_job, times[_ANCHOR]),
        }

    def _pedersen_jobs(
        self, n: int, k: int, info: dict[str, Any]
    ) -> tuple[Callable[[], object], Callable[[], object]]:
        gens = self._generators(n)
        values = _int16_values(n, SEED + n)
        blinding = self._group.Scalar.random()
        commit = self._pedersen.commit

        def privkit_job() -> object:
            return commit(values, blinding, generators=gens)

        order = self._group.ORDER
        scalars = [blinding.to_bytes()] + [
            (int(v) % order).to_bytes(32, "little") for v in values[:k].tolist()
        ]
        points = [gens.h.to_bytes()] + [gens.point(i).to_bytes() for i in range(k)]
        info["setup"] = (
            "untimed: values (numpy int16, seeded), blinding (Scalar.random), generators "
            "(Generators.derive(n): hash-to-group, decoded into a PointArray; cached), and the "
            "anchor's 32-byte encodings of the sample's scalars and generators"
        )
        info["generators_derive_s"] = self._generator_seconds.get(n)
        info["privkit_call"] = "pedersen.commit(values, blinding, generators=gens)"
        return privkit_job, libsodium_loop(self._sodium, scalars, points)

    def _msm_jobs(
        self, n: int, k: int, info: dict[str, Any]
    ) -> tuple[Callable[[], object], Callable[[], object]]:
        scalars, points, made_s = self._msm_data(n)
        self._msm_inputs.pop(n, None)  # the jobs hold them now; freed after the case
        msm = self._group.msm

        def privkit_job() -> object:
            return msm(scalars, points)

        sample_scalars = [s.to_bytes() for s in scalars[:k]]
        sample_points = [points[i].to_bytes() for i in range(k)]
        info["setup"] = (
            "untimed: n uniform scalars (64 random bytes reduced mod l) and n points (the "
            "one-way map of 64 random bytes each, PointArray.from_uniform_bytes), seeded, "
            "and the anchor's 32-byte encodings of the sample"
        )
        info["inputs_s"] = made_s
        info["privkit_call"] = "msm(scalars, points) with a list of Scalars and a PointArray"
        return privkit_job, libsodium_loop(self._sodium, sample_scalars, sample_points)

    # ------------------------------------------------------------------ checks

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Commitment and MSM equal libsodium's on 200 terms; full runs: the absolute limits.

        Args:
            quick: leave out the absolute checks (they need the full sizes).

        Returns:
            ``pedersen_equals_libsodium_loop``, ``msm_equals_sum_of_scalar_mults`` and,
            in full runs, ``pedersen_commit_10^6_le_1s (absolute, one core)`` and
            ``msm_full_2^20_le_6us_per_point (absolute, one core)``.
        """
        self._quick = quick
        out = [self._pedersen_check(), self._msm_check()]
        if not quick:
            out.extend(self._absolute_checks())
        return out

    def _pedersen_check(self) -> Check:
        edges = np.array([0, 1, -1, 2**15 - 1, -(2**15)], dtype=np.int16)
        values = np.concatenate([edges, _int16_values(CHECK_N - edges.size, SEED)])
        gens = self._pedersen.Generators.derive(CHECK_N)
        blinding = self._group.Scalar.random()
        commitment, _ = self._pedersen.commit(values, blinding, generators=gens)
        order = self._group.ORDER
        scalars = [blinding.to_bytes()] + [
            (v % order).to_bytes(32, "little") for v in values.tolist()
        ]
        points = [gens.h.to_bytes()] + [gens.point(i).to_bytes() for i in range(CHECK_N)]
        expected = libsodium_loop(self._sodium, scalars, points)()
        got = commitment.to_bytes()
        return Check(
            "pedersen_equals_libsodium_loop",
            got == expected,
            {"n": CHECK_N, "dtype": "int16", "edge_values": edges.tolist(), "blinding": True},
        )

    def _msm_check(self) -> Check:
        group = self._group
        scalar, point = group.Scalar, group.Point
        rng = np.random.default_rng(SEED)
        edge_ints = [0, 1, group.ORDER - 1, 2**252]
        scalars = [scalar.from_int(v) for v in edge_ints] + [
            scalar.reduce_bytes(rng.bytes(64)) for _ in range(CHECK_N - len(edge_ints))
        ]
        pts = [point.from_uniform_bytes(rng.bytes(64)) for _ in range(CHECK_N - 2)]
        pts += [pts[0], -pts[1]]  # a repeat and a negation
        got = group.msm(scalars, group.PointArray(pts)).to_bytes()
        sodium = libsodium_loop(
            self._sodium, [s.to_bytes() for s in scalars], [p.to_bytes() for p in pts]
        )()
        own = point.identity()
        for s, p in zip(scalars, pts, strict=True):
            own = own + s * p
        return Check(
            "msm_equals_sum_of_scalar_mults",
            got == sodium == own.to_bytes(),
            {
                "n": CHECK_N,
                "equals_libsodium": got == sodium,
                "equals_privkit_scalar_mults": got == own.to_bytes(),
                "edge_scalars": ["0", "1", "l-1", "2^252"],
                "edge_points": ["repeat of P_0", "-P_1"],
            },
        )

    def _absolute_checks(self) -> list[Check]:
        n = PEDERSEN_TARGET_N
        gens = self._generators(n)
        values = _int16_values(n, SEED + n)
        blinding = self._group.Scalar.random()
        commit = self._pedersen.commit
        median, times = _median_time(
            lambda: commit(values, blinding, generators=gens), ABSOLUTE_RUNS
        )
        out = [
            Check(
                f"pedersen_commit_{_pow10(n)}_le_{PEDERSEN_LIMIT_S:g}s (absolute, one core)",
                median <= PEDERSEN_LIMIT_S,
                {
                    "n": n,
                    "dtype": "int16",
                    "median_s": median,
                    "times_s": times,
                    "limit_s": PEDERSEN_LIMIT_S,
                    "call": "pedersen.commit(values, blinding, generators=gens), gens derived",
                },
            )
        ]
        m = 1 << MSM_TARGET_LOG2
        scalars, points, _ = self._msm_data(m)
        msm = self._group.msm
        median, times = _median_time(lambda: msm(scalars, points), ABSOLUTE_RUNS)
        per_point_us = median / m * 1e6
        out.append(
            Check(
                f"msm_full_2^{MSM_TARGET_LOG2}_le_{MSM_LIMIT_US:g}us_per_point "
                "(absolute, one core)",
                per_point_us <= MSM_LIMIT_US,
                {
                    "n": m,
                    "median_s": median,
                    "times_s": times,
                    "us_per_point": per_point_us,
                    "limit_us_per_point": MSM_LIMIT_US,
                    "call": "msm(scalars, points), full uniform scalars, prepared PointArray",
                },
            )
        )
        return out

    # ------------------------------------------------------------------ results

    def case_info(self, case: Case) -> Mapping[str, Any]:
        """The libsodium loop's extrapolation and per-term times for ``case``."""
        info = self._info.pop(case.name, {})
        times = self._times.pop(case.name, None)
        if times is None:
            return info
        n, k = int(case.params["n"]), int(case.params["sample_terms"])
        pedersen = case.params["kind"] == "pedersen"
        terms, sample_terms = (n + 1, k + 1) if pedersen else (n, k)
        timed = {name: t[1:] for name, t in times.items()}  # the first call is the warm-up
        lib = info.setdefault("libsodium", {})
        if timed["privkit"]:
            privkit_s = statistics.median(timed["privkit"])
            info["privkit_median_s"] = privkit_s
            info["privkit_us_per_term"] = privkit_s / n * 1e6
        if timed[_ANCHOR]:
            sample_s = statistics.median(timed[_ANCHOR])
            lib["sample_median_s"] = sample_s
            lib["us_per_term"] = sample_s / sample_terms * 1e6
            lib["extrapolated_s"] = sample_s * terms / sample_terms
            if timed["privkit"]:
                lib["speedup_vs_extrapolated"] = lib["extrapolated_s"] / info["privkit_median_s"]
        return info

    def info(self) -> Mapping[str, Any]:
        """Suite parameters recorded in the JSON."""
        quick = self._quick
        return {
            "rbcl": _version("rbcl"),
            "sample_terms": SAMPLE[quick],
            "values": "int16, numpy default_rng seeded per case, uniform over [-2^15, 2^15)",
            "blinding": "Scalar.random() per case; r * H constant time (never inside the MSM)",
            "msm_scalars": "uniform mod l (64 random bytes reduced), seeded",
            "msm_points": "PointArray.from_uniform_bytes of seeded random bytes",
            "pedersen_target": (
                f"privkit >= {PEDERSEN_SPEEDUP:g}x the whole libsodium loop at "
                f"{pedersen_case_name(PEDERSEN_TARGET_N)}, checked on the raw sample / privkit "
                "ratio with min_ratio = 80 x (sample + 1) / (n + 1)"
            ),
            "absolute_checks": (
                "quick runs leave them out"
                if quick
                else f"median of {ABSOLUTE_RUNS} calls each, timed inside checks(), one core"
            ),
            "threads": "privkit's MSM is single-threaded; the libsodium loop too",
            "unit": "op: one commitment or one MSM (the anchor row's op is its sample)",
        }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


SUITE = ZKSuite()
