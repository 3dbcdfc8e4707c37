"""``privkit simulate --engine flower``: Flower's simulation engine (Ray), in-process."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("flwr")
pytest.importorskip("ray", reason="Flower's simulation needs flwr[simulation] (ray)")
pytest.importorskip("privkit.integrations.flower")

from privkit.cli.simulate import SimulationConfig, run_simulation


def test_flower_engine_trains_with_secagg() -> None:
    cfg = SimulationConfig(
        scheme="secagg", engine="flower", clients=4, rounds=2, dp_epsilon=None, out=None
    )
    result = run_simulation(cfg)
    assert [r.round for r in result.rounds] == [1, 2]
    assert all(r.survivors == 4 for r in result.rounds)
    assert all(r.bytes_up_per_client is None for r in result.rounds)
    assert result.final_accuracy > result.initial_accuracy + 0.2
