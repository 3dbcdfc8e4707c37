"""examples/dp_sgd_digits.py runs end to end and checks its own accuracy and budget."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

pytest.importorskip("torch", reason="the DP-SGD example needs privkit[torch]")
pytest.importorskip("opacus", reason="the DP-SGD example needs privkit[torch]")
pytest.importorskip("sklearn", reason="the DP-SGD example loads scikit-learn's digits")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "dp_sgd_digits.py"


def test_dp_sgd_digits_example(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("example_dp_sgd_digits", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    accuracy = module.main()  # raises SystemExit(1) below the bar or without the budget
    out = capsys.readouterr().out
    assert accuracy >= module.ACCURACY_BAR
    assert "DP-SGD OK" in out
    assert "budget enforced: step 121 refused" in out
    epsilon = float(out.split("test accuracy")[1].split("(")[1].split(",")[0])
    assert 2.9 < epsilon <= module.TARGET_EPSILON
