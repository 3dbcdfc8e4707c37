"""Smoke test of the ``he`` benchmark suite (quick mode, in a subprocess).

Nothing here asserts a speed.  The run must produce a well-formed result whose
anchors (raw TenSEAL, phe) ran and agree with the exact sum; privkit's rows and
upload-size checks are asserted only where ``privkit.he.CKKS`` / ``BFV`` /
``Paillier`` import (they are optional for the suite while they are being
written).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmark_schema import ROW_KEYS

from benchmarks.suites import load_suite

REPO = Path(__file__).resolve().parents[1]

QUICK_CASES = {"paillier 3x2k": "paillier", "ckks 3x2k": "ckks", "bfv 3x2k": "bfv"}
SCHEME_CLASS = {"paillier": "Paillier", "ckks": "CKKS", "bfv": "BFV"}


def _has_scheme(name: str) -> bool:
    """Whether ``privkit.he.<name>`` imports (as the suite decides)."""
    try:
        return hasattr(getattr(importlib.import_module("privkit.he"), name, None), "generate")
    except Exception:  # ImportError, or a native extension's own check
        return False


def _rows(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["implementation"]: r for r in case["results"]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    pytest.importorskip("tenseal", reason="TenSEAL (an anchor) is not installed: privkit[he]")
    pytest.importorskip("phe", reason="phe (an anchor) is not installed: privkit[he]")
    out = tmp_path_factory.mktemp("he")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "he", "--quick", "--no-plot", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "he.json").read_text(encoding="utf-8"))
    return result, proc.stdout, out


def test_registry_has_he() -> None:
    suite = load_suite("he")
    assert suite.name == "he"
    assert suite.reference == "privkit"
    assert {t.vs for t in suite.targets} <= set(suite.implementations)


def test_quick_result_shape(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    result, stdout, out = quick_run
    assert result["suite"] == "he"
    assert result["quick"] is True
    assert (out / "he.md").is_file()
    assert "## he:" in stdout
    assert [c["case"] for c in result["cases"]] == list(QUICK_CASES)
    for case in result["cases"]:
        assert case["repeats"] == 3
        assert case["work"] == 1.0
        for row in case["results"]:
            assert set(row) == ROW_KEYS
            assert len(row["times_s"]) == case["repeats"]
            assert all(t >= 0.0 for t in row["times_s"])
        info = case["info"]
        assert info["memory_method"] in ("rss", "tracemalloc")
        for name in _rows(case):
            assert info["peak_memory_bytes"][name] >= 0
    # quick targets are at full sizes only
    assert {t["status"] for t in result["targets"]} == {"NOT RUN"}
    assert all(c["passed"] for c in result["checks"])


def test_quick_anchors_ran_and_agree(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    result, _, _ = quick_run
    cases = {c["case"]: c for c in result["cases"]}
    for name in ("ckks 3x2k", "bfv 3x2k"):
        case = cases[name]
        assert "tenseal-default" in _rows(case)
        assert case["info"]["max_abs_error"]["tenseal-default"] < 1e-2
        assert case["info"]["tenseal_upload_bytes_per_value"] > 0
    paillier = cases["paillier 3x2k"]
    assert "phe-sample" in _rows(paillier)
    phe = paillier["info"]["phe"]
    assert phe["sample_per_client"] == paillier["params"]["phe_sample_per_client"]
    assert phe["n_length"] == 1024  # quick mode only; labelled insecure
    assert "insecure_quick_keys" in paillier["info"]
    assert phe["upload_bytes_per_value"] == 256  # one ciphertext mod n^2 per value
    assert phe["extrapolated_s"] == pytest.approx(
        phe["sample_median_s"] * paillier["params"]["n"] / phe["sample_per_client"]
    )
    assert paillier["info"]["max_abs_error"]["phe-sample"] < 1e-5


@pytest.mark.parametrize("case_name", list(QUICK_CASES))
def test_quick_privkit_rows(quick_run: tuple[dict[str, Any], str, Path], case_name: str) -> None:
    scheme = QUICK_CASES[case_name]
    if not _has_scheme(SCHEME_CLASS[scheme]):
        pytest.skip(f"privkit.he.{SCHEME_CLASS[scheme]} is not importable yet: no privkit row")
    result, _, _ = quick_run
    case = next(c for c in result["cases"] if c["case"] == case_name)
    rows = _rows(case)
    assert "privkit" in rows
    assert rows["privkit"]["ratio"] == pytest.approx(1.0)
    assert all(r["ratio"] is not None for r in rows.values())
    assert case["info"]["max_abs_error"]["privkit"] < 1e-2
    assert case["info"]["privkit_upload_bytes_per_value"] > 0
    checks = {c["name"] for c in result["checks"]}
    if scheme == "paillier":
        assert "paillier_upload_vs_phe" in checks
        assert "speedup_vs_extrapolated" in case["info"]["phe"]
    if scheme == "ckks":
        assert "ckks_upload_vs_tenseal" in checks
