"""``privkit simulate --engine flower``: the same training through Flower's simulation engine.

The ServerApp wraps Flower's ``FedAvg`` in :class:`privkit.integrations.flower.
SecureAggregation`; every SuperNode's ClientApp carries :func:`privkit_mod` and trains
the MLP on its partition.  HE schemes (CKKS, BFV, Paillier) run too: the server gets
the public copy, and each actor rebuilds the key holder from its serialized key through a
:func:`privkit_mod` factory (a live key object does not pickle to Ray).  Flower's
``run_simulation`` (Ray backend, one actor so that a
node's session survives between exchanges) runs the rounds; the server evaluates the
global model after each one.  Imports Flower lazily.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from privkit.aggregation import Scheme
from privkit.errors import BackendUnavailableError, ProtocolError

__all__ = ["FLOWER_SCHEMES", "run_flower"]

#: Schemes ``privkit simulate --engine flower`` accepts (robust rules need individual
#: updates, which SecureAggregation's contract excludes).  :func:`run_flower` also runs
#: the HE schemes (ckks, bfv, paillier); the CLI lists them once tests/test_cli.py no
#: longer expects ``--engine flower --scheme ckks`` to be refused.
FLOWER_SCHEMES = ("plain", "secagg", "secagg+", "ckks", "bfv", "paillier")


def _split_keys(scheme: Scheme) -> tuple[Scheme, Scheme | Callable[[], Scheme]]:
    """(server scheme, client scheme or factory): an HE key holder is split into its public
    copy for the server and a factory that rebuilds the key holder from its bytes in the
    process serving the nodes; other schemes are used as they are on both sides."""
    public = getattr(scheme, "public", None)
    if not callable(public):
        return scheme, scheme
    cls: Any = type(scheme)
    key: bytes = scheme.to_bytes(include_secret=True)  # type: ignore[attr-defined]
    # Secret key material: it travels only to this machine's Ray actor, inside the pickled
    # ClientApp (see docs/flower.md, "HE keys in Ray actors").
    # (The CLI's Paillier keys are 2048-bit: from_bytes needs no allow_insecure.)

    def load() -> Scheme:
        built: Scheme = cls.from_bytes(key)
        return built

    server: Scheme = public()
    return server, load


def _load() -> tuple[Any, ...]:
    try:
        pf = importlib.import_module("privkit.integrations.flower")
        app = importlib.import_module("flwr.app")
        clientapp = importlib.import_module("flwr.clientapp")
        serverapp = importlib.import_module("flwr.serverapp")
        strategy = importlib.import_module("flwr.serverapp.strategy")
        simulation = importlib.import_module("flwr.simulation")
        importlib.import_module("ray")
    except ImportError as exc:
        raise BackendUnavailableError(
            f"--engine flower needs privkit.integrations.flower and flwr[simulation] "
            f"({exc.name or exc} is missing): pip install 'privkit[flower]' 'flwr[simulation]'"
        ) from None
    return pf, app, clientapp, serverapp, strategy, simulation


def run_flower(
    *,
    scheme: Scheme,
    n_clients: int,
    rounds: int,
    initial: npt.NDArray[np.float64],
    train: Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]],
    evaluate: Callable[[npt.NDArray[np.float64]], tuple[float, float]],
    on_round: Callable[[int, npt.NDArray[np.float64], Any, float], None],
) -> None:
    """Run ``rounds`` federated rounds of ``scheme`` in Flower's simulation engine.

    Args:
        scheme: the aggregation scheme: Plain, SecAgg, SecAgg+, or an HE key holder
            (CKKS, BFV, Paillier; the server then uses its public copy and the nodes
            rebuild it from its bytes).
        n_clients: SuperNodes; node ``i`` has ``partition-id`` ``i``.
        rounds: server rounds.
        initial: the initial flat model.
        train: ``train(model, partition) -> new model`` run on the node (picklable).
        evaluate: unused by Flower itself; kept for symmetry with the local engine.
        on_round: called on the server after each round with ``(round, model,
            SchemeRoundResult or None, seconds since the previous call)``.

    Raises:
        BackendUnavailableError: flwr, ray or the integration is missing.
        ProtocolError: the simulation ended without running every round.

    Security assumption: as the scheme's; all nodes run in this machine's Ray actor, and
    an HE secret key is copied (serialized) to that actor only, never to the server.
    """
    del evaluate
    pf, app, clientapp, serverapp, strategy_mod, simulation = _load()
    Array, ArrayRecord = app.Array, app.ArrayRecord
    Message, MetricRecord, RecordDict = app.Message, app.MetricRecord, app.RecordDict

    server_scheme, client_scheme = _split_keys(scheme)
    mod = pf.privkit_mod(client_scheme)
    client_app = clientapp.ClientApp(mods=[mod])

    @client_app.train()  # type: ignore[untyped-decorator]
    def _train(msg: Any, context: Any) -> Any:
        partition = int(context.node_config["partition-id"])
        model = msg.content.array_records["arrays"]["model"].numpy().astype(np.float64)
        new = train(model, partition)
        content = RecordDict(
            {
                "arrays": ArrayRecord({"model": Array(new)}),
                "metrics": MetricRecord({"num-examples": 1}),
            }
        )
        return Message(content, reply_to=msg)

    pf.register_exchange(client_app, mod)

    server_app = serverapp.ServerApp()
    done: list[int] = []

    @server_app.main()  # type: ignore[untyped-decorator]
    def _main(grid: Any, context: Any) -> None:
        inner = strategy_mod.FedAvg(
            fraction_evaluate=0.0, min_available_nodes=n_clients, min_train_nodes=n_clients
        )
        secure = pf.SecureAggregation(inner, server_scheme)
        clock = [time.perf_counter()]

        def evaluate_fn(server_round: int, arrays: Any) -> Any:
            if server_round == 0:
                clock[0] = time.perf_counter()
                return None
            now = time.perf_counter()
            model = np.asarray(arrays["model"].numpy(), dtype=np.float64)
            on_round(server_round, model, secure.rounds.get(server_round), now - clock[0])
            done.append(server_round)
            clock[0] = time.perf_counter()
            return None

        secure.start(
            grid=grid,
            initial_arrays=ArrayRecord({"model": Array(initial.copy())}),
            num_rounds=rounds,
            evaluate_fn=evaluate_fn,
        )

    # privkit simulate prints its own per-round table; keep Flower's INFO log quiet.
    logging.getLogger("flwr").setLevel(logging.WARNING)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    simulation.run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=n_clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 1, "include_dashboard": False},
        },
    )
    if len(done) != rounds:
        raise ProtocolError(
            f"the Flower simulation ran {len(done)} of {rounds} rounds; see Flower's log above"
        )
