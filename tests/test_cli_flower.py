"""``privkit simulate --engine flower``: Flower's simulation engine (Ray), in-process."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("flwr")
pytest.importorskip("ray", reason="Flower's simulation needs flwr[simulation] (ray)")
pytest.importorskip("privkit.integrations.flower")

from privkit.cli.simulate import SimulationConfig, run_simulation
from privkit.errors import ParameterError


def test_flower_engine_trains_with_secagg() -> None:
    cfg = SimulationConfig(
        scheme="secagg", engine="flower", clients=4, rounds=2, dp_epsilon=None, out=None
    )
    result = run_simulation(cfg)
    assert [r.round for r in result.rounds] == [1, 2]
    assert all(r.survivors == 4 for r in result.rounds)
    assert all(r.bytes_up_per_client is None for r in result.rounds)
    assert result.final_accuracy > result.initial_accuracy + 0.2


def _he_scheme(name: str) -> Any:
    pytest.importorskip("tenseal")
    from privkit import he

    if name == "ckks":
        return he.CKKS.generate(profile="ckks-4096")
    return he.Paillier.generate(n_length=2048)


@pytest.mark.parametrize("name", ["ckks", "paillier"])
def test_flower_engine_runs_he_with_keys_rebuilt_in_the_actor(name: str) -> None:
    """HE keys do not pickle to Ray: run_flower gives the server the public copy and the
    actor rebuilds the key holder from its bytes; the result is the plain mean."""
    from privkit.cli._flower import run_flower

    models: list[np.ndarray] = []
    survivors: list[int] = []

    def on_round(r: int, model: np.ndarray, info: Any, seconds: float) -> None:
        models.append(model)
        survivors.append(len(info.survivors) if info is not None else 0)

    run_flower(
        scheme=_he_scheme(name),
        n_clients=3,
        rounds=2,
        initial=np.zeros(5),
        train=lambda model, partition: model + 0.1 * (partition + 1),
        evaluate=lambda model: (0.0, 0.0),
        on_round=on_round,
    )
    assert survivors == [3, 3]
    # the mean of +0.1, +0.2, +0.3 per round
    np.testing.assert_allclose(models[0], np.full(5, 0.2), atol=1e-4)
    np.testing.assert_allclose(models[1], np.full(5, 0.4), atol=1e-4)


def test_he_key_holders_are_split_into_public_server_and_client_factory() -> None:
    """What run_flower gives each side, for every HE scheme (BFV is trained only here)."""
    pytest.importorskip("tenseal")
    cloudpickle = pytest.importorskip("cloudpickle")
    from privkit import he
    from privkit.aggregation import Plain
    from privkit.cli._flower import _split_keys

    plain = Plain()
    assert _split_keys(plain) == (plain, plain)
    for holder in (
        he.CKKS.generate(profile="ckks-4096"),
        he.BFV.generate(),
        he.Paillier.generate(n_length=2048),
    ):
        server, factory = _split_keys(holder)
        assert server.fingerprint == holder.fingerprint
        with pytest.raises(ParameterError):  # the server's copy holds no secret key
            server.to_bytes(include_secret=True)  # type: ignore[attr-defined]
        assert callable(factory)
        rebuilt = cloudpickle.loads(cloudpickle.dumps(factory))()
        assert type(rebuilt) is type(holder)
        assert rebuilt.fingerprint == holder.fingerprint
        assert rebuilt.to_bytes(include_secret=True) == holder.to_bytes(include_secret=True)
