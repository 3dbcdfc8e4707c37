"""The suite interface and the measurement loop.

A suite names a *reference* implementation (privkit) and its *anchors* (the
established ways to do the same job), and a list of cases (sizes).  For each
case :func:`run_suite` asks the suite for one zero-argument callable per
implementation, all prepared outside the timed region, then:

1. calls each once, untimed (warm-up: imports, page faults, caches, JIT-free
   but allocator-warm);
2. runs ``repeats`` rounds; in each round every implementation runs once, in a
   fresh order (a seeded shuffle, so runs are reproducible), so that slow drifts
   of a shared, noisy machine (frequency scaling, neighbours) hit every
   implementation alike, none always runs first, and none always runs right
   after the same neighbour (a plain rotation keeps that adjacency fixed, and
   an anchor that churns memory or idles the other cores would then always
   precede the same implementation);
3. records every raw time (``timer()`` after minus before, garbage collector
   paused around the call, as :mod:`timeit` does) and summarises them by
   median, minimum and interquartile range.

The speed-up of privkit over an anchor is ``anchor median / privkit median``:
above 1 privkit is faster.  Targets (``privkit >= 1.5x anchor at case``) are
evaluated from those ratios; they are reported, never raised.

Two kinds of job: a plain zero-argument callable, called again and again, or a
:class:`OneShot` for work whose inputs one call uses up (a protocol session):
its ``prepare()`` runs untimed before every call and returns the callable to
time.  A case may set its own number of rounds (:attr:`Case.repeats`) when one
call is expensive.
"""

from __future__ import annotations

import abc
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "SCHEMA_VERSION",
    "Case",
    "Check",
    "Job",
    "OneShot",
    "Suite",
    "SuiteUnavailableError",
    "Target",
    "TargetStatus",
    "evaluate_targets",
    "run_suite",
    "summarize",
]

#: Version of the JSON layout written by :func:`run_suite`; bumped on any change.
#: 2: every case records its ``repeats`` and an ``info`` mapping (:meth:`Suite.case_info`).
SCHEMA_VERSION = 2

Timer = Callable[[], float]
Log = Callable[[str], None]
TargetStatus = Literal["MET", "MISSED", "NOT RUN"]


class SuiteUnavailableError(RuntimeError):
    """A suite cannot run here (a dependency is missing or not built).

    Raised by :meth:`Suite.prepare`; the runner reports the suite as skipped
    with this message instead of failing.
    """


@dataclass(frozen=True)
class Case:
    """One problem size of a suite.

    Attributes:
        name: short label used in tables and targets, e.g. ``"k=100"``.
        work: units of work one call performs (e.g. mask words written), so
            that throughput is ``work / median seconds``.
        params: the parameters defining the case (JSON-serialisable).
        repeats: timed rounds for this case, or None for the suite's default;
            for a case whose calls are expensive.  An explicit ``repeats``
            given to :func:`run_suite` (``--repeats``) applies to every case.
    """

    name: str
    work: float
    params: Mapping[str, Any] = field(default_factory=dict)
    repeats: int | None = None


@dataclass(frozen=True)
class OneShot:
    """A job whose inputs one call uses up, such as a one-round protocol session.

    Before every call of the job (the warm-up included) the runner calls
    ``prepare()`` outside the timed region; it builds fresh inputs and returns
    the zero-argument callable that is then timed.  The runner drops its
    reference to a preparation right after the call, so preparations do not
    pile up in memory.

    Attributes:
        prepare: builds the inputs and returns the callable to time.
    """

    prepare: Callable[[], Callable[[], object]]


#: What :meth:`Suite.setup` returns per implementation.
Job = Callable[[], object] | OneShot


@dataclass(frozen=True)
class Target:
    """A speed goal: privkit is at least ``min_ratio`` times faster than ``vs``.

    Attributes:
        vs: the anchor implementation compared against.
        case: the case name at which the goal applies.
        min_ratio: the least acceptable ``vs median / privkit median``.
    """

    vs: str
    case: str
    min_ratio: float


@dataclass(frozen=True)
class Check:
    """The outcome of an untimed correctness cross-check.

    Attributes:
        name: what was checked, e.g. ``"multiset_vs_cryptography"``.
        passed: whether it held.
        detail: JSON-serialisable facts (sizes, what disagreed).
    """

    name: str
    passed: bool
    detail: Mapping[str, Any] = field(default_factory=dict)


class Suite(abc.ABC):
    """A benchmark: privkit and its anchors doing the same job, case by case.

    Subclasses set the class attributes and implement :meth:`cases` and
    :meth:`setup`; they may override :meth:`prepare`, :meth:`checks` and
    :meth:`info`.  A suite module must import nothing heavy or optional at
    module level (``--list`` imports every suite): do that in :meth:`prepare`.

    Attributes:
        name: registry name, also the stem of the output files.
        description: one line saying what is measured.
        unit: what one unit of :attr:`Case.work` is (``"word"``, ``"byte"``).
        reference: the implementation ratios are taken against.
        implementations: every implementation name, reference included, in the
            order tables and plots list them.
        anchors: anchor name -> one line saying what it is.
        targets: speed goals checked after the run.
        repeats: timed rounds per case by default.
        quick_repeats: timed rounds per case with ``--quick``.
        reference_required: whether every case must time the reference; a
            suite may set False so that its anchors still run (ratios and
            targets then read "not run") while the reference is being built.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    unit: ClassVar[str] = "op"
    reference: ClassVar[str] = "privkit"
    implementations: ClassVar[tuple[str, ...]]
    anchors: ClassVar[Mapping[str, str]] = {}
    targets: ClassVar[tuple[Target, ...]] = ()
    repeats: ClassVar[int] = 7
    quick_repeats: ClassVar[int] = 3
    reference_required: ClassVar[bool] = True

    def prepare(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Import dependencies and get ready to run.

        Raises:
            SuiteUnavailableError: something the suite needs is missing.
        """

    @abc.abstractmethod
    def cases(self, *, quick: bool) -> Sequence[Case]:
        """Return the cases to time.

        Args:
            quick: smoke-test sizes (the whole quick run takes seconds).

        Returns:
            The cases, in report order.
        """

    @abc.abstractmethod
    def setup(self, case: Case) -> Mapping[str, Job]:
        """Prepare inputs for ``case`` and return one timed job per implementation.

        Everything that is not the measured work (random inputs, buffers) is
        done here, untimed.  Each callable does the whole job once and may be
        called any number of times; a :class:`OneShot` gets fresh inputs from
        its ``prepare()`` before every call.

        Args:
            case: one of :meth:`cases`.

        Returns:
            Implementation name -> zero-argument callable or :class:`OneShot`;
            must include :attr:`reference` (unless :attr:`reference_required`
            is False).  An anchor that cannot run here may be left out.
        """

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Run untimed correctness cross-checks (default: none).

        Args:
            quick: use small sizes.

        Returns:
            One :class:`Check` per cross-check.
        """
        return ()

    def info(self) -> Mapping[str, Any]:
        """Return suite-specific facts for the JSON (default: none)."""
        return {}

    def case_info(self, case: Case) -> Mapping[str, Any]:
        """Return facts measured while ``case`` ran, for the JSON (default: none).

        Called once after the case's timed rounds, e.g. for memory or message
        sizes the jobs recorded; JSON-serialisable.

        Args:
            case: the case that just ran.

        Returns:
            The facts, stored as the case's ``info``.
        """
        return {}


def summarize(times: Sequence[float]) -> dict[str, float]:
    """Summarise raw times.

    Args:
        times: seconds per call, at least one.

    Returns:
        ``median_s``, ``min_s``, ``max_s``, ``mean_s``, ``q1_s``, ``q3_s`` and
        ``iqr_s`` (quartiles by the inclusive method; with one time they all
        equal it).

    Raises:
        ValueError: ``times`` is empty.
    """
    if not times:
        raise ValueError("cannot summarise an empty list of times")
    ordered = sorted(times)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median_s": statistics.median(ordered),
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "mean_s": statistics.fmean(ordered),
        "q1_s": q1,
        "q3_s": q3,
        "iqr_s": q3 - q1,
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    """Return ``numerator / denominator``, or None when undefined (JSON has no inf)."""
    if denominator <= 0.0:
        return None
    return numerator / denominator


def evaluate_targets(
    targets: Sequence[Target], cases: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Check speed targets against measured ratios.

    Args:
        targets: the suite's targets.
        cases: the ``"cases"`` list of a result (each with ``"case"`` and
            ``"results"``, each result with ``"implementation"`` and ``"ratio"``).

    Returns:
        One dict per target: ``vs``, ``case``, ``min_ratio``, the measured
        ``ratio`` (None when not run) and ``status``: ``"MET"``, ``"MISSED"``,
        or ``"NOT RUN"`` when the case or implementation was not measured
        (e.g. in quick mode).
    """
    ratios: dict[tuple[str, str], float | None] = {}
    for case in cases:
        for res in case["results"]:
            ratios[(case["case"], res["implementation"])] = res["ratio"]
    out: list[dict[str, Any]] = []
    for target in targets:
        ratio = ratios.get((target.case, target.vs))
        status: TargetStatus
        if ratio is None:
            status = "NOT RUN"
        elif ratio >= target.min_ratio:
            status = "MET"
        else:
            status = "MISSED"
        out.append(
            {
                "vs": target.vs,
                "case": target.case,
                "min_ratio": target.min_ratio,
                "ratio": ratio,
                "status": status,
            }
        )
    return out


def _time_once(fn: Callable[[], object], timer: Timer) -> float:
    """Time one call of ``fn`` with the garbage collector paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = timer()
        fn()
        stop = timer()
    finally:
        if gc_was_enabled:
            gc.enable()
    return stop - start


def _run_job(job: Job, timer: Timer) -> float:
    """Prepare ``job`` if it is a :class:`OneShot` (untimed), then time one call."""
    fn = job.prepare() if isinstance(job, OneShot) else job
    return _time_once(fn, timer)


def _stderr(line: str) -> None:
    """Default progress sink: one line to stderr (stdout carries the report)."""
    print(line, file=sys.stderr, flush=True)


def _run_checks(suite: Suite, *, quick: bool) -> list[dict[str, Any]]:
    """Run the suite's cross-checks; an exception counts as a failed check."""
    try:
        checks = list(suite.checks(quick=quick))
    except Exception as exc:  # a crashing check is a failing check, not a crash
        checks = [Check("checks", False, {"error": f"{type(exc).__name__}: {exc}"})]
    return [{"name": c.name, "passed": bool(c.passed), "detail": dict(c.detail)} for c in checks]


def run_suite(
    suite: Suite,
    *,
    quick: bool = False,
    repeats: int | None = None,
    timer: Timer = time.perf_counter,
    machine: Mapping[str, Any] | None = None,
    log: Log | None = _stderr,
) -> dict[str, Any]:
    """Time every implementation of every case of ``suite``, interleaved.

    :meth:`Suite.prepare` must have succeeded; the cross-checks run first,
    untimed.

    Args:
        suite: the suite to run.
        quick: smoke-test sizes and :attr:`Suite.quick_repeats`.
        repeats: timed rounds per case (default: the case's
            :attr:`Case.repeats`, else the suite's).
        timer: clock in seconds (injectable for tests).
        machine: facts about the machine to embed (see
            :func:`benchmarks.machine.machine_info`); empty if None.
        log: progress sink, or None for silence.

    Returns:
        The JSON-ready result: ``schema``, ``suite``, ``description``, ``unit``,
        ``reference``, ``anchors``, ``timestamp``, ``quick``, ``machine``,
        ``suite_info``, ``config``, ``checks``, ``cases`` and ``targets`` (see
        docs/benchmarks.md for each field).

    Raises:
        ValueError: ``repeats`` < 1 (given or a case's), or a case's setup does
            not provide the reference implementation (when the suite requires
            it) or names an unknown one.
    """
    n_repeats = (
        repeats if repeats is not None else (suite.quick_repeats if quick else suite.repeats)
    )
    if n_repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {n_repeats}")
    say: Log = log if log is not None else (lambda _line: None)
    started = time.time()

    checks = _run_checks(suite, quick=quick)
    for check in checks:
        say(f"{suite.name}: check {check['name']}: {'PASS' if check['passed'] else 'FAIL'}")

    cases_out: list[dict[str, Any]] = []
    for case in suite.cases(quick=quick):
        case_repeats = n_repeats if repeats is not None or case.repeats is None else case.repeats
        if case_repeats < 1:
            raise ValueError(
                f"suite {suite.name!r} case {case.name!r}: repeats must be at least 1, "
                f"got {case_repeats}"
            )
        fns = dict(suite.setup(case))
        if suite.reference not in fns and suite.reference_required:
            raise ValueError(
                f"suite {suite.name!r} case {case.name!r}: setup() must return the "
                f"reference implementation {suite.reference!r}, got {sorted(fns)}"
            )
        unknown = set(fns) - set(suite.implementations)
        if unknown:
            raise ValueError(
                f"suite {suite.name!r} case {case.name!r}: setup() returned "
                f"implementations {sorted(unknown)} not listed in Suite.implementations"
            )
        names = [name for name in suite.implementations if name in fns]
        say(f"{suite.name}: {case.name}: warm-up, then {case_repeats} rounds of {len(names)}")
        gc.collect()
        for name in names:
            job = fns[name]
            (job.prepare() if isinstance(job, OneShot) else job)()
        times: dict[str, list[float]] = {name: [] for name in names}
        order_log: list[list[str]] = []
        shuffler = random.Random(f"{suite.name}/{case.name}")  # scheduling only, not a secret
        for _ in range(case_repeats):
            order = list(names)
            shuffler.shuffle(order)
            order_log.append(order)
            for name in order:
                times[name].append(_run_job(fns[name], timer))
        del fns

        ref_median = (
            summarize(times[suite.reference])["median_s"] if suite.reference in times else 0.0
        )
        results: list[dict[str, Any]] = []
        for name in names:
            stats = summarize(times[name])
            results.append(
                {
                    "implementation": name,
                    "times_s": times[name],
                    **stats,
                    "throughput_per_s": _ratio(case.work, stats["median_s"]),
                    "ratio": _ratio(stats["median_s"], ref_median),
                }
            )
        cases_out.append(
            {
                "case": case.name,
                "params": dict(case.params),
                "work": case.work,
                "repeats": case_repeats,
                "order": order_log,
                "results": results,
                "info": dict(suite.case_info(case)),
            }
        )

    return {
        "schema": SCHEMA_VERSION,
        "suite": suite.name,
        "description": suite.description,
        "unit": suite.unit,
        "reference": suite.reference,
        "anchors": dict(suite.anchors),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "quick": quick,
        "machine": dict(machine) if machine is not None else {},
        "suite_info": dict(suite.info()),
        "config": {
            "repeats": n_repeats,
            "warmup": 1,
            "order": "every implementation once per round, in a seeded shuffled order",
            "timer": getattr(timer, "__name__", repr(timer)),
            "gc": "disabled during each timed call",
            "ratio": "implementation median / reference median (> 1: reference is faster)",
        },
        "checks": checks,
        "cases": cases_out,
        "targets": evaluate_targets(suite.targets, cases_out),
    }
