"""An in-process Flower round for the ``e2e`` suite: the Flower path without a transport.

:func:`InProcessGrid` (from privkit.integrations._flower_local) is a Flower ``Grid``
that hands each message straight to a ``ClientApp`` in this process (no SuperLink, no
Ray, no network), so a timed round measures what the Flower path adds to privkit's
sessions: Flower's ``Message`` / ``ArrayRecord`` conversions, the strategy's
bookkeeping and the mod's dispatch.  Flower's ``Message`` constructor reads the
process's task identity, which Flower's runtimes set; :func:`set_task_identity` sets
it here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["InProcessGrid", "flower_round", "set_task_identity"]

NODE_BASE = 1_000
RUN_ID = 1


def set_task_identity() -> None:
    """Give this process Flower's task identity; quiet Flower's per-step log lines."""
    from privkit.integrations._flower_local import set_task_identity as set_identity

    set_identity(RUN_ID)
    logging.getLogger("flwr").setLevel(logging.WARNING)


def InProcessGrid(app: Any, n: int) -> Any:
    """An in-process Grid over ``n`` nodes of ``app`` (privkit.integrations._flower_local)."""
    from privkit.integrations._flower_local import local_grid

    return local_grid(app, n, node_base=NODE_BASE, run_id=RUN_ID)


def flower_round(
    updates: list[npt.NDArray[np.float32]], scheme: Any | None
) -> Callable[[], npt.NDArray[np.float32]]:
    """Build one Flower FedAvg round over ``updates`` (one per node); return the job.

    Args:
        updates: each node's trained model (what its train function returns).
        scheme: a privkit scheme (the round runs through ``SecureAggregation``), or None
            for Flower's own FedAvg.

    Returns:
        A zero-argument callable running one round and returning the new model.
    """
    from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp.strategy import FedAvg

    from privkit.integrations.flower import SecureAggregation, privkit_mod, register_exchange

    n, length = len(updates), updates[0].size
    mods = [] if scheme is None else [privkit_mod(scheme)]
    app = ClientApp(mods=mods)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        w = updates[int(context.node_config["partition-id"])]
        content = RecordDict(
            {"arrays": ArrayRecord({"w": Array(w)}), "metrics": MetricRecord({"num-examples": 1})}
        )
        return Message(content, reply_to=msg)

    if scheme is not None:
        register_exchange(app, mods[0])

    def run() -> npt.NDArray[np.float32]:
        strategy: Any = FedAvg(
            fraction_train=1.0, fraction_evaluate=0.0, min_available_nodes=n, min_train_nodes=n
        )
        if scheme is not None:
            strategy = SecureAggregation(strategy, scheme)
        result = strategy.start(
            grid=InProcessGrid(app, n),
            initial_arrays=ArrayRecord({"w": Array(np.zeros(length, np.float32))}),
            num_rounds=1,
        )
        out: npt.NDArray[np.float32] = result.arrays["w"].numpy()
        return out

    return run
