"""privkit.integrations.flower: client mod, server driver and strategy wrapper on Flower.

Most tests drive a real ``ClientApp`` and real Flower strategies through a small
in-process Grid (no Ray); one test runs Flower's own ``run_simulation`` (Ray backend).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("flwr")

from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedMedian, Krum, MultiKrum

from privkit.aggregation import Plain
from privkit.errors import BackendUnavailableError, DecodeError, ParameterError, ProtocolError
from privkit.integrations import flower as pf
from privkit.integrations._flower_local import local_grid
from privkit.secagg import SecAgg

N_CLIENTS = 5
ROUNDS = 3
DIM = 3
RUN_ID = 7
NODE_BASE = 2**63 + 11  # Flower node ids are uint64; exercise the high range


@pytest.fixture(autouse=True, scope="module")
def _task_identity() -> Iterable[None]:
    """Flower's Message() reads the process's task identity, set by its runtimes."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = {k: TaskIdentity.__dict__.get(k) for k in ("_run_id", "_node_id", "_task_id")}
    TaskIdentity.run_id = RUN_ID
    TaskIdentity.node_id = 1  # the SuperLink side
    TaskIdentity.task_id = 1
    yield
    for key, value in saved.items():
        setattr(TaskIdentity, key, value)


def _data(partition: int) -> tuple[np.ndarray, np.ndarray]:
    # Test data only (not secret): a fixed linear problem per client, non-IID shifts.
    rng = np.random.default_rng(100 + partition)
    x = rng.normal(partition * 0.1, 1.0, size=(20, DIM))
    w_true = np.array([0.3, -0.2, 0.1])
    y = x @ w_true + 0.05 + rng.normal(0, 0.01, size=20)
    return x, y


def _train_arrays(arrays: ArrayRecord, partition: int) -> tuple[ArrayRecord, float]:
    w = arrays["w"].numpy().astype(np.float64)
    b = arrays["b"].numpy().astype(np.float64)
    x, y = _data(partition)
    for _ in range(5):
        err = x @ w + b - y
        w = w - 0.1 * (x.T @ err) / len(y)
        b = b - 0.1 * err.mean(keepdims=True)
    loss = float(np.mean((x @ w + b - y) ** 2))
    return ArrayRecord({"w": Array(w.astype(np.float32)), "b": Array(b.astype(np.float32))}), loss


def _initial() -> ArrayRecord:
    return ArrayRecord({"w": Array(np.zeros(DIM, np.float32)), "b": Array(np.zeros(1, np.float32))})


def _make_app(mod: Any | None, *, fail_exchange: int | None = None) -> ClientApp:
    """A ClientApp with the privkit mod; partition 0 may fail at exchange ``fail_exchange``."""

    def crash(msg: Message, context: Context, call_next: Any) -> Message:
        if (
            fail_exchange is not None
            and msg.metadata.message_type == pf.EXCHANGE_MESSAGE_TYPE
            and context.node_config["partition-id"] == 0
            and msg.content[pf.CONFIG_RECORD]["exchange"] == fail_exchange
        ):
            raise RuntimeError("node 0 crashes mid-round")
        return call_next(msg, context)  # type: ignore[no-any-return]

    mods = [crash] + ([mod] if mod is not None else [])
    app = ClientApp(mods=mods)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        assert pf.CONFIG_RECORD not in msg.content  # the mod hides its own record
        partition = int(context.node_config["partition-id"])
        arrays, loss = _train_arrays(msg.content.array_records["arrays"], partition)
        metrics = MetricRecord({"num-examples": 20, "train_loss": loss})
        return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)

    if mod is not None:
        pf.register_exchange(app, mod)
    return app


def LocalGrid(app: ClientApp, n: int = N_CLIENTS, offline: Iterable[int] = ()) -> Any:
    """An in-process Grid: calls the ClientApp directly; exceptions become error replies."""
    return local_grid(app, n, node_base=NODE_BASE, run_id=RUN_ID, offline=offline)


def _run(strategy: Any, app: ClientApp, **grid_kw: Any) -> tuple[dict[str, np.ndarray], Any]:
    grid = LocalGrid(app, **grid_kw)
    result = strategy.start(grid=grid, initial_arrays=_initial(), num_rounds=ROUNDS)
    return {k: v.numpy() for k, v in result.arrays.items()}, grid


def _fedavg() -> FedAvg:
    return FedAvg(fraction_evaluate=0.0, min_available_nodes=2)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    model, _ = _run(_fedavg(), _make_app(None))
    return model


def _secagg() -> SecAgg:
    return SecAgg(threshold=0.6)


# --------------------------------------------------------------------------- end to end


def _pair(scheme: Any) -> tuple[Any, Any]:
    """(server scheme, client scheme): HE servers get the public copy, clients the key."""
    public = getattr(scheme, "public", None)
    return (public() if callable(public) else scheme), scheme


def _ckks() -> tuple[Any, Any]:
    pytest.importorskip("tenseal")
    from privkit.he import CKKS

    return _pair(CKKS.generate(profile="ckks-4096"))


def _paillier() -> tuple[Any, Any]:
    pytest.importorskip("phe")
    from privkit.he import Paillier

    return _pair(Paillier.generate(n_length=1024, allow_insecure=True))


@pytest.mark.parametrize(
    ("schemes", "tol"),
    [
        (lambda: _pair(Plain()), 1e-6),
        (lambda: _pair(_secagg()), 1e-4),
        (_ckks, 1e-4),
        (_paillier, 1e-4),
    ],
    ids=["plain", "secagg", "ckks", "paillier"],
)
def test_secure_fedavg_matches_plain_fedavg(
    schemes: Any, tol: float, reference: dict[str, np.ndarray]
) -> None:
    server_scheme, client_scheme = schemes()
    assert server_scheme.fingerprint == client_scheme.fingerprint
    strategy = pf.SecureAggregation(_fedavg(), server_scheme)
    model, grid = _run(strategy, _make_app(pf.privkit_mod(client_scheme)))
    assert set(model) == {"w", "b"}
    assert model["w"].dtype == np.float32
    for key in model:
        np.testing.assert_allclose(model[key], reference[key], atol=tol)
    assert np.abs(model["w"]).max() > 0.05  # training happened
    assert [len(r.survivors) for r in strategy.rounds.values()] == [N_CLIENTS] * ROUNDS
    assert pf.EXCHANGE_MESSAGE_TYPE in grid.sent


def test_examples_weighting_matches_fedavg(reference: dict[str, np.ndarray]) -> None:
    scheme = Plain()
    strategy = pf.SecureAggregation(_fedavg(), scheme, weighting="examples")
    model, _ = _run(strategy, _make_app(pf.privkit_mod(scheme)))
    for key in model:
        np.testing.assert_allclose(model[key], reference[key], atol=1e-6)


def test_secagg_survives_a_client_crashing_mid_round() -> None:
    scheme = _secagg()
    strategy = pf.SecureAggregation(_fedavg(), scheme)
    app = _make_app(pf.privkit_mod(scheme), fail_exchange=1)
    grid = LocalGrid(app)
    result = strategy.start(grid=grid, initial_arrays=_initial(), num_rounds=1)
    assert strategy.last_round is not None
    assert len(strategy.last_round.survivors) == N_CLIENTS - 1
    assert strategy.last_round.dropped == (NODE_BASE,)
    # The aggregate is the mean of the four survivors' trained models.
    expected = {"w": np.zeros(DIM), "b": np.zeros(1)}
    for i in range(1, N_CLIENTS):
        arrays, _ = _train_arrays(_initial(), i)
        for k in expected:
            expected[k] += arrays[k].numpy() / (N_CLIENTS - 1)
    for k in expected:
        np.testing.assert_allclose(result.arrays[k].numpy(), expected[k], atol=1e-4)


def test_offline_node_is_a_dropout_and_fedadam_wraps() -> None:
    scheme = Plain()
    inner = FedAdam(fraction_evaluate=0.0, min_available_nodes=2, eta=0.1)
    strategy = pf.SecureAggregation(inner, scheme)
    model, _ = _run(strategy, _make_app(pf.privkit_mod(scheme)), offline=[2])
    assert strategy.last_round is not None
    assert NODE_BASE + 2 not in strategy.last_round.survivors
    assert np.all(np.isfinite(model["w"]))
    assert np.abs(model["w"]).max() > 0


def test_round_with_too_many_dropouts_is_skipped() -> None:
    scheme = SecAgg(threshold=5)
    strategy = pf.SecureAggregation(_fedavg(), scheme)
    app = _make_app(pf.privkit_mod(scheme), fail_exchange=0)
    result = strategy.start(grid=LocalGrid(app), initial_arrays=_initial(), num_rounds=1)
    assert strategy.last_round is None
    assert "w" not in result.arrays  # Flower keeps no model from a round without aggregate


# --------------------------------------------------------------------------- the mod alone


def _ctx(node: int = NODE_BASE) -> Context:
    return Context(
        run_id=RUN_ID,
        node_id=node,
        node_config={"partition-id": 0},
        state=RecordDict(),
        run_config={},
    )


def _msg(content: RecordDict, message_type: str = "train") -> Message:
    msg = Message(content, dst_node_id=NODE_BASE, message_type=message_type, group_id="1")
    msg.metadata.__dict__["_message_id"] = str(uuid.uuid4())
    return msg


def test_mod_is_inert_without_the_privkit_config() -> None:
    mod = pf.privkit_mod(Plain())
    seen: list[Message] = []

    def call_next(msg: Message, context: Context) -> Message:
        seen.append(msg)
        return Message(RecordDict({"arrays": msg.content["arrays"]}), reply_to=msg)

    for message_type in ("train", "evaluate", "query"):
        msg = _msg(RecordDict({"arrays": _initial()}), message_type)
        reply = mod(msg, _ctx(), call_next)
        assert seen[-1] is msg
        assert "arrays" in reply.content.array_records  # the model goes through untouched
    assert len(seen) == 3


def _train_msg(scheme: Any, **override: Any) -> Message:
    config = {
        "round": 1,
        "fingerprint": scheme.fingerprint,
        "weighting": "uniform",
        "weight-key": "num-examples",
    }
    config.update(override)
    return _msg(RecordDict({"arrays": _initial(), pf.CONFIG_RECORD: ConfigRecord(config)}))


def _trainer(msg: Message, context: Context) -> Message:
    arrays, _ = _train_arrays(msg.content.array_records["arrays"], 0)
    content = RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": 20})})
    return Message(content, reply_to=msg)


def test_mod_keeps_the_model_on_the_node() -> None:
    scheme = Plain()
    reply = pf.privkit_mod(scheme)(_train_msg(scheme), _ctx(), _trainer)
    assert len(reply.content.array_records) == 0
    assert reply.content["metrics"]["num-examples"] == 20
    assert reply.content[pf.CONFIG_RECORD]["length"] == DIM + 1 + 1


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"fingerprint": b"\x00" * 16}, ProtocolError),
        ({"weighting": "median"}, ParameterError),
        ({"round": -1}, DecodeError),
        ({"weight-key": 3}, DecodeError),
    ],
)
def test_mod_refuses_bad_train_config(override: dict[str, Any], error: type) -> None:
    scheme = Plain()
    with pytest.raises(error):
        pf.privkit_mod(scheme)(_train_msg(scheme, **override), _ctx(), _trainer)


def test_mod_refuses_a_reshaped_model() -> None:
    scheme = Plain()

    def bad(msg: Message, context: Context) -> Message:
        arrays = ArrayRecord({"w": Array(np.zeros(DIM + 1)), "b": Array(np.zeros(1))})
        return Message(RecordDict({"arrays": arrays}), reply_to=msg)

    with pytest.raises(ParameterError, match="shape"):
        pf.privkit_mod(scheme)(_train_msg(scheme), _ctx(), bad)


def _exchange_msg(k: int = 0, *, round_: int = 1, data: Any = b"x") -> Message:
    content = RecordDict({pf.CONFIG_RECORD: ConfigRecord({"round": round_, "exchange": k})})
    if isinstance(data, bytes):
        content[pf.WIRE_RECORD] = ArrayRecord(
            {"message": Array(dtype="uint8", shape=(len(data),), stype=pf.WIRE_STYPE, data=data)}
        )
    elif data is not None:
        content[pf.WIRE_RECORD] = data
    return _msg(content, pf.EXCHANGE_MESSAGE_TYPE)


def test_exchange_without_training_is_refused() -> None:
    mod = pf.privkit_mod(Plain())
    with pytest.raises(ProtocolError, match="no privkit update"):
        mod(_exchange_msg(), _ctx(node=12345), _trainer)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        ArrayRecord({"message": Array(np.zeros(4, np.uint8))}),  # numpy stype
        ArrayRecord({"other": Array(dtype="uint8", shape=(1,), stype=pf.WIRE_STYPE, data=b"a")}),
        ArrayRecord({"message": Array(dtype="uint8", shape=(2,), stype=pf.WIRE_STYPE, data=b"a")}),
    ],
    ids=["missing", "numpy-stype", "wrong-key", "wrong-shape"],
)
def test_exchange_message_validation(bad: Any) -> None:
    mod = pf.privkit_mod(Plain())
    with pytest.raises(DecodeError):
        mod(_exchange_msg(data=bad), _ctx(), _trainer)


def test_exchange_for_another_round_or_garbage_bytes_is_refused() -> None:
    scheme = Plain()
    mod = pf.privkit_mod(scheme)
    mod(_train_msg(scheme), _ctx(), _trainer)
    with pytest.raises(ProtocolError):
        mod(_exchange_msg(round_=2), _ctx(), _trainer)
    with pytest.raises(ProtocolError):
        mod(_exchange_msg(k=1), _ctx(), _trainer)
    with pytest.raises(DecodeError):
        mod(_exchange_msg(data=b"not a privkit message"), _ctx(), _trainer)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), k=st.integers(0, 3))
def test_hostile_exchange_bytes_raise_privkit_errors_only(data: bytes, k: int) -> None:
    scheme = _secagg()
    mod = pf.privkit_mod(scheme)
    ctx = _ctx(node=NODE_BASE + 99)
    mod(_train_msg(scheme), ctx, _trainer)
    with pytest.raises((DecodeError, ProtocolError, ParameterError)):
        mod(_exchange_msg(k, data=data), ctx, _trainer)


def test_garbage_reply_is_a_dropout() -> None:
    """A node whose reply the server session refuses is dropped; the round completes."""

    def corrupt(msg: Message, context: Context, call_next: Any) -> Message:
        reply = call_next(msg, context)
        if (
            msg.metadata.message_type == pf.EXCHANGE_MESSAGE_TYPE
            and context.node_config["partition-id"] == 3
        ):
            blob = b"\x00" * 40
            reply.content[pf.WIRE_RECORD] = ArrayRecord(
                {"message": Array(dtype="uint8", shape=(40,), stype=pf.WIRE_STYPE, data=blob)}
            )
        return reply  # type: ignore[no-any-return]

    scheme = Plain()
    mod = pf.privkit_mod(scheme)
    app = ClientApp(mods=[corrupt, mod])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return _trainer(msg, context)

    pf.register_exchange(app, mod)
    strategy = pf.SecureAggregation(_fedavg(), scheme)
    grid = LocalGrid(app)
    strategy.start(grid=grid, initial_arrays=_initial(), num_rounds=1)
    assert strategy.last_round is not None
    assert strategy.last_round.dropped == (NODE_BASE + 3,)


def test_import_does_not_import_flwr_and_missing_flwr_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = "import sys, privkit.integrations.flower; print('flwr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "flwr.app", None)
    with pytest.raises(BackendUnavailableError, match=r"privkit\[flower\]"):
        pf.privkit_mod(Plain())
    with pytest.raises(BackendUnavailableError, match=r"privkit\[flower\]"):
        pf.SecureAggregation(_fedavg(), Plain())


# --------------------------------------------------------------------------- scheme factories


def _passthrough(msg: Message, context: Context) -> Message:
    return Message(RecordDict({"arrays": msg.content["arrays"]}), reply_to=msg)


def test_factory_is_called_lazily_once_per_process() -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    calls: list[int] = []

    def factory() -> Plain:
        calls.append(1)
        return Plain()

    mod = pf.privkit_mod(factory)
    assert calls == []
    mod(_msg(RecordDict({"arrays": _initial()}), "evaluate"), _ctx(), _passthrough)
    assert calls == []  # an inert message does not need the scheme
    reply = mod(_train_msg(Plain()), _ctx(node=NODE_BASE + 50), _trainer)
    assert reply.content[pf.CONFIG_RECORD]["length"] == DIM + 1 + 1
    assert calls == [1]
    # Ray ships a fresh copy of the ClientApp with every message: copies share the scheme.
    clone = cloudpickle.loads(cloudpickle.dumps(mod))
    assert clone.fingerprint == Plain().fingerprint
    assert calls == [1]
    # and a mod built from another factory call gets its own scheme
    other = pf.privkit_mod(factory)
    other(_train_msg(Plain()), _ctx(node=NODE_BASE + 51), _trainer)
    assert calls == [1, 1]


def test_factory_must_return_a_scheme_and_its_errors_propagate() -> None:
    bad = pf.privkit_mod(lambda: "plain")  # type: ignore[arg-type, return-value]
    with pytest.raises(ParameterError, match="factory"):
        bad(_train_msg(Plain()), _ctx(), _trainer)
    with pytest.raises(ParameterError, match="factory"):
        bad(_exchange_msg(), _ctx(), _trainer)
    attempts: list[int] = []

    def flaky() -> Plain:
        attempts.append(1)
        if len(attempts) == 1:
            raise DecodeError("key file damaged")
        return Plain()

    mod = pf.privkit_mod(flaky)
    with pytest.raises(DecodeError, match="damaged"):
        mod(_train_msg(Plain()), _ctx(), _trainer)
    mod(_train_msg(Plain()), _ctx(), _trainer)  # a failed build is not cached
    assert len(attempts) == 2


def test_he_mod_from_key_bytes_pickles_without_the_key_object() -> None:
    """A CKKS scheme cannot be pickled; a mod built from a factory can, even after use."""
    cloudpickle = pytest.importorskip("cloudpickle")
    pytest.importorskip("tenseal")
    from privkit.he import CKKS

    scheme = CKKS.generate(profile="ckks-4096")
    with pytest.raises(TypeError):
        cloudpickle.dumps(pf.privkit_mod(scheme))
    key = scheme.to_bytes(include_secret=True)  # test key
    mod = pf.privkit_mod(lambda: CKKS.from_bytes(key))
    mod(_train_msg(scheme), _ctx(node=NODE_BASE + 52), _trainer)
    clone = cloudpickle.loads(cloudpickle.dumps(mod))
    assert clone.fingerprint == scheme.fingerprint


# --------------------------------------------------------------------------- the wrapper


@pytest.mark.parametrize("cls", [Krum, MultiKrum, FedMedian])
def test_strategies_needing_individual_updates_are_refused(cls: Any) -> None:
    with pytest.raises(ParameterError, match="individual update"):
        pf.SecureAggregation(cls(), Plain())


@pytest.mark.parametrize(
    "kwargs",
    [{"weighting": "median"}, {"exchange_timeout": 0}, {"exchange_timeout": "1"}],
)
def test_wrapper_parameter_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParameterError):
        pf.SecureAggregation(_fedavg(), Plain(), **kwargs)


def test_wrapper_refuses_non_strategies_and_non_schemes() -> None:
    with pytest.raises(ParameterError, match="Message-API"):
        pf.SecureAggregation(object(), Plain())
    with pytest.raises(ParameterError, match="Scheme"):
        pf.SecureAggregation(_fedavg(), object())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="Scheme"):
        pf.privkit_mod("plain")  # type: ignore[arg-type]


def test_driver_validates_arguments() -> None:
    grid = LocalGrid(_make_app(None))
    with pytest.raises(ParameterError):
        pf.run_scheme_round(grid, Plain(), ["a"], 3)  # type: ignore[list-item]
    with pytest.raises(ParameterError):
        pf.run_scheme_round(grid, Plain(), [1, 2], 3, server_round=-1)
    with pytest.raises(ParameterError):
        pf.run_scheme_round(grid, Plain(), [1, 2], 3, timeout=0)


# --------------------------------------------------------------------------- Ray simulation


def _dispatch(mods: dict[str, Any]) -> Any:
    """A client mod choosing among several privkit mods by the train config's
    ``"privkit-test"`` key; the node remembers its choice in ``context.state`` (which Flower
    keeps per node across messages) for the exchanges that follow."""

    def mod(msg: Message, context: Context, call_next: Any) -> Message:
        kind = msg.metadata.message_type
        if kind == "train" and pf.CONFIG_RECORD in msg.content.config_records:
            name = str(msg.content["config"]["privkit-test"])
            context.state["privkit-test"] = ConfigRecord({"scheme": name})
        elif kind == pf.EXCHANGE_MESSAGE_TYPE:
            name = str(context.state["privkit-test"]["scheme"])
        else:
            return call_next(msg, context)  # type: ignore[no-any-return]
        return mods[name](msg, context, call_next)  # type: ignore[no-any-return]

    return mod


def test_run_simulation_plain_secagg_ckks_paillier(tmp_path: Any) -> None:
    """Flower's own simulation engine (Ray), in-process, one actor (which keeps the node
    state): 5 nodes, then plain FedAvg and FedAvg through Plain, SecAgg, CKKS and Paillier
    (1024 bits with allow_insecure, for speed only), 3 rounds each, one after the other
    over the same nodes.  The HE keys cannot be pickled to the actor: the clients' mods
    get factories that rebuild the schemes from key bytes in the actor."""
    pytest.importorskip("ray", reason="Flower's simulation needs flwr[simulation] (ray)")
    pytest.importorskip("tenseal")
    pytest.importorskip("phe")
    from flwr.simulation import run_simulation

    from privkit.he import CKKS, Paillier

    ckks = CKKS.generate(profile="ckks-4096")
    paillier = Paillier.generate(n_length=1024, allow_insecure=True)
    server_schemes = {
        "plain": Plain(),
        "secagg": _secagg(),
        "ckks": ckks.public(),
        "paillier": paillier.public(),
    }
    tolerance = {"fedavg": 0.0, "plain": 1e-6, "secagg": 1e-4, "ckks": 1e-4, "paillier": 1e-4}
    # Secret key bytes (test keys) captured by the factories, shipped to the local Ray
    # actor only.  Lambdas, not partial(Paillier.from_bytes, ...): cloudpickle copies a
    # bound classmethod's function by value, which breaks Paillier's constructor guard.
    ckks_key = ckks.to_bytes(include_secret=True)
    paillier_key = paillier.to_bytes(include_secret=True)
    client_mods = {
        "plain": pf.privkit_mod(server_schemes["plain"]),
        "secagg": pf.privkit_mod(server_schemes["secagg"]),
        "ckks": pf.privkit_mod(lambda: CKKS.from_bytes(ckks_key)),
        "paillier": pf.privkit_mod(lambda: Paillier.from_bytes(paillier_key, allow_insecure=True)),
    }
    results: dict[str, dict[str, np.ndarray]] = {}
    survivors: dict[str, list[int]] = {}
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        for name in tolerance:
            inner = FedAvg(
                fraction_evaluate=0.0, min_available_nodes=N_CLIENTS, min_train_nodes=N_CLIENTS
            )
            strategy: Any = inner
            if name != "fedavg":
                strategy = pf.SecureAggregation(inner, server_schemes[name])
            result = strategy.start(
                grid=grid,
                initial_arrays=_initial(),
                num_rounds=ROUNDS,
                train_config=ConfigRecord({"privkit-test": name}),
            )
            results[name] = {k: v.numpy() for k, v in result.arrays.items()}
            if name != "fedavg":
                survivors[name] = [len(r.survivors) for r in strategy.rounds.values()]

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    run_simulation(
        server_app=server_app,
        client_app=_make_app(_dispatch(client_mods)),
        num_supernodes=N_CLIENTS,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 1, "include_dashboard": False},
        },
    )
    assert list(results) == list(tolerance)
    assert survivors == {name: [N_CLIENTS] * ROUNDS for name in server_schemes}
    reference, _ = _run(_fedavg(), _make_app(None))
    np.testing.assert_allclose(results["fedavg"]["w"], reference["w"], atol=1e-6)
    assert np.abs(reference["w"]).max() > 0.05  # training happened
    for name, tol in tolerance.items():
        assert set(results[name]) == {"w", "b"}
        for key in reference:
            np.testing.assert_allclose(results[name][key], reference[key], atol=tol + 1e-7)
