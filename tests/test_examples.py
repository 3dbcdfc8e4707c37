"""The examples in examples/ run end to end (with smaller sizes) and check their own results.

Each example ends in SystemExit when its aggregate is wrong, so running main() is a
real test of what a new user sees.
"""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_secure_sum_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("secure_sum")
    monkeypatch.setattr(example, "LENGTH", 5_000)
    example.main()
    out = capsys.readouterr().out
    assert "secure aggregation OK" in out
    per_parameter = [
        float(line.split(":")[1].split()[0]) for line in out.splitlines() if "masked upload" in line
    ]
    assert len(per_parameter) == 2
    # 4 bytes per parameter plus a fixed envelope, visible at this small size
    assert all(4.0 <= v < 4.1 for v in per_parameter), per_parameter


def test_he_example(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tenseal")
    pytest.importorskip("gmpy2")
    example = load("he_aggregation")
    monkeypatch.setattr(example, "LENGTH", 3_000)
    example.main()
    out = capsys.readouterr().out
    for name in ("CKKS, symmetric", "CKKS, public key", "BFV", "Paillier"):
        assert name in out


def test_dp_fedavg_example(capsys: pytest.CaptureFixture[str]) -> None:
    example = load("dp_fedavg")
    example.main()
    out = capsys.readouterr().out
    assert "DP-FedAvg OK" in out
    assert "epsilon" in out


def test_verifiable_secagg_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("verifiable_secagg")
    monkeypatch.setattr(example, "LENGTH", 2_000)
    example.main()
    out = capsys.readouterr().out
    assert "honest aggregate verified" in out
    assert "cheating aggregator caught" in out
    assert "verifiable aggregation OK" in out
