"""Noise-calibration cases for the ``dp`` suite (helper module; the suite imports it).

Each case calibrates sigma for a target epsilon at the issue's anchor (Poisson rate
q = 0.01, 10,000 steps, delta = 1e-5):

* ``privkit`` — :func:`privkit.dp.accounting.calibrate_noise` with the PRV accountant
  (the reference);
* ``opacus-calibrate-prv`` — ``opacus.accountants.utils.get_noise_multiplier(...,
  accountant="prv")`` (a bisection over Opacus's PRV accountant);
* ``privkit-calibrate-rdp`` — privkit's RDP calibration (cheap, looser);
* ``dp-accounting-pld`` — Google dp-accounting's ``calibrate_dp_mechanism`` over its PLD
  accountant (loss discretisation 1e-3, bracket [0.5, 10], tolerance 1e-3).

Reported as ``anchor median / privkit median``.  :data:`TARGETS` asks privkit's PRV
calibration to be at least 6x faster than Opacus's; :func:`calibration_checks` adds two
absolute, labelled checks: privkit's median time <= 0.5 s and its sigma within 1% of
Opacus's.  Heavy imports (opacus, dp_accounting) happen inside the jobs' set-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.core import Case, Check, Job, Target

__all__ = [
    "ANCHORS",
    "IMPLEMENTATIONS",
    "TARGETS",
    "calibration_case_info",
    "calibration_cases",
    "calibration_checks",
    "calibration_setup",
]

Q = 0.01
STEPS = 10_000
DELTA = 1e-5
OPACUS = "opacus-calibrate-prv"
PRIVKIT_RDP = "privkit-calibrate-rdp"
PLD = "dp-accounting-pld"
IMPLEMENTATIONS: tuple[str, ...] = (OPACUS, PRIVKIT_RDP, PLD)
ANCHORS: Mapping[str, str] = {
    OPACUS: "Opacus 1.6 get_noise_multiplier(accountant='prv') (bisection on its PRV accountant)",
    PRIVKIT_RDP: "privkit calibrate_noise(accountant='rdp') (looser bound, for scale)",
    PLD: "dp-accounting calibrate_dp_mechanism over its PLD accountant",
}
_ANCHOR_CASE = "calibrate eps=3"
TARGETS: tuple[Target, ...] = (Target(vs=OPACUS, case=_ANCHOR_CASE, min_ratio=6.0),)

# sigma each implementation returned, per case (filled while the jobs run)
_SIGMAS: dict[str, dict[str, float]] = {}


def calibration_cases(quick: bool) -> list[Case]:
    """The calibration cases: target epsilon 3 (quick), and 1, 3, 8 (full)."""
    targets = (3.0,) if quick else (1.0, 3.0, 8.0)
    return [
        Case(
            name=f"calibrate eps={eps:g}",
            work=1.0,
            params={"target_epsilon": eps, "sample_rate": Q, "steps": STEPS, "delta": DELTA},
            repeats=1 if quick else 3,
        )
        for eps in targets
    ]


def _privkit(eps: float, accountant: str) -> float:
    accounting = importlib.import_module("privkit.dp.accounting")
    return float(
        accounting.calibrate_noise(
            target_epsilon=eps,
            target_delta=DELTA,
            sample_rate=Q,
            steps=STEPS,
            accountant=accountant,
        )
    )


def _opacus(eps: float) -> float:
    utils = importlib.import_module("opacus.accountants.utils")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            utils.get_noise_multiplier(
                target_epsilon=eps,
                target_delta=DELTA,
                sample_rate=Q,
                steps=STEPS,
                accountant="prv",
            )
        )


def _pld(eps: float) -> float:
    dpa = importlib.import_module("dp_accounting")

    def event(sigma: float) -> Any:
        return dpa.SelfComposedDpEvent(
            dpa.PoissonSampledDpEvent(Q, dpa.GaussianDpEvent(sigma)), STEPS
        )

    # a 1e-3 loss discretisation and an explicit bracket: dp-accounting's defaults
    # (1e-4, open bracket) take over a minute here
    return float(
        dpa.calibrate_dp_mechanism(
            lambda: dpa.pld.PLDAccountant(value_discretization_interval=1e-3),
            event,
            eps,
            DELTA,
            dpa.mechanism_calibration.ExplicitBracketInterval(0.5, 10.0),
            tol=1e-3,
        )
    )


def _recording(case: str, name: str, fn: Callable[[], float]) -> Callable[[], float]:
    def job() -> float:
        sigma = fn()
        _SIGMAS.setdefault(case, {})[name] = sigma
        return sigma

    return job


def calibration_setup(case: Case) -> Mapping[str, Job]:
    """One job per implementation for ``case`` (each returns the calibrated sigma)."""
    eps = float(case.params["target_epsilon"])
    jobs: dict[str, Job] = {
        "privkit": _recording(case.name, "privkit", lambda: _privkit(eps, "prv")),
        PRIVKIT_RDP: _recording(case.name, PRIVKIT_RDP, lambda: _privkit(eps, "rdp")),
    }
    if importlib.util.find_spec("opacus") is not None:
        jobs[OPACUS] = _recording(case.name, OPACUS, lambda: _opacus(eps))
    if importlib.util.find_spec("dp_accounting") is not None:
        jobs[PLD] = _recording(case.name, PLD, lambda: _pld(eps))
    return jobs


def calibration_case_info(case: Case) -> Mapping[str, Any]:
    """The sigma each implementation returned and privkit's ratio to Opacus's."""
    sigmas = dict(_SIGMAS.get(case.name, {}))
    info: dict[str, Any] = {"sigma": sigmas}
    if "privkit" in sigmas and OPACUS in sigmas:
        info["sigma_ratio_privkit_over_opacus"] = sigmas["privkit"] / sigmas[OPACUS]
    return info


def calibration_checks(*, quick: bool) -> list[Check]:
    """Absolute checks at the anchor (eps = 3): privkit's PRV calibration median over
    three runs is <= 0.5 s, and its sigma is within 1% of Opacus's PRV calibration."""
    eps = 3.0
    times: list[float] = []
    sigma = float("nan")
    for _ in range(3):
        start = time.perf_counter()
        sigma = _privkit(eps, "prv")
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    out = [
        Check(
            "calibration_prv_median_le_0.5s (absolute)",
            median <= 0.5,
            {"median_s": median, "times_s": times, "target_epsilon": eps, "limit_s": 0.5},
        )
    ]
    cached = _SIGMAS.get(_ANCHOR_CASE, {}).get(OPACUS)
    try:
        reference = cached if cached is not None else _opacus(eps)
    except ImportError:
        return out
    rel = abs(sigma - reference) / reference
    out.append(
        Check(
            "calibration_prv_sigma_within_1pct_of_opacus",
            rel <= 0.01,
            {"privkit_sigma": sigma, "opacus_sigma": reference, "relative_difference": rel},
        )
    )
    return out
