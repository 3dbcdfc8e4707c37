"""Tests of the ``privkit`` command line: simulate, info, bench, and its error handling."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from privkit.cli import main
from privkit.cli._data import dirichlet_split
from privkit.cli._report import Progress, write_outputs
from privkit.cli.simulate import SimulationConfig, run_simulation, validate
from privkit.errors import ParameterError

TINY = SimulationConfig(clients=4, rounds=2, out=None, dp_epsilon=None, scheme="plain")


def _robust_available() -> bool:
    try:
        from privkit.aggregation import robust  # noqa: F401
    except ImportError:
        return False
    return True


def test_simulate_plain_writes_report_and_learns(tmp_path: Path) -> None:
    cfg = replace(TINY, out=str(tmp_path))
    out = io.StringIO()
    result = run_simulation(cfg, table=out)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["scheme"] == "plain"
    assert report["model"] == {"layers": [64, 32, 10], "parameters": 2410}
    assert report["dp_mode"] is None
    assert report["noise_multiplier"] is None
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    for rnd in report["rounds"]:
        assert rnd["survivors"] == 4
        assert rnd["dropped"] == []
        assert rnd["epsilon"] is None
        assert rnd["verified"] is None
        assert rnd["bytes_up_per_client"] > 2410 * 8  # float64 updates, plus headers
        assert set(rnd["seconds"]) >= {"train", "aggregate", "server", "clients", "evaluate"}
        assert rnd["exchanges"]
        assert rnd["exchanges"][0]["index"] == 0
    assert report["final_accuracy"] == result.final_accuracy
    assert result.final_accuracy > result.initial_accuracy + 0.2
    table = out.getvalue()
    assert "round  accuracy" in table
    assert "untrained accuracy" in table
    assert len([ln for ln in table.splitlines() if ln.strip().startswith(("1 ", "2 "))]) == 2


def test_simulate_secagg_with_distributed_dp_spends_budget() -> None:
    cfg = replace(TINY, scheme="secagg", clients=5, rounds=3, dp_epsilon=50.0)
    result = run_simulation(cfg)
    assert result.config.resolved_dp_mode == "distributed"
    assert result.noise_multiplier is not None
    assert result.noise_multiplier > 0
    eps = [r.epsilon if r.epsilon is not None else -1.0 for r in result.rounds]
    assert eps == sorted(eps)
    assert eps[0] > 0
    assert eps[-1] <= 50.0 * 1.01
    assert result.final_accuracy > result.initial_accuracy + 0.1
    # SecAgg traffic: key advertisement, shares, masked input, unmasking.
    assert len(result.rounds[0].exchanges) >= 3


def test_simulate_commit_verifies_every_round_under_dropouts() -> None:
    cfg = replace(TINY, scheme="secagg", commit=True, dropout_rate=0.25, threshold=0.5)
    result = run_simulation(cfg)
    assert [r.verified for r in result.rounds] == [True, True]
    assert all(r.survivors == 3 and len(r.dropped) == 1 for r in result.rounds)
    assert all("commit" in r.seconds for r in result.rounds)
    assert result.final_accuracy > result.initial_accuracy + 0.1


@pytest.mark.skipif(not _robust_available(), reason="privkit.aggregation.robust not present")
def test_simulate_median_resists_poisoning() -> None:
    cfg = replace(TINY, clients=6, poison_fraction=0.2, poison_scale=20.0)
    plain = run_simulation(cfg)
    median = run_simulation(replace(cfg, scheme="median"))
    assert median.final_accuracy > median.initial_accuracy + 0.1
    assert median.final_accuracy > plain.final_accuracy


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["simulate", "--scheme", "nope"], "invalid choice"),
        (["simulate", "--clients", "x"], "expected an integer"),
        (["simulate", "--dropout-rate", "1.5"], "[0, 1)"),
        (["simulate", "--bogus"], "unrecognized arguments"),
        (["simulate", "--no-dp", "--dp-epsilon", "3"], "not allowed with"),
        (["simulate", "--scheme", "ckks", "--dp-mode", "distributed"], "exact secure sum"),
        (["simulate", "--commit"], "--no-dp"),
        (["simulate", "--scheme", "plain", "--commit", "--no-dp"], "secagg"),
        (["simulate", "--dropout-rate", "0.5", "--no-out"], "needs 30 survivors"),
        (["simulate", "--clients", "1"], ">= 2"),
        (["simulate", "--clients", "400", "--no-out"], "fewer clients"),
        (["simulate", "--poison-fraction", "0.01"], "poisons no client"),
        (["simulate", "--engine", "flower", "--scheme", "median", "--no-dp"], "--engine local"),
        (["simulate", "--engine", "flower"], "--no-dp"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_flags_give_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert needle in lines[0]
    assert "Traceback" not in captured.err


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "simulate" in capsys.readouterr().err


def test_subprocess_bad_flag_has_no_traceback() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path.cwd()), *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-m", "privkit.cli", "simulate", "--rounds", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--rounds" in proc.stderr


def test_info_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("privkit")
    assert "numpy" in out
    assert "native" in out
    assert "features:" in out


def test_bench_without_benchmarks_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "benchmarks.cli", None)
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "python -m benchmarks" in err
    assert len(err.strip().splitlines()) == 1


def test_bench_list_delegates(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("benchmarks.cli")
    assert main(["bench", "--list"]) == 0
    assert "secagg" in capsys.readouterr().out


def test_validate_rejects_distributed_dp_for_robust() -> None:
    with pytest.raises(ParameterError, match="central"):
        validate(replace(TINY, scheme="median", dp_epsilon=8.0, dp_mode="distributed"))


def test_progress_without_terminal_writes_a_line_per_round() -> None:
    stream = io.StringIO()
    bar = Progress(stream, 3)
    for r in range(3):
        bar.update(r, "train")
        bar.update(r + 1, "done")
    bar.close()
    assert stream.getvalue().splitlines() == [f"round {r}/3 done" for r in (1, 2, 3)]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(stream, 2)
    bar.update(0, "train")
    bar.update(1, "done")
    bar.close()
    text = stream.getvalue()
    assert "\n" not in text
    assert text.count("\r[") == 2
    assert "round 1/2 train" in text
    assert text.endswith("\r")


def test_report_without_matplotlib_notes_the_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = {"rounds": [], "initial_accuracy": 0.1, "config": {"scheme": "x", "clients": 2}}
    notes = write_outputs(report, str(tmp_path))
    assert (tmp_path / "report.json").exists()
    assert not (tmp_path / "report.png").exists()
    assert any("matplotlib" in n for n in notes)


@settings(max_examples=25, deadline=None)
@given(
    n_clients=st.integers(1, 12),
    alpha=st.floats(0.3, 100.0),
    seed=st.integers(0, 2**16),
)
def test_dirichlet_split_is_a_partition(n_clients: int, alpha: float, seed: int) -> None:
    labels = np.repeat(np.arange(10, dtype=np.int64), 30)
    parts = dirichlet_split(labels, n_clients, alpha, seed, min_size=4)
    joined = np.concatenate(parts)
    assert len(parts) == n_clients
    assert sorted(joined.tolist()) == list(range(len(labels)))
    assert min(len(p) for p in parts) >= 4


def test_dirichlet_split_refuses_too_many_clients() -> None:
    with pytest.raises(ParameterError, match="fewer clients"):
        dirichlet_split(np.zeros(10, dtype=np.int64), 5, 1.0, 0, min_size=4)
